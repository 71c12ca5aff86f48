/**
 * ReST-EM, SEAL's outer loop (Singh et al. 2023; Zweiger et al. 2025), reading top to bottom like CleanRL:
 *   seed → build → for each round { pick RL contexts → sample k self-edits each → inner loop per self-edit
 *   (fresh LoRA on the frozen base, no-context QA) → reward → keep the best per context (or N best) → SFT the generator on
 *   the kept (prompt, self-edit) pairs → held-out accuracy → log, checkpoint }.
 * The generator is the base model plus a "policy" LoRA adapter that SFT trains; the inner loops adapt the frozen
 * base itself, so every condition (baselines, every round) injects knowledge into the same weights.
 */

import { z } from 'zod';
import { LoraAdapter } from '../../lora/adapter.js';
import { LoraConfigSchema } from '../../lora/config.js';
import { checksum } from '../../model/params.js';
import { completionExample } from '../../train/data.js';
import { fitAdapterEpochs } from '../../train/fit.js';
import { deriveSeed, Rng } from '../../util/rng.js';
import type { RunDir } from '../../util/run-dir.js';
import {
  baselineCache,
  endRound,
  monitorAccuracy,
  monitorSeed,
  type OuterHooks,
  RolloutConfigSchema,
  type RoundSummary,
  rankRound,
  rollout,
  type ScoredSelfEdit,
  type SealProblem,
  sampledCompletion,
} from './rollout.js';

export const RestEmConfigSchema = RolloutConfigSchema.extend({
  onlyPositiveGain: z
    .boolean()
    .default(true)
    .describe("Keep a context's best self-edit only if it beats the no-adaptation baseline"),
  minReward: z
    .number()
    .optional()
    .describe(
      "Keep a self-edit only if its reward exceeds this (SEAL's ARC rule, 0: every recipe that solved its task); unset: no floor",
    ),
  restartFromBase: z
    .boolean()
    .default(false)
    .describe('Re-initialise the generator each round (ReST-EM paper) instead of continuing (SEAL)'),
  policyLora: LoraConfigSchema.default(LoraConfigSchema.parse({ r: 16, alpha: 32 })).describe(
    'The generator adapter SFT trains',
  ),
  keepPerContext: z
    .number()
    .int()
    .min(1)
    .max(64)
    .default(1)
    .describe(
      "SFT on each context's N best self-edits (each must beat the baseline if onlyPositiveGain, and minReward if set)",
    ),
  sftEpochs: z.number().int().min(1).max(1000).default(4).describe('SFT passes over the kept self-edits'),
  sftLr: z.number().positive().default(1e-3).describe('SFT learning rate'),
  sftBatchSize: z.number().int().min(1).max(4096).default(8).describe('SFT sequences per step'),
});
export type RestEmConfig = z.infer<typeof RestEmConfigSchema>;

/** Which of a context's samples ReST-EM may keep (the rest of `RestEmConfig`'s keep settings). */
export interface KeepRule {
  /** The context's no-adaptation reward. */
  readonly baseline: number;
  /** A kept sample's reward must beat `baseline`. */
  readonly onlyPositiveGain: boolean;
  /** A kept sample's reward must exceed this (unset: no floor). */
  readonly minReward?: number | undefined;
}

/**
 * The `n` best samples of a context, best first: the highest selection scores (the reward unless `scores` is
 * given), earlier samples first on ties; then those the rule refuses are left out (the rule reads the raw reward):
 * one not beating the baseline (if required), one not above `minReward` (if set).
 */
export function selectTop<T extends { reward: number }>(
  samples: readonly T[],
  rule: KeepRule,
  n: number,
  scores: readonly number[] = samples.map((s) => s.reward),
): T[] {
  const order = samples.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
  return order
    .slice(0, n)
    .map((i) => samples[i]!)
    .filter((s) => !rule.onlyPositiveGain || s.reward > rule.baseline)
    .filter((s) => rule.minReward === undefined || s.reward > rule.minReward);
}

/** The best sample of a context (`selectTop` with n = 1), or undefined. */
export function selectBest<T extends { reward: number }>(
  samples: readonly T[],
  rule: KeepRule,
  scores: readonly number[] = samples.map((s) => s.reward),
): T | undefined {
  return selectTop(samples, rule, 1, scores)[0];
}

export async function restEm(
  p: SealProblem,
  cfg: RestEmConfig,
  run?: RunDir,
  opts: OuterHooks = {},
): Promise<{ policy: LoraAdapter; rounds: RoundSummary[] }> {
  // seed → build
  const { model } = p.env;
  const baseSum = checksum(model.params);
  let policy =
    opts.resume?.policy ?? LoraAdapter.create(model, cfg.policyLora, deriveSeed('policy-init', cfg.seed, 0));
  const rounds: RoundSummary[] = [...(opts.resume?.rounds ?? [])];
  const baselineOf = baselineCache(p, cfg);
  if (rounds.length === 0)
    run?.append({
      kind: 'heldout',
      round: 0,
      ...(await monitorAccuracy(p, policy, cfg, monitorSeed(cfg))),
    });
  for (let round = rounds.length + 1; round <= cfg.rounds; round++) {
    // Each round draws from its own stream, so a round redone after a crash repeats exactly.
    const rng = new Rng(deriveSeed('round', cfg.seed, round));
    if (cfg.restartFromBase && round > 1) {
      policy.dispose();
      policy = LoraAdapter.create(model, cfg.policyLora, deriveSeed('policy-init', cfg.seed, round));
    }
    // propose n contexts × k self-edits → apply each to a temporary adapter → evaluate → reward
    const r = await rollout(p, policy, cfg, { round, rng, baselineOf, run, quiet: opts.quiet });
    // keep the best self-edits per context (those the keep rule allows: beat the baseline, exceed minReward)
    const { scores, lengthSlope } = rankRound(r.groups, cfg);
    const kept: ScoredSelfEdit[] = r.groups.flatMap((group, ci) =>
      selectTop(
        group,
        { baseline: r.baselines[ci]!, onlyPositiveGain: cfg.onlyPositiveGain, minReward: cfg.minReward },
        cfg.keepPerContext,
        scores[ci]!,
      ),
    );
    const keptTokens = kept.reduce((a, k) => a + k.ids.length, 0) / Math.max(1, kept.length);
    // update: SFT the generator's adapter on the kept (prompt, self-edit) pairs, completion tokens only
    if (kept.length > 0) sft(p, policy, kept, cfg, rng.nextU32());
    // held-out accuracy → log → checkpoint
    rounds.push(
      await endRound(p, policy, cfg, {
        round,
        rollout: r,
        kept: kept.length,
        update: { lengthSlope, keptTokens },
        previous: rounds,
        baseChecksum: baseSum,
        run,
        hooks: opts,
      }),
    );
  }
  return { policy, rounds };
}

function sft(
  p: SealProblem,
  policy: LoraAdapter,
  kept: readonly ScoredSelfEdit[],
  cfg: RestEmConfig,
  seed: number,
): void {
  const { model, tok } = p.env;
  // The sampled ids, not a re-encoding of the text (see sampledCompletion); an empty self-edit teaches nothing.
  const examples = kept
    .map((k) => ({ prompt: k.prompt, completion: sampledCompletion(k, tok.eosId) }))
    .filter((k) => k.completion.length > 0)
    .map((k) => completionExample(tok.encode(k.prompt, { addBos: true }), k.completion));
  fitAdapterEpochs(model, policy, examples, {
    epochs: cfg.sftEpochs,
    batchSize: cfg.sftBatchSize,
    lr: cfg.sftLr,
    maxLen: model.config.maxSeqLen - 1,
    clipNorm: 1,
    seed,
  });
}
