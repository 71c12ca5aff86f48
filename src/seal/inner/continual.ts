/**
 * Many contexts in one adapter, SEAL's two multi-document settings:
 *   continued pretraining  every context's sequences in one fine-tune, then every context's questions;
 *   sequential edits       one context after another into the same adapter, re-testing every context after each
 *                          edit — the forgetting matrix (row i: after edit i; column j: context j).
 * The base stays frozen; the adapter is the only thing trained.
 */
import { LoraAdapter } from '../../lora/adapter.js';
import type { Context } from '../../tasks/types.js';
import { deriveSeed } from '../../util/rng.js';
import { fitAdapter, type InnerEnv, type InnerLoopConfig } from './inner-loop.js';
import { answerQuestions, meanScore } from './qa-eval.js';

export interface ContextSequences {
  readonly context: Context;
  readonly sequences: readonly string[];
}

function accuracyOf(env: InnerEnv, adapter: LoraAdapter, c: Context): number {
  return meanScore(answerQuestions(env.model, env.tok, env.task, [c], { deltas: [adapter] }));
}

/** One adapter on all contexts' sequences at once; per-context no-context accuracy (0s if training diverged). */
export function continuedPretraining(
  env: InnerEnv,
  items: readonly ContextSequences[],
  cfg: InnerLoopConfig,
  seed: number,
): { perContext: number[]; finalLoss: number; diverged: boolean } {
  const adapter = LoraAdapter.create(env.model, cfg.lora, seed);
  try {
    const fit = fitAdapter(
      env,
      adapter,
      items.flatMap((it) => it.sequences),
      cfg,
      seed,
    );
    if (!fit.finite) return { perContext: items.map(() => 0), finalLoss: fit.finalLoss, diverged: true };
    return {
      perContext: items.map((it) => accuracyOf(env, adapter, it.context)),
      finalLoss: fit.finalLoss,
      diverged: false,
    };
  } finally {
    adapter.dispose();
  }
}

/**
 * Sequential edits into one adapter; `matrix[i][j]` = accuracy on context j after the edits of contexts 0..i
 * (j > i: not yet edited, the no-knowledge floor). A diverged edit leaves zeros from that row on.
 */
export function forgettingMatrix(
  env: InnerEnv,
  items: readonly ContextSequences[],
  cfg: InnerLoopConfig,
  seed: number,
): { matrix: number[][]; diverged: boolean } {
  const adapter = LoraAdapter.create(env.model, cfg.lora, seed);
  const matrix: number[][] = [];
  try {
    for (const [i, it] of items.entries()) {
      const fit = fitAdapter(env, adapter, it.sequences, cfg, deriveSeed('sequential-edit', seed, i));
      if (!fit.finite) {
        while (matrix.length < items.length) matrix.push(items.map(() => 0));
        return { matrix, diverged: true };
      }
      matrix.push(items.map((x) => accuracyOf(env, adapter, x.context)));
    }
    return { matrix, diverged: false };
  } finally {
    adapter.dispose();
  }
}

/** Summary of a forgetting matrix: mean accuracy of each edit right after it, at the end, and the mean drop. */
export function forgettingStats(matrix: readonly (readonly number[])[]): {
  justAfter: number;
  atEnd: number;
  drop: number;
} {
  const n = matrix.length;
  if (n === 0) return { justAfter: Number.NaN, atEnd: Number.NaN, drop: Number.NaN };
  let after = 0;
  let end = 0;
  for (let j = 0; j < n; j++) {
    after += matrix[j]![j]!;
    end += matrix[n - 1]![j]!;
  }
  return { justAfter: after / n, atEnd: end / n, drop: (after - end) / n };
}
