/**
 * What every SEAL outer loop shares: the problem (frozen base, RL and held-out contexts, the self-edit prompt), the
 * rollout of one round (sample k self-edits per context from the generator → a fresh inner-loop adapter per
 * self-edit → no-context QA → reward), held-out accuracy, and the reward-hacking alarm. ReST-EM and GRPO differ only
 * in how they update the generator from the rewarded samples.
 */
import { z } from 'zod';
import type { LoraAdapter } from '../../lora/adapter.js';
import { checksum } from '../../model/params.js';
import type { Context } from '../../tasks/types.js';
import { Progress } from '../../util/progress.js';
import { deriveSeed, type Rng } from '../../util/rng.js';
import type { RunDir } from '../../util/run-dir.js';
import { answersInFrame, type InnerPlan, type SealDomain, scoredContext } from '../domain.js';
import { significantDrop } from '../eval/stats.js';
import { executorProgress, type InnerExecutor, runInnerJobs } from '../inner/executor.js';
import type { InnerLoopResult } from '../inner/inner-loop.js';
import { type InnerEnv, InnerLoopConfigSchema, runInnerLoop } from '../inner/inner-loop.js';
import type { InnerJob } from '../inner/job.js';
import { type SampledSelfEdit, sampleSelfEdits } from '../selfedit/generate.js';
import { ParseOptionsSchema } from '../selfedit/parse.js';

/** The settings every outer loop has: how rounds are rolled out and scored. */
export const RolloutConfigSchema = z.strictObject({
  rounds: z.number().int().min(1).max(1000).default(2).describe('Outer-loop rounds'),
  contextsPerRound: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(8)
    .describe('RL contexts sampled per round (n)'),
  samplesPerContext: z
    .number()
    .int()
    .min(1)
    .max(64)
    .default(4)
    .describe('Self-edits sampled per context (k)'),
  temperature: z.number().min(0).default(1).describe('Self-edit sampling temperature'),
  topP: z.number().gt(0).max(1).default(0.95).describe('Self-edit nucleus sampling'),
  maxNewTokens: z.number().int().min(1).max(4096).default(160).describe('Maximum self-edit length in tokens'),
  heldOutContexts: z
    .number()
    .int()
    .min(0)
    .max(10_000)
    .default(8)
    .describe('Held-out contexts evaluated after every round'),
  inner: InnerLoopConfigSchema.default(InnerLoopConfigSchema.parse({})),
  parse: ParseOptionsSchema.default(ParseOptionsSchema.parse({})),
  seed: z.number().int().min(0).default(0).describe('Seed of context choice, sampling and inner loops'),
  score: z
    .enum(['reward', 'length-neutral'])
    .default('reward')
    .describe(
      "What ranks a context's k self-edits against each other (ReST-EM keeps the best; GRPO's advantages centre on it): the reward, or the reward for its length (reward minus the round's within-context reward-per-token slope × tokens), so that writing more is not what is learned",
    ),
  lengthWeight: z
    .number()
    .min(0)
    .max(1)
    .optional()
    .describe(
      "Score length-neutral only: the fraction of the round's length slope subtracted (absent: 1, all of it). Below 1 a longer self-edit keeps part of its payoff: the linear slope prices every token like one that adds a new fact, while a repeated or wrong line adds less, so a fraction still pays for new content and not for padding",
    ),
});
export type RolloutConfig = z.infer<typeof RolloutConfigSchema>;

export interface SealProblem {
  readonly env: InnerEnv;
  readonly rlContexts: readonly Context[];
  readonly heldOut: readonly Context[];
  /** The domain: its self-edit prompt, and how a self-edit becomes an inner-loop plan (the domain seam). */
  readonly domain: SealDomain;
  /** Runs the inner loops on worker threads (same results); absent: in this thread. */
  readonly executor?: InnerExecutor;
}

export interface RoundSummary {
  readonly round: number;
  readonly meanReward: number;
  readonly meanBaseline: number;
  /** ReST-EM: self-edits kept for SFT (at most keepPerContext per context); GRPO: contexts with a non-zero advantage. */
  readonly kept: number;
  /** The monitor on validation people: seen-wording accuracy, held-out-wording accuracy, per-context values. */
  readonly heldOutAccuracy: number;
  readonly heldOutWordingAccuracy?: number;
  readonly monitor: readonly number[];
  readonly meanSelfEditTokens: number;
  readonly rewardHackingAlarm: boolean;
  /** Algorithm-specific statistics of the update (e.g. GRPO's approx-KL and clip fraction). */
  readonly update?: Record<string, number>;
}

export interface OuterHooks {
  readonly quiet?: boolean;
  /** State of the last completed round, to resume from (its policy adapter and summaries). */
  readonly resume?: { readonly policy: LoraAdapter; readonly rounds: readonly RoundSummary[] };
  /** Called after every completed round, e.g. to write a checkpoint. */
  readonly onRound?: (round: number, policy: LoraAdapter, rounds: readonly RoundSummary[]) => Promise<void>;
}

/** The monitor's significance level: the reward-hacking alarm's false-alarm rate when nothing changes. */
export const ALARM_ALPHA = 0.05;

/**
 * The alarm SEAL users need: training reward up while accuracy on validation people fell — significantly, by a
 * one-sided paired t test over the same validation people and sampling seeds (`significantDrop`, level
 * ALARM_ALPHA). A bare "lower than last round" fired in about a quarter of rounds with nothing wrong (16 people ×
 * 1 sample: a round-to-round standard error ≥ 7 points).
 */
export function rewardHackingAlarm(
  prev: Pick<RoundSummary, 'meanReward' | 'monitor'> | undefined,
  meanReward: number,
  monitor: readonly number[],
): boolean {
  if (prev === undefined || !(meanReward > prev.meanReward)) return false;
  return significantDrop(prev.monitor, monitor, ALARM_ALPHA).drop;
}

export interface MonitorResult {
  /** Mean seen-wording accuracy over the validation contexts. */
  readonly accuracy: number;
  /** Mean held-out-wording accuracy (when the contexts have held-out questions). */
  readonly heldOutWordings?: number;
  /** Per context: the mean of its seen and held-out accuracies (seen alone without held-out questions). */
  readonly perContext: readonly number[];
}

/**
 * The per-round monitor: one sampled self-edit per validation context from the current generator, trained by the
 * inner loop, scored on seen and held-out wordings. The sampling and inner-loop seeds depend only on `seed` (the
 * same in every round), so consecutive rounds are compared on common random numbers.
 */
export async function monitorAccuracy(
  p: SealProblem,
  policy: LoraAdapter | undefined,
  cfg: RolloutConfig,
  seed: number,
): Promise<MonitorResult> {
  if (p.heldOut.length === 0) return { accuracy: Number.NaN, perContext: [] };
  const edits = sampleSelfEdits(p.env.model, p.env.tok, p.heldOut, (c) => p.domain.selfEditPrompt(c), {
    k: 1,
    temperature: cfg.temperature,
    topP: cfg.topP,
    maxNewTokens: cfg.maxNewTokens,
    seed,
    ...(policy === undefined ? {} : { deltas: [policy] }),
  });
  const planned = p.heldOut.map((c, i) => ({
    context: c,
    plan: p.domain.plan(edits[i]![0]!.completion, c, cfg),
    seed: deriveSeed('monitor-inner', seed, i),
  }));
  const results = await runPlans(p, planned);
  const mean = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const heldOut = results.filter((r) => r.heldOutAccuracy !== undefined);
  return {
    accuracy: mean(results.map((r) => r.accuracy)),
    ...(heldOut.length === 0 ? {} : { heldOutWordings: mean(heldOut.map((r) => r.heldOutAccuracy ?? 0)) }),
    perContext: results.map((r) =>
      r.heldOutAccuracy === undefined ? r.accuracy : (r.accuracy + r.heldOutAccuracy) / 2,
    ),
  };
}

/** The monitor's seed: fixed for the run (common random numbers across rounds). */
export const monitorSeed = (cfg: Pick<RolloutConfig, 'seed'>): number => deriveSeed('monitor', cfg.seed);

/** An inner loop that never ran: a rejected self-edit earns the lowest reward. */
const REJECTED: InnerLoopResult = {
  accuracy: 0,
  perRepeat: [],
  finalLoss: Number.NaN,
  steps: 0,
  diverged: false,
  ms: 0,
  answers: [],
};

/**
 * Runs the planned inner loops on the problem's executor (rejected plans run nothing and score 0); results in plan
 * order. Every loop that trains planned self-edits uses it (rollouts, the monitor, the grid evaluation).
 */
export async function runPlans(
  p: SealProblem,
  planned: readonly { readonly context: Context; readonly plan: InnerPlan; readonly seed: number }[],
  onResult?: (r: InnerLoopResult) => void,
): Promise<InnerLoopResult[]> {
  const jobs: InnerJob[] = [];
  for (const j of planned)
    if (j.plan.kind === 'train')
      jobs.push({
        context: scoredContext(j.plan, j.context),
        sequences: j.plan.sequences,
        cfg: j.plan.cfg,
        seed: j.seed,
      });
  for (const j of planned) if (j.plan.kind === 'rejected') onResult?.(REJECTED);
  const ran = await runInnerJobs(p.env, jobs, p.executor, {
    ...(onResult === undefined ? {} : { onResult: (_: number, r: InnerLoopResult) => onResult(r) }),
  });
  let k = 0;
  return planned.map((j) => {
    if (j.plan.kind !== 'train') return REJECTED;
    const r = ran[k++]!;
    return j.plan.posed === undefined ? r : { ...r, answers: answersInFrame(j.plan, j.context, r.answers) };
  });
}

/** No-adaptation accuracy of a context (an inner loop on nothing), computed once per context. */
export function baselineCache(p: SealProblem, cfg: RolloutConfig): (c: Context) => number {
  const cache = new Map<string, number>();
  return (c) => {
    let b = cache.get(c.id);
    if (b === undefined) {
      b = runInnerLoop(p.env, c, [], cfg.inner, 0).accuracy;
      cache.set(c.id, b);
    }
    return b;
  };
}

/**
 * The round's length slope: the within-context least-squares slope of reward on self-edit length (each context's
 * samples centred on their own means, so contexts that are easier do not count as "longer is better"), floored at 0
 * (only length's payoff is removed; a negative slope would pay for brevity instead). 0 when no context varies in length.
 */
export function lengthSlope(groups: readonly (readonly { reward: number; tokens: number }[])[]): number {
  let sxy = 0;
  let sxx = 0;
  for (const g of groups) {
    if (g.length < 2) continue;
    const mt = g.reduce((a, s) => a + s.tokens, 0) / g.length;
    const mr = g.reduce((a, s) => a + s.reward, 0) / g.length;
    for (const s of g) {
      sxy += (s.tokens - mt) * (s.reward - mr);
      sxx += (s.tokens - mt) ** 2;
    }
  }
  return sxx > 0 ? Math.max(0, sxy / sxx) : 0;
}

/**
 * Per-sample scores within each context: the reward itself, or the reward minus what its length alone predicts
 * (`lengthSlope` × tokens). Ranked by the raw reward, the longest sample wins more often than not, and learning
 * from it teaches "write more" — which length-matched base samples do as well (issue #15).
 */
export function sampleScores(
  groups: readonly (readonly { reward: number; tokens: number }[])[],
  score: RolloutConfig['score'],
  lengthWeight = 1,
): number[][] {
  switch (score) {
    case 'reward':
      return groups.map((g) => g.map((s) => s.reward));
    case 'length-neutral': {
      const b = lengthWeight * lengthSlope(groups);
      return groups.map((g) => g.map((s) => s.reward - b * s.tokens));
    }
    default: {
      const never: never = score;
      throw new Error(`unknown score ${String(never)}`);
    }
  }
}

/** A round's samples ranked by `score` (per context, aligned with `groups`), and the round's length slope. */
export function rankRound(
  groups: readonly (readonly Pick<ScoredSelfEdit, 'reward' | 'ids'>[])[],
  cfg: Pick<RolloutConfig, 'score' | 'lengthWeight'>,
): { scores: number[][]; lengthSlope: number } {
  const rt = groups.map((g) => g.map((s) => ({ reward: s.reward, tokens: s.ids.length })));
  return { scores: sampleScores(rt, cfg.score, cfg.lengthWeight), lengthSlope: lengthSlope(rt) };
}

export interface ScoredSelfEdit extends SampledSelfEdit {
  readonly reward: number;
}

/**
 * The token ids a sampled self-edit is trained on by either outer loop: exactly the sampled ids, plus EOS only when
 * sampling ended on EOS. Re-encoding the text would train on a tokenization that was never sampled, and always
 * appending EOS would teach the generator to stop after self-edits that were cut at the length limit.
 */
export function sampledCompletion(
  s: Pick<SampledSelfEdit, 'ids' | 'finish'>,
  eosId: number | undefined,
): number[] {
  return [...s.ids, ...(s.finish === 'eos' && eosId !== undefined ? [eosId] : [])];
}

export interface Rollout {
  readonly contexts: readonly Context[];
  /** Per context, its k self-edits with their rewards. */
  readonly groups: readonly (readonly ScoredSelfEdit[])[];
  readonly baselines: readonly number[];
  readonly meanReward: number;
  readonly meanBaseline: number;
  readonly meanSelfEditTokens: number;
}

/**
 * One round's experience: n RL contexts × k self-edits from the current generator, each applied to a fresh adapter
 * on the frozen base by an inner loop and rewarded by no-context QA accuracy; one JSONL line per self-edit.
 */
/** Where a rollout sits in the run: its round, its RNG stream, the baselines, and where it logs. */
export interface RolloutOptions {
  readonly round: number;
  readonly rng: Rng;
  readonly baselineOf: (c: Context) => number;
  readonly run?: RunDir | undefined;
  readonly quiet?: boolean | undefined;
}

export async function rollout(
  p: SealProblem,
  policy: LoraAdapter,
  cfg: RolloutConfig,
  { round, rng, baselineOf, run, quiet }: RolloutOptions,
): Promise<Rollout> {
  const contexts = rng.shuffle([...p.rlContexts]).slice(0, cfg.contextsPerRound);
  const edits = sampleSelfEdits(p.env.model, p.env.tok, contexts, (c) => p.domain.selfEditPrompt(c), {
    k: cfg.samplesPerContext,
    temperature: cfg.temperature,
    topP: cfg.topP,
    maxNewTokens: cfg.maxNewTokens,
    seed: rng.nextU32(),
    deltas: [policy],
  });
  const progress = new Progress({
    total: contexts.length * cfg.samplesPerContext,
    label: `round ${round} inner loops`,
    ...(quiet === undefined ? {} : { quiet }),
  });
  // Seeds drawn in the order the sequential loop drew them, so results match with or without a pool.
  const jobs = contexts.flatMap((c, ci) =>
    edits[ci]!.map((e) => ({
      context: c,
      plan: p.domain.plan(e.completion, c, cfg),
      seed: rng.nextU32() % 1_000_000,
    })),
  );
  let done = 0;
  let liveSum = 0;
  const results = await runPlans(p, jobs, (r) => {
    liveSum += r.accuracy;
    progress.tick(1, `mean reward ${(liveSum / ++done).toFixed(3)}${executorProgress(p.executor)}`);
  });
  progress.finish();
  let k = 0;
  let rewardSum = 0;
  let tokenSum = 0;
  const baselines = contexts.map((c) => baselineOf(c));
  const groups = contexts.map((c, ci) =>
    edits[ci]!.map((e) => {
      const plan = jobs[k]!.plan;
      const r = results[k++]!;
      rewardSum += r.accuracy;
      tokenSum += e.tokens;
      run?.append({
        kind: 'selfedit',
        round,
        context: c.id,
        sample: e.sample,
        reward: r.accuracy,
        baseline: baselines[ci],
        gain: r.accuracy - baselines[ci]!,
        diverged: r.diverged,
        tokens: e.tokens,
        sequences: plan.kind === 'train' ? plan.sequences.length : 0,
        ...(plan.kind === 'rejected' ? { rejected: plan.reason } : {}),
        loss: r.finalLoss,
        ms: Math.round(r.ms),
        completion: e.completion,
        // The sampled ids and how sampling ended: what the update trains on (sampledCompletion), exactly.
        ids: e.ids,
        finish: e.finish,
      });
      return { ...e, reward: r.accuracy };
    }),
  );
  const n = Math.max(1, jobs.length);
  return {
    contexts,
    groups,
    baselines,
    meanReward: rewardSum / n,
    meanBaseline: baselines.reduce((s, b) => s + b, 0) / Math.max(1, baselines.length),
    meanSelfEditTokens: tokenSum / n,
  };
}

/** What ends a round: the rollout, the update's outcome, and what came before. */
export interface EndRoundOptions {
  readonly round: number;
  readonly rollout: Rollout;
  /** Contexts that contributed to the update (ReST-EM: kept self-edits; GRPO: non-zero advantages). */
  readonly kept: number;
  /** The finished rounds before this one (not modified). */
  readonly previous: readonly RoundSummary[];
  readonly baseChecksum: string;
  readonly run?: RunDir | undefined;
  readonly hooks: OuterHooks;
  readonly update?: Record<string, number>;
}

/**
 * Ends a round the same way for every algorithm: held-out accuracy with the updated generator, the round summary
 * (and the reward-hacking alarm) in the JSONL, the frozen-base check, then `onRound` (checkpoint). Returns the
 * summary; the caller appends it to its rounds.
 */
export async function endRound(
  p: SealProblem,
  policy: LoraAdapter,
  cfg: RolloutConfig,
  { round, rollout: r, kept, previous, baseChecksum, run, hooks: opts, update }: EndRoundOptions,
): Promise<RoundSummary> {
  const m = await monitorAccuracy(p, policy, cfg, monitorSeed(cfg));
  const summary: RoundSummary = {
    round,
    meanReward: r.meanReward,
    meanBaseline: r.meanBaseline,
    kept,
    heldOutAccuracy: m.accuracy,
    ...(m.heldOutWordings === undefined ? {} : { heldOutWordingAccuracy: m.heldOutWordings }),
    monitor: m.perContext,
    meanSelfEditTokens: r.meanSelfEditTokens,
    rewardHackingAlarm: rewardHackingAlarm(previous[previous.length - 1], r.meanReward, m.perContext),
    ...(update === undefined ? {} : { update }),
  };
  run?.append({ kind: 'round', ...summary });
  if (summary.rewardHackingAlarm && opts.quiet !== true)
    process.stderr.write(
      `WARNING round ${round}: RL reward rose but validation accuracy fell significantly (one-sided paired t test, α = ${ALARM_ALPHA}): possible reward hacking\n`,
    );
  if (checksum(p.env.model.params) !== baseChecksum)
    throw new Error('the frozen base model changed during the outer loop');
  await opts.onRound?.(round, policy, [...previous, summary]);
  return summary;
}
