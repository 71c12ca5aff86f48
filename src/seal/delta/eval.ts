/**
 * The model-editing table of delta mode (MEND/ROME's measures), each edit measured alone on the frozen base:
 *   ES         edit success: exact-match accuracy on the edited person's own questions, no passage in context
 *   PS         paraphrase success: the same facts asked in held-out wordings
 *   NS         neighbourhood stability: other held-out people's answers left unchanged (never the edited person, nor
 *              the person whose passage the shuffled control reads)
 *   retention  on people the base model knows (pretraining people, answered ~99% right): the fraction of the
 *              questions the base answers right that the edited model still answers right
 *   drawdown   change of mean cross-entropy (nats per token) on held-out text under the edit
 * with per-context rows, so every interval can be recomputed.
 */
import { tf } from '../../engine/tf.js';
import type { LinearDelta } from '../../model/linear.js';
import type { Context, QuestionAnswer } from '../../tasks/types.js';
import type { Batch } from '../../train/data.js';
import { type MeanCi, meanCi } from '../eval/stats.js';
import { type AnsweredQuestion, answerQuestions, meanScore } from '../inner/qa-eval.js';
import { answerUnder, type EditApplication, nllUnder, together } from './apply.js';
import { editText } from './embedding.js';
import type { EditGenerator } from './generator.js';
import type { RewardEnv } from './reward.js';
import { editFor, type GateWrites } from './train.js';

export interface MadeEdit {
  readonly delta: LinearDelta | undefined;
  readonly dispose?: () => void;
  /** Wall time to produce the edit (ms). */
  readonly ms: number;
  /** ‖ΔW‖²_F summed over modules, when the condition knows it (generated edits). */
  readonly magnitude?: number;
}

export interface EditCondition {
  readonly name: string;
  /** The edit for context `i` of the evaluated list. */
  make(i: number): MadeEdit;
}

export interface EditRow {
  readonly id: string;
  readonly es: number;
  readonly ps: number;
  readonly ns: number;
  readonly retention: number;
  readonly drawdown: number;
  readonly ms: number;
  /** ‖ΔW‖²_F of the edit (NaN when the condition does not report it). */
  readonly magnitude: number;
}

export interface EditScores {
  readonly es: MeanCi;
  readonly ps: MeanCi;
  readonly ns: MeanCi;
  readonly retention: MeanCi;
  readonly drawdown: MeanCi;
  /** Mean ‖ΔW‖²_F (n = 0 when the condition does not report it). */
  readonly magnitude: MeanCi;
  /** Median time to produce one edit (ms). */
  readonly editMs: number;
  readonly perContext: readonly EditRow[];
}

export interface EditEvalOptions {
  /** Paraphrased questions per context id (PS); contexts without any are skipped for PS. */
  readonly paraphrases: ReadonlyMap<string, readonly QuestionAnswer[]>;
  /** Held-out people whose answers must not change (NS); each edit is checked on `neighbours` of them. */
  readonly neighbourhood: readonly Context[];
  readonly neighbours?: number;
  /** People the base model knows (retention); each edit is checked on `knownPerEdit` of them. */
  readonly known: readonly Context[];
  readonly knownPerEdit?: number;
  /** Held-out text for the drawdown. */
  readonly heldOutText: Batch;
}

/** The context whose passage the shuffled control reads for context i of n (a derangement for n ≥ 2). */
export function shuffledSource(i: number, n: number): number {
  return (i + 1) % n;
}

/**
 * The `k` neighbours of context i: people of `neighbourhood` in a rotating order, never context i itself nor the
 * owner of the passage its shuffled control reads (whose answers that control is meant to change).
 */
export function neighbourPicks(
  i: number,
  contexts: readonly Context[],
  neighbourhood: readonly Context[],
  k: number,
): Context[] {
  const own = contexts[i]?.id;
  const shuffled = contexts[shuffledSource(i, contexts.length)]?.id;
  const hood = neighbourhood.filter((n) => n.id !== own && n.id !== shuffled);
  return Array.from({ length: Math.min(k, hood.length) }, (_, j) => hood[(i + j) % hood.length]!);
}

/** The `k` known people context i's edit is checked on: consecutive blocks of `known`, wrapping around. */
export function knownPicks(i: number, known: readonly Context[], k: number): Context[] {
  const n = Math.min(k, known.length);
  return Array.from({ length: n }, (_, j) => known[(i * n + j) % known.length]!);
}

const key = (a: Pick<AnsweredQuestion, 'contextId' | 'question'>) => `${a.contextId}\u0000${a.question}`;

/** Of the questions the base answered right (`baseRight`), the fraction still right; NaN when there are none. */
export function retained(answers: readonly AnsweredQuestion[], baseRight: ReadonlySet<string>): number {
  const asked = answers.filter((a) => baseRight.has(key(a)));
  return asked.length === 0 ? Number.NaN : asked.filter((a) => a.score > 0).length / asked.length;
}

/**
 * Retention and drawdown of an edit (or a stack of edits, together or routed): the base's right answers about known
 * people and its loss on the held-out text are measured once; edit i is checked on `knownPicks(i, known,
 * knownPerEdit)`.
 */
export function localityProbe(
  env: RewardEnv,
  known: readonly Context[],
  heldOutText: Batch,
  knownPerEdit = 4,
) {
  const baseNll = nllUnder(env, heldOutText, together([]));
  // The base scored row by row as a routed application scores it (the same value up to rounding), once.
  let baseRows: number | undefined;
  const baseNllRows = () => {
    baseRows ??= nllUnder(env, heldOutText, { kind: 'routed', edits: [], route: () => 0 });
    return baseRows;
  };
  const baseRight = new Set(
    answerQuestions(env.model, env.tok, env.task, known)
      .filter((a) => a.score > 0)
      .map(key),
  );
  return {
    retention: (i: number, app: EditApplication) =>
      retained(answerUnder(env, knownPicks(i, known, knownPerEdit), app), baseRight),
    /** Routed: each held-out row scored alone, so it is compared with the base row by row. */
    drawdown: (app: EditApplication) =>
      nllUnder(env, heldOutText, app) - (app.kind === 'routed' ? baseNllRows() : baseNll),
  };
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
  const locality = localityProbe(env, opts.known, opts.heldOutText, opts.knownPerEdit);
  // Unedited answers of the neighbourhood, once.
  const answer = (cs: readonly Context[], deltas: readonly LinearDelta[] = []) =>
    answerQuestions(env.model, env.tok, env.task, cs, { deltas });
  const baseAnswers = new Map(answer(opts.neighbourhood).map((a) => [key(a), a.prediction]));
  const out: Record<string, EditScores> = {};
  for (const cond of conditions) {
    const rows: EditRow[] = [];
    contexts.forEach((c, i) => {
      const made = cond.make(i);
      const deltas = made.delta === undefined ? [] : [made.delta];
      const app = together(deltas);
      const es = meanScore(answer([c], deltas));
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
      const answers = answer(neighbourPicks(i, contexts, opts.neighbourhood, k), deltas);
      const same = answers.filter((a) => baseAnswers.get(key(a)) === a.prediction);
      const ns = answers.length === 0 ? Number.NaN : same.length / answers.length;
      const retention = locality.retention(i, app);
      const drawdown = locality.drawdown(app);
      made.dispose?.();
      rows.push({
        id: c.id,
        es,
        ps,
        ns,
        retention,
        drawdown,
        ms: made.ms,
        magnitude: made.magnitude ?? Number.NaN,
      });
    });
    out[cond.name] = editScores(rows);
  }
  return out;
}

/** The table row of a condition from its per-context rows (NaN values, e.g. no paraphrases, left out). */
export function editScores(rows: readonly EditRow[]): EditScores {
  const stat = (k: 'es' | 'ps' | 'ns' | 'retention' | 'drawdown' | 'magnitude') =>
    meanCi(rows.map((r) => r[k]).filter((x) => !Number.isNaN(x)));
  return {
    es: stat('es'),
    ps: stat('ps'),
    ns: stat('ns'),
    retention: stat('retention'),
    drawdown: stat('drawdown'),
    magnitude: stat('magnitude'),
    editMs: median(rows.map((r) => r.ms)),
    perContext: rows,
  };
}

/**
 * Generator conditions: the edit from each context's own embedding, and the shuffled-context control; with a write
 * gate also `<name>_mode`, the same edits writing where the gate's probability exceeds ½ (train.ts `GateWrites`).
 */
export function generatorConditions(
  env: RewardEnv,
  gen: EditGenerator,
  contexts: readonly Context[],
  name: string,
): EditCondition[] {
  const from = (c: Context, writes: GateWrites = 'probability'): MadeEdit => {
    const t0 = performance.now();
    const { edit, dispose } = editFor(env, gen, editText(c), writes);
    const ms = performance.now() - t0;
    return { delta: edit, dispose, ms, magnitude: tf.tidy(() => edit.normSq().dataSync()[0]!) };
  };
  const n = contexts.length;
  return [
    { name, make: (i) => from(contexts[i]!) },
    // Another passage's embedding (a derangement): a generator that ignores its input scores the same.
    { name: `${name}_shuffled`, make: (i) => from(contexts[shuffledSource(i, n)]!) },
    ...(gen.gate === undefined
      ? []
      : [{ name: `${name}_mode`, make: (i: number) => from(contexts[i]!, 'mode') }]),
  ];
}
