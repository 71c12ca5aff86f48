import { tf } from '../../engine/tf.js';
import type { LinearDelta } from '../../model/linear.js';
import type { Context, QuestionAnswer } from '../../tasks/types.js';
import type { Batch } from '../../train/data.js';
import { lmLoss } from '../../train/step.js';
import { type MeanCi, meanCi } from '../eval/stats.js';
import { answerQuestions, meanScore } from '../inner/qa-eval.js';
import type { EditGenerator } from './generator.js';
import type { RewardEnv } from './reward.js';
import { editFor } from './train.js';

export interface MadeEdit {
  readonly delta: LinearDelta | undefined;
  readonly dispose?: () => void;
  /** Wall time to produce the edit (ms). */
  readonly ms: number;
}

export interface EditCondition {
  readonly name: string;
  /** The edit for context `i` of the evaluated list. */
  make(i: number): MadeEdit;
}

export interface EditScores {
  readonly es: MeanCi;
  readonly ps: MeanCi;
  readonly ns: MeanCi;
  readonly drawdown: MeanCi;
  /** Median time to produce one edit (ms). */
  readonly editMs: number;
  readonly perContext: readonly { id: string; es: number; ps: number; ns: number; drawdown: number }[];
}

export interface EditEvalOptions {
  /** Paraphrased questions per context id (PS); contexts without any are skipped for PS. */
  readonly paraphrases: ReadonlyMap<string, readonly QuestionAnswer[]>;
  /** Contexts whose answers must not change (NS); each edit is checked on `neighbours` of them. */
  readonly neighbourhood: readonly Context[];
  readonly neighbours?: number;
  /** Unrelated text for the drawdown. */
  readonly unrelated: Batch;
}

function nll(env: RewardEnv, batch: Batch, deltas: readonly LinearDelta[]): number {
  return tf.tidy(() => lmLoss(env.model, batch, deltas).dataSync()[0] as number);
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2;
};

export function evaluateEdits(
  env: RewardEnv,
  contexts: readonly Context[],
  conditions: readonly EditCondition[],
  opts: EditEvalOptions,
): Record<string, EditScores> {
  const k = opts.neighbours ?? 2;
  const baseNll = nll(env, opts.unrelated, []);
  // Unedited answers of the neighbourhood, once.
  const baseAnswers = new Map(
    answerQuestions(env.model, env.tok, env.task, opts.neighbourhood).map((a) => [
      `${a.contextId}\u0000${a.question}`,
      a.prediction,
    ]),
  );
  const out: Record<string, EditScores> = {};
  for (const cond of conditions) {
    const rows: { id: string; es: number; ps: number; ns: number; drawdown: number }[] = [];
    const times: number[] = [];
    contexts.forEach((c, i) => {
      const made = cond.make(i);
      times.push(made.ms);
      const deltas = made.delta === undefined ? [] : [made.delta];
      const es = meanScore(answerQuestions(env.model, env.tok, env.task, [c], { deltas }));
      const para = opts.paraphrases.get(c.id);
      const ps =
        para === undefined || para.length === 0
          ? Number.NaN
          : meanScore(
              answerQuestions(env.model, env.tok, env.task, [c], {
                deltas,
                questions: new Map([[c.id, para]]),
              }),
            );
      const hood = opts.neighbourhood.filter((n) => n.id !== c.id);
      const picked = Array.from({ length: Math.min(k, hood.length) }, (_, j) => hood[(i + j) % hood.length]!);
      const answers = answerQuestions(env.model, env.tok, env.task, picked, { deltas });
      const same = answers.filter(
        (a) => baseAnswers.get(`${a.contextId}\u0000${a.question}`) === a.prediction,
      );
      const ns = answers.length === 0 ? Number.NaN : same.length / answers.length;
      const drawdown = nll(env, opts.unrelated, deltas) - baseNll;
      made.dispose?.();
      rows.push({ id: c.id, es, ps, ns, drawdown });
    });
    const stat = (key: 'es' | 'ps' | 'ns' | 'drawdown') =>
      meanCi(rows.map((r) => r[key]).filter((x) => !Number.isNaN(x)));
    out[cond.name] = {
      es: stat('es'),
      ps: stat('ps'),
      ns: stat('ns'),
      drawdown: stat('drawdown'),
      editMs: median(times),
      perContext: rows,
    };
  }
  return out;
}

/** Generator conditions: the edit from each context's own embedding, and the shuffled-context control. */
export function generatorConditions(
  env: RewardEnv,
  gen: EditGenerator,
  contexts: readonly Context[],
  name: string,
): EditCondition[] {
  const from = (c: Context): MadeEdit => {
    const t0 = performance.now();
    const { edit, dispose } = editFor(env, gen, `${c.title}\n${c.passage}`);
    return { delta: edit, dispose, ms: performance.now() - t0 };
  };
  const n = contexts.length;
  return [
    { name, make: (i) => from(contexts[i]!) },
    // Another passage's embedding (a derangement: i → i+1): a generator that ignores its input scores the same.
    { name: `${name}_shuffled`, make: (i) => from(contexts[(i + 1) % n]!) },
  ];
}
