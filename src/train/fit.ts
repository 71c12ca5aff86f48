/**
 * The epoch loop of every adapter fine-tune — the inner loop (a fresh LoRA on a self-edit), continued pretraining
 * and sequential edits, ReST-EM's SFT of the generator: `epochs` seeded shuffles of the examples, cut into batches,
 * one AdamW step each (fresh optimizer state), stopping at the first NaN/Inf loss.
 *
 * Pretraining runs through `loop.ts` instead, on purpose: both drive the same step (`trainStep`: forward, backward,
 * clip, AdamW), but a pretraining run needs what an inner loop must not pay for — a step-indexed batch order (so a run
 * resumes at any step with the batches an uninterrupted one would see), an LR schedule, async checkpoints and a stop
 * signal — while this loop runs thousands of times per RL round, synchronously (inside worker threads), with the
 * epoch boundaries the inner-loop settings (`epochs`) are stated in.
 */
import type { LoraAdapter } from '../lora/adapter.js';
import type { Transformer } from '../model/model.js';
import { Rng } from '../util/rng.js';
import { type Example, makeBatch } from './data.js';
import { AdamW } from './optimizer.js';
import { trainStep } from './step.js';

export interface FitOptions {
  readonly epochs: number;
  readonly batchSize: number;
  readonly lr: number;
  /** Tokens per example kept (longer ones are truncated by makeBatch). */
  readonly maxLen: number;
  /** Global gradient-norm clip (0 = off). */
  readonly clipNorm: number;
  /** Seed of the shuffles. */
  readonly seed: number;
}

export interface FitResult {
  readonly finalLoss: number;
  readonly steps: number;
  /** False when a loss went NaN/Inf (the adapter is then unusable). */
  readonly finite: boolean;
}

/** Trains `adapter` (on the frozen `model`) over `examples`; the adapter is in training mode only meanwhile. */
export function fitAdapterEpochs(
  model: Transformer,
  adapter: LoraAdapter,
  examples: readonly Example[],
  o: FitOptions,
): FitResult {
  adapter.training = true;
  const vars = adapter.variables();
  const opt = new AdamW(vars);
  const rng = new Rng(o.seed);
  let finalLoss = Number.NaN;
  let steps = 0;
  try {
    for (let e = 0; e < o.epochs; e++) {
      const order = rng.shuffle(examples.map((_, i) => i));
      for (let i = 0; i < order.length; i += o.batchSize) {
        const batch = makeBatch(
          order.slice(i, i + o.batchSize).map((j) => examples[j] as Example),
          o.maxLen,
        );
        finalLoss = trainStep(model, vars, opt, [batch], o.lr, {
          deltas: [adapter],
          clipNorm: o.clipNorm,
        }).loss;
        steps++;
        if (!Number.isFinite(finalLoss)) return { finalLoss, steps, finite: false };
      }
    }
  } finally {
    opt.dispose();
    adapter.training = false;
  }
  return { finalLoss, steps, finite: true };
}
