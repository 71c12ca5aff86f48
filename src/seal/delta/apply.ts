/**
 * How a set of edits meets an input (issue #18's stacked edits):
 *   together  every delta on every input (a single edit, the sum of n edits, a composed or LoRA edit)
 *   routed    each input — a question, a held-out text — gets the one edit its router picks (route.ts: GRACE /
 *             MELO-style scope routing), so n edits never add up on any input
 * The measures of eval.ts and stack.ts (answers, retention, drawdown) read an application, never a bare delta list,
 * so one code path scores both.
 */
import { tf } from '../../engine/tf.js';
import type { LinearDelta } from '../../model/linear.js';
import type { Context, QuestionAnswer } from '../../tasks/types.js';
import type { Batch } from '../../train/data.js';
import { lmLoss } from '../../train/step.js';
import { type AnsweredQuestion, answerQuestions, type QaOptions } from '../inner/qa-eval.js';
import type { RewardEnv } from './reward.js';

export type EditApplication =
  | { readonly kind: 'together'; readonly deltas: readonly LinearDelta[] }
  | {
      readonly kind: 'routed';
      readonly edits: readonly LinearDelta[];
      /** Index into `edits` of the edit for an input (its token ids, BOS first), or −1 (`NO_EDIT`) for none. */
      readonly route: (ids: readonly number[]) => number;
    };

export function together(deltas: readonly LinearDelta[]): EditApplication {
  return { kind: 'together', deltas };
}

/**
 * The index of the edit an input gets under a routed application, or undefined for none (no edits, or the router's
 * `NO_EDIT`, −1); any other index is a router bug and throws.
 */
function routeIndex(
  app: Extract<EditApplication, { kind: 'routed' }>,
  ids: readonly number[],
): number | undefined {
  if (app.edits.length === 0) return undefined;
  const i = app.route(ids);
  if (i === -1) return undefined;
  if (!Number.isInteger(i) || i < 0 || i >= app.edits.length)
    throw new RangeError(`router picked edit ${i} of ${app.edits.length}`);
  return i;
}

/** The deltas an input gets under `app`. */
function deltasFor(app: EditApplication, ids: readonly number[]): readonly LinearDelta[] {
  switch (app.kind) {
    case 'together':
      return app.deltas;
    case 'routed': {
      const i = routeIndex(app, ids);
      return i === undefined ? [] : [app.edits[i]!];
    }
    default: {
      const never: never = app;
      throw new Error(`unknown edit application ${String(never)}`);
    }
  }
}

/**
 * The contexts' questions answered under `app` (greedy, as `answerQuestions`). Routed: every question is routed on
 * its own prompt and the questions that share an edit are answered together (answers grouped by edit, in the order
 * the edits were first routed to; within a context, questions keep their order).
 */
export function answerUnder(
  env: RewardEnv,
  contexts: readonly Context[],
  app: EditApplication,
  opts: Pick<QaOptions, 'questions'> = {},
): AnsweredQuestion[] {
  if (app.kind === 'together')
    return answerQuestions(env.model, env.tok, env.task, contexts, { ...opts, deltas: app.deltas });
  if (new Set(contexts.map((c) => c.id)).size !== contexts.length)
    throw new Error('answerUnder: context ids must be distinct');
  // Edit index (−1: none) → context id → its questions routed there.
  const groups = new Map<number, Map<string, QuestionAnswer[]>>();
  for (const c of contexts)
    for (const q of opts.questions?.get(c.id) ?? c.questions) {
      const ids = env.tok.encode(env.task.answerPrompt(c, q), { addBos: true });
      const i = routeIndex(app, ids) ?? -1;
      const byContext = groups.get(i) ?? new Map<string, QuestionAnswer[]>();
      groups.set(i, byContext);
      byContext.set(c.id, [...(byContext.get(c.id) ?? []), q]);
    }
  return [...groups.entries()].flatMap(([i, questions]) =>
    answerQuestions(
      env.model,
      env.tok,
      env.task,
      contexts.filter((c) => questions.has(c.id)),
      { questions, deltas: i < 0 ? [] : [app.edits[i]!] },
    ),
  );
}

/**
 * Row r of a batch as a batch of one, its input tokens up to its last target (what the router reads: the whole
 * unpadded input, prompt included, of a text or a completion-only row alike) and its target weight.
 */
function batchRow(batch: Batch, r: number): { row: Batch; ids: number[]; weight: number } {
  const span = (a: Int32Array | Float32Array) => a.slice(r * batch.t, (r + 1) * batch.t);
  const row = {
    b: 1,
    t: batch.t,
    ids: span(batch.ids) as Int32Array,
    targets: span(batch.targets) as Int32Array,
    weights: span(batch.weights) as Float32Array,
  };
  let last = -1;
  let weight = 0;
  row.weights.forEach((w, j) => {
    if (w > 0) {
      last = j;
      weight += w;
    }
  });
  return { row, ids: Array.from(row.ids.subarray(0, last + 1)), weight };
}

function meanNll(env: RewardEnv, batch: Batch, deltas: readonly LinearDelta[]): number {
  return tf.tidy(() => lmLoss(env.model, batch, deltas).dataSync()[0] as number);
}

/**
 * Mean cross-entropy (nats per target token) of `batch` under `app`. Routed: each row is routed on its own tokens
 * and scored alone, and the rows are weighted by their target tokens (so a routing that sends every row to the same
 * deltas gives `together`'s value, up to rounding).
 */
export function nllUnder(env: RewardEnv, batch: Batch, app: EditApplication): number {
  if (app.kind === 'together') return meanNll(env, batch, app.deltas);
  let sum = 0;
  let weights = 0;
  for (let r = 0; r < batch.b; r++) {
    const { row, ids, weight } = batchRow(batch, r);
    if (weight === 0) continue;
    sum += weight * meanNll(env, row, deltasFor(app, ids));
    weights += weight;
  }
  // As the batch loss does (its weight sum is clamped away from 0): a batch with no targets scores 0.
  return weights === 0 ? 0 : sum / weights;
}
