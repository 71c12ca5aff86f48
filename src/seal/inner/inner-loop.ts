/**
 * SEAL's inner loop: a fresh LoRA adapter on the frozen base, fine-tuned on one self-edit's sequences, then asked
 * the context's questions without the passage. The reward is the resulting accuracy (mean over `evalTimes`
 * independent repeats). A NaN/Inf loss gives the lowest reward and is reported, not thrown: one bad self-edit must
 * not end an RL run. The base weights are never written; callers verify that with `checksum`.
 */

import { z } from 'zod';
import { LoraAdapter } from '../../lora/adapter.js';
import { LoraConfigSchema } from '../../lora/config.js';
import type { LinearDelta } from '../../model/linear.js';
import type { Transformer } from '../../model/model.js';
import type { Context, Task } from '../../tasks/types.js';
import type { Tokenizer } from '../../tokenizer/types.js';
import type { Example } from '../../train/data.js';
import { type FitResult, fitAdapterEpochs } from '../../train/fit.js';
import { deriveSeed } from '../../util/rng.js';
import { type AnsweredQuestion, answerQuestions, meanScore } from './qa-eval.js';

export const InnerLoopConfigSchema = z.strictObject({
  lora: LoraConfigSchema.default(LoraConfigSchema.parse({ r: 16, alpha: 32 })).describe(
    'LoRA adapter of each inner loop',
  ),
  epochs: z
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(20)
    .describe(
      'Passes over the self-edit sequences (20 suits the people models: 10 injected a third of oracle QA facts, 20 nearly all)',
    ),
  lr: z.number().positive().default(1e-3).describe('AdamW learning rate'),
  batchSize: z.number().int().min(1).max(4096).default(16).describe('Sequences per step'),
  seqLen: z.number().int().min(2).max(65_536).default(128).describe('Maximum tokens per sequence'),
  clipNorm: z.number().min(0).default(1).describe('Gradient-norm clip (0 = off)'),
  evalTimes: z
    .number()
    .int()
    .min(1)
    .max(64)
    .default(1)
    .describe('Independent inner loops per self-edit (reward = mean)'),
});
export type InnerLoopConfig = z.infer<typeof InnerLoopConfigSchema>;

/** The inner-loop defaults, defined once (by the schema): 20 epochs, lr 1e-3, rank 16 (alpha 32). */
export const INNER_DEFAULTS: InnerLoopConfig = InnerLoopConfigSchema.parse({});

/**
 * The three inner-loop settings commands expose as flags (and the demo config as innerEpochs/innerLr/innerRank),
 * with the schema's defaults and limits: a value out of range is an error where it is given.
 */
export const InnerLoopFlags = {
  epochs: InnerLoopConfigSchema.shape.epochs,
  lr: InnerLoopConfigSchema.shape.lr,
  rank: LoraConfigSchema.shape.r
    .unwrap()
    .default(INNER_DEFAULTS.lora.r)
    .describe('Inner-loop LoRA rank (alpha = 2 × rank)'),
} as const;

/** The inner-loop config of those three settings (alpha = 2 × rank, as the defaults). */
export function innerLoopConfig(o: { epochs: number; lr: number; rank: number }): InnerLoopConfig {
  return InnerLoopConfigSchema.parse({ epochs: o.epochs, lr: o.lr, lora: { r: o.rank, alpha: 2 * o.rank } });
}

export interface InnerEnv {
  readonly model: Transformer;
  readonly tok: Tokenizer;
  readonly task: Pick<Task, 'answerPrompt' | 'answerStop' | 'scorer'> & {
    /** Longest answer generated, in tokens (default 24: a people-world answer). Grids need a whole grid. */
    readonly answerMaxTokens?: number;
  };
}

/** A piece of a training sequence; the loss is taken on its tokens only when `train` is true. */
export interface LossSegment {
  readonly text: string;
  readonly train: boolean;
}

/**
 * One inner-loop training sequence: plain text (the loss on every token, as the knowledge domain trains) or
 * segments with loss flags (a grid recipe's `loss: outputs` trains on the output grids only).
 */
export type TrainingText = string | readonly LossSegment[];

/**
 * The example of one training sequence: BOS, its tokens, EOS. Plain text trains on every token after BOS. Segments
 * are encoded one by one (so a segment boundary is a token boundary) and each token is a target exactly when its
 * segment is trained; EOS follows the last segment's flag.
 */
export function trainingExample(tok: Tokenizer, text: TrainingText): Example {
  const eos = tok.eosId;
  if (typeof text === 'string')
    return { ids: [...tok.encode(text, { addBos: true }), ...(eos === undefined ? [] : [eos])] };
  const ids: number[] = tok.encode('', { addBos: true });
  const targetMask: number[] = ids.map(() => 0);
  for (const seg of text) {
    const part = tok.encode(seg.text);
    for (const id of part) {
      ids.push(id);
      targetMask.push(seg.train ? 1 : 0);
    }
  }
  if (eos !== undefined) {
    ids.push(eos);
    targetMask.push(text[text.length - 1]?.train === true ? 1 : 0);
  }
  return { ids, targetMask };
}

export interface InnerLoopResult {
  /** Mean no-context accuracy after adaptation (0 when training diverged). */
  readonly accuracy: number;
  /**
   * Mean accuracy on the context's held-out-wording questions (absent when it has none). Never a reward: only
   * evaluation reads it.
   */
  readonly heldOutAccuracy?: number;
  readonly perRepeat: readonly number[];
  readonly finalLoss: number;
  readonly steps: number;
  readonly diverged: boolean;
  readonly ms: number;
  readonly answers: readonly AnsweredQuestion[];
}

/** Fine-tunes a fresh adapter on `sequences`; returns it (caller disposes) or undefined if the loss went NaN/Inf. */
export function trainAdapter(
  env: InnerEnv,
  sequences: readonly TrainingText[],
  cfg: InnerLoopConfig,
  seed: number,
): { adapter: LoraAdapter | undefined; finalLoss: number; steps: number } {
  const adapter = LoraAdapter.create(env.model, cfg.lora, seed);
  const r = fitAdapter(env, adapter, sequences, cfg, seed);
  if (!r.finite) {
    adapter.dispose();
    return { adapter: undefined, finalLoss: r.finalLoss, steps: r.steps };
  }
  return { adapter, finalLoss: r.finalLoss, steps: r.steps };
}

/**
 * `cfg.epochs` passes of AdamW (fresh optimizer state) over `sequences` into an existing adapter — a fresh one
 * (the inner loop) or one that already holds earlier edits (continued pretraining, sequential edits). Stops at the
 * first NaN/Inf loss (`finite` false; the adapter is then unusable).
 */
export function fitAdapter(
  env: InnerEnv,
  adapter: LoraAdapter,
  sequences: readonly TrainingText[],
  cfg: InnerLoopConfig,
  seed: number,
): FitResult {
  const { model, tok } = env;
  const examples: Example[] = sequences.map((s) => trainingExample(tok, s));
  return fitAdapterEpochs(model, adapter, examples, {
    epochs: cfg.epochs,
    batchSize: cfg.batchSize,
    lr: cfg.lr,
    maxLen: cfg.seqLen,
    clipNorm: cfg.clipNorm,
    seed,
  });
}

export function runInnerLoop(
  env: InnerEnv,
  context: Context,
  sequences: readonly TrainingText[],
  cfg: InnerLoopConfig,
  seed: number,
): InnerLoopResult {
  const t0 = performance.now();
  const perRepeat: number[] = [];
  const heldOutPerRepeat: number[] = [];
  const hasHeldOut = (context.heldOutQuestions?.length ?? 0) > 0;
  let answers: AnsweredQuestion[] = [];
  let finalLoss = Number.NaN;
  let steps = 0;
  let diverged = false;
  const ask = (deltas: readonly LinearDelta[]) => {
    answers = answerQuestions(env.model, env.tok, env.task, [context], {
      deltas,
      heldOut: hasHeldOut,
      ...(env.task.answerMaxTokens === undefined ? {} : { maxNewTokens: env.task.answerMaxTokens }),
    });
    perRepeat.push(meanScore(answers, false));
    heldOutPerRepeat.push(meanScore(answers, true));
  };
  if (sequences.length === 0) {
    // Nothing to train on: the base model answers (greedy, so once stands for every repeat).
    ask([]);
  }
  for (let r = 0; r < cfg.evalTimes && sequences.length > 0; r++) {
    const trained = trainAdapter(env, sequences, cfg, deriveSeed('inner-repeat', seed, r));
    finalLoss = trained.finalLoss;
    steps += trained.steps;
    if (trained.adapter === undefined) {
      diverged = true;
      perRepeat.push(0);
      heldOutPerRepeat.push(0);
      continue;
    }
    ask([trained.adapter]);
    trained.adapter.dispose();
  }
  const mean = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  return {
    accuracy: mean(perRepeat),
    ...(hasHeldOut ? { heldOutAccuracy: mean(heldOutPerRepeat) } : {}),
    perRepeat,
    finalLoss,
    steps,
    diverged,
    ms: performance.now() - t0,
    answers,
  };
}
