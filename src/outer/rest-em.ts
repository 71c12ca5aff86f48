/**
 * ReST-EM, SEAL's outer loop (Singh et al. 2023; Zweiger et al. 2025), reading top to bottom like CleanRL:
 *   seed → build → for each round { pick RL contexts → sample k self-edits each → inner loop per self-edit
 *   (fresh LoRA on the frozen base, no-context QA) → reward → keep the best per context → SFT the generator on
 *   the kept (prompt, self-edit) pairs → held-out accuracy → log, checkpoint }.
 * The generator is the base model plus a "policy" LoRA adapter that SFT trains; the inner loops adapt the frozen
 * base itself, so every condition (baselines, every round) injects knowledge into the same weights.
 */
import { z } from 'zod';
import { type InnerEnv, InnerLoopConfigSchema, runInnerLoop } from '../inner/inner-loop.js';
import { type InnerLoopPool, runInnerJobs } from '../inner/pool.js';
import { LoraAdapter } from '../lora/adapter.js';
import { LoraConfigSchema } from '../lora/config.js';
import { checksum } from '../model/params.js';
import { Progress } from '../report/progress.js';
import type { RunDir } from '../report/run.js';
import { sampleSelfEdits } from '../selfedit/generate.js';
import { ParseOptionsSchema, selfEditSequences } from '../selfedit/parse.js';
import type { Context } from '../tasks/types.js';
import { completionExample, makeBatch } from '../train/data.js';
import { AdamW } from '../train/optimizer.js';
import { trainStep } from '../train/step.js';
import { Rng } from '../util/rng.js';

export const RestEmConfigSchema = z.object({
  rounds: z.number().int().min(1).default(2).describe('Outer-loop rounds'),
  contextsPerRound: z.number().int().min(1).default(8).describe('RL contexts sampled per round (n)'),
  samplesPerContext: z.number().int().min(1).default(4).describe('Self-edits sampled per context (k)'),
  temperature: z.number().min(0).default(1).describe('Self-edit sampling temperature'),
  topP: z.number().gt(0).max(1).default(0.95).describe('Self-edit nucleus sampling'),
  maxNewTokens: z.number().int().min(1).default(160).describe('Maximum self-edit length in tokens'),
  onlyPositiveGain: z
    .boolean()
    .default(true)
    .describe("Keep a context's best self-edit only if it beats the no-adaptation baseline"),
  restartFromBase: z
    .boolean()
    .default(false)
    .describe('Re-initialise the generator each round (ReST-EM paper) instead of continuing (SEAL)'),
  policyLora: LoraConfigSchema.default(LoraConfigSchema.parse({ r: 16, alpha: 32 })).describe(
    'The generator adapter SFT trains',
  ),
  sftEpochs: z.number().int().min(1).default(4).describe('SFT passes over the kept self-edits'),
  sftLr: z.number().positive().default(1e-3).describe('SFT learning rate'),
  sftBatchSize: z.number().int().min(1).default(8).describe('SFT sequences per step'),
  heldOutContexts: z
    .number()
    .int()
    .min(0)
    .default(8)
    .describe('Held-out contexts evaluated after every round'),
  inner: InnerLoopConfigSchema.default(InnerLoopConfigSchema.parse({})),
  parse: ParseOptionsSchema.default(ParseOptionsSchema.parse({})),
  seed: z.number().int().min(0).default(0).describe('Seed of context choice, sampling and inner loops'),
});
export type RestEmConfig = z.infer<typeof RestEmConfigSchema>;

export interface SealProblem {
  readonly env: InnerEnv;
  readonly rlContexts: readonly Context[];
  readonly heldOut: readonly Context[];
  /** The self-edit prompt for a context (e.g. SEAL's "implications" prompt). */
  readonly prompt: (c: Context) => string;
  /** Runs the inner loops on worker threads (same results); absent: in this thread. */
  readonly pool?: InnerLoopPool;
}

export interface RoundSummary {
  readonly round: number;
  readonly meanReward: number;
  readonly meanBaseline: number;
  readonly kept: number;
  readonly heldOutAccuracy: number;
  readonly meanSelfEditTokens: number;
  readonly rewardHackingAlarm: boolean;
}

/** Best sample per context: highest reward, first on ties; undefined when it does not beat the baseline (if required). */
export function selectBest<T extends { reward: number }>(
  samples: readonly T[],
  baseline: number,
  onlyPositiveGain: boolean,
): T | undefined {
  let best: T | undefined;
  for (const s of samples) if (best === undefined || s.reward > best.reward) best = s;
  if (best === undefined) return undefined;
  return onlyPositiveGain && best.reward <= baseline ? undefined : best;
}

/** The alarm SEAL users need: training reward up while held-out accuracy goes down. */
export function rewardHackingAlarm(
  prev: RoundSummary | undefined,
  meanReward: number,
  heldOut: number,
): boolean {
  return prev !== undefined && meanReward > prev.meanReward && heldOut < prev.heldOutAccuracy;
}

/** Mean held-out accuracy with one sampled self-edit per context from the current generator. */
export async function heldOutAccuracy(
  p: SealProblem,
  policy: LoraAdapter | undefined,
  cfg: RestEmConfig,
  seed: number,
): Promise<number> {
  if (p.heldOut.length === 0) return Number.NaN;
  const edits = sampleSelfEdits(p.env.model, p.env.tok, p.heldOut, p.prompt, {
    k: 1,
    temperature: cfg.temperature,
    topP: cfg.topP,
    maxNewTokens: cfg.maxNewTokens,
    seed,
    ...(policy === undefined ? {} : { deltas: [policy] }),
  });
  const jobs = p.heldOut.map((c, i) => ({
    context: c,
    sequences: selfEditSequences(edits[i]![0]!.completion, c, cfg.parse),
    cfg: cfg.inner,
    seed: seed + i,
  }));
  const results = await runInnerJobs(p.env, jobs, p.pool);
  return results.reduce((s, r) => s + r.accuracy, 0) / p.heldOut.length;
}

export interface RestEmHooks {
  readonly quiet?: boolean;
  /** State of the last completed round, to resume from (its policy adapter and summaries). */
  readonly resume?: { readonly policy: LoraAdapter; readonly rounds: readonly RoundSummary[] };
  /** Called after every completed round, e.g. to write a checkpoint. */
  readonly onRound?: (round: number, policy: LoraAdapter, rounds: readonly RoundSummary[]) => Promise<void>;
}

export async function restEm(
  p: SealProblem,
  cfg: RestEmConfig,
  run?: RunDir,
  opts: RestEmHooks = {},
): Promise<{ policy: LoraAdapter; rounds: RoundSummary[] }> {
  // seed → build
  const { model, tok } = p.env;
  const baseSum = checksum(model.params);
  let policy = opts.resume?.policy ?? LoraAdapter.create(model, cfg.policyLora, cfg.seed + 1);
  const rounds: RoundSummary[] = [...(opts.resume?.rounds ?? [])];
  const baselineCache = new Map<string, number>();
  const baselineOf = (c: Context) => {
    let b = baselineCache.get(c.id);
    if (b === undefined) {
      b = runInnerLoop(p.env, c, [], cfg.inner, 0).accuracy;
      baselineCache.set(c.id, b);
    }
    return b;
  };
  if (rounds.length === 0)
    run?.append({
      kind: 'heldout',
      round: 0,
      accuracy: await heldOutAccuracy(p, policy, cfg, cfg.seed + 999),
    });
  for (let round = rounds.length + 1; round <= cfg.rounds; round++) {
    // Each round draws from its own stream, so a round redone after a crash repeats exactly.
    const rng = new Rng((cfg.seed * 1_000_003 + round) >>> 0);
    if (cfg.restartFromBase && round > 1) {
      policy.dispose();
      policy = LoraAdapter.create(model, cfg.policyLora, cfg.seed + round);
    }
    // propose: n contexts × k self-edits from the current generator
    const contexts = rng.shuffle([...p.rlContexts]).slice(0, cfg.contextsPerRound);
    const edits = sampleSelfEdits(model, tok, contexts, p.prompt, {
      k: cfg.samplesPerContext,
      temperature: cfg.temperature,
      topP: cfg.topP,
      maxNewTokens: cfg.maxNewTokens,
      seed: rng.nextU32(),
      deltas: [policy],
    });
    // apply each to a temporary adapter, evaluate, reward
    const progress = new Progress({
      total: contexts.length * cfg.samplesPerContext,
      label: `round ${round} inner loops`,
      ...(opts.quiet === undefined ? {} : { quiet: opts.quiet }),
    });
    const kept: { prompt: string; completion: string }[] = [];
    let rewardSum = 0;
    let baselineSum = 0;
    let tokenSum = 0;
    // Seeds drawn in the order the sequential loop drew them, so results match with or without a pool.
    const jobs = contexts.flatMap((c, ci) =>
      edits[ci]!.map((e) => ({
        context: c,
        sequences: selfEditSequences(e.completion, c, cfg.parse),
        cfg: cfg.inner,
        seed: rng.nextU32() % 1_000_000,
      })),
    );
    let done = 0;
    let liveSum = 0;
    const results = await runInnerJobs(p.env, jobs, p.pool, {
      onResult: (_, r) => {
        liveSum += r.accuracy;
        progress.tick(1, `mean reward ${(liveSum / ++done).toFixed(3)}`);
      },
    });
    let k = 0;
    for (const [ci, c] of contexts.entries()) {
      const baseline = baselineOf(c);
      baselineSum += baseline;
      const scored = edits[ci]!.map((e) => {
        const seqs = jobs[k]!.sequences;
        const r = results[k++]!;
        rewardSum += r.accuracy;
        tokenSum += e.tokens;
        run?.append({
          kind: 'selfedit',
          round,
          context: c.id,
          sample: e.sample,
          reward: r.accuracy,
          baseline,
          gain: r.accuracy - baseline,
          diverged: r.diverged,
          tokens: e.tokens,
          sequences: seqs.length,
          loss: r.finalLoss,
          ms: Math.round(r.ms),
          completion: e.completion,
        });
        return { ...e, reward: r.accuracy };
      });
      const best = selectBest(scored, baseline, cfg.onlyPositiveGain);
      if (best !== undefined) kept.push({ prompt: best.prompt, completion: best.completion });
    }
    progress.finish();
    // update: SFT the generator's adapter on the kept (prompt, self-edit) pairs, completion tokens only
    if (kept.length > 0) sft(p, policy, kept, cfg, rng.nextU32());
    const n = contexts.length * cfg.samplesPerContext;
    const meanReward = rewardSum / n;
    const heldOut = await heldOutAccuracy(p, policy, cfg, cfg.seed + 999 + round);
    const summary: RoundSummary = {
      round,
      meanReward,
      meanBaseline: baselineSum / contexts.length,
      kept: kept.length,
      heldOutAccuracy: heldOut,
      meanSelfEditTokens: tokenSum / n,
      rewardHackingAlarm: rewardHackingAlarm(rounds[rounds.length - 1], meanReward, heldOut),
    };
    rounds.push(summary);
    run?.append({ kind: 'round', ...summary });
    if (summary.rewardHackingAlarm && opts.quiet !== true)
      process.stderr.write(
        `WARNING round ${round}: RL reward rose but held-out accuracy fell (possible reward hacking)\n`,
      );
    if (checksum(model.params) !== baseSum)
      throw new Error('the frozen base model changed during the outer loop');
    await opts.onRound?.(round, policy, rounds);
  }
  return { policy, rounds };
}

function sft(
  p: SealProblem,
  policy: LoraAdapter,
  kept: readonly { prompt: string; completion: string }[],
  cfg: RestEmConfig,
  seed: number,
): void {
  const { model, tok } = p.env;
  const eos = tok.eosId;
  const examples = kept.map((k) =>
    completionExample(tok.encode(k.prompt, { addBos: true }), [
      ...tok.encode(k.completion),
      ...(eos === undefined ? [] : [eos]),
    ]),
  );
  const vars = policy.variables();
  const opt = new AdamW(vars, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 });
  const rng = new Rng(seed);
  policy.training = true;
  try {
    for (let e = 0; e < cfg.sftEpochs; e++) {
      const order = rng.shuffle(examples.map((_, i) => i));
      for (let i = 0; i < order.length; i += cfg.sftBatchSize) {
        const batch = makeBatch(
          order.slice(i, i + cfg.sftBatchSize).map((j) => examples[j]!),
          model.config.maxSeqLen - 1,
        );
        trainStep(model, vars, opt, [batch], cfg.sftLr, { deltas: [policy], clipNorm: 1 });
      }
    }
  } finally {
    policy.training = false;
    opt.dispose();
  }
}
