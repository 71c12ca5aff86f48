/**
 * GRPO, the policy-gradient outer loop (Shao et al. 2024, DeepSeekMath), reading top to bottom like CleanRL:
 *   seed → build → for each round { pick RL contexts → sample k self-edits each → inner loop per self-edit → reward
 *   → group-normalised advantages over each context's k samples → PPO-clipped surrogate on the self-edit tokens
 *   with a KL penalty to the frozen reference (the base model without the policy adapter) → held-out accuracy →
 *   log, checkpoint }.
 * Where ReST-EM imitates each context's best self-edit, GRPO also pushes probability away from the worse ones.
 */
import { z } from 'zod';
import { fused } from '../../engine/fused.js';
import { type Tensor, type Tensor2D, tf } from '../../engine/tf.js';
import { LoraAdapter } from '../../lora/adapter.js';
import { LoraConfigSchema } from '../../lora/config.js';
import { checksum } from '../../model/params.js';
import { type Batch, completionExample, type Example, makeBatch } from '../../train/data.js';
import { addGradients } from '../../train/grads.js';
import { AdamW, clipByGlobalNorm } from '../../train/optimizer.js';
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
  type SealProblem,
  sampledCompletion,
} from './rollout.js';

export const GrpoConfigSchema = RolloutConfigSchema.extend({
  policyLora: LoraConfigSchema.default(LoraConfigSchema.parse({ r: 16, alpha: 32 })).describe(
    'The generator adapter the policy gradient trains',
  ),
  lr: z.number().positive().default(5e-4).describe('Policy learning rate (Adam)'),
  updateEpochs: z
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(2)
    .describe('Passes over a round’s samples (PPO epochs)'),
  minibatchSize: z.number().int().min(1).max(4096).default(8).describe('Self-edits per gradient step'),
  clipCoef: z.number().min(0).default(0.2).describe('PPO ratio clip ε'),
  klCoef: z
    .number()
    .min(0)
    .default(0.04)
    .describe('β of the KL penalty to the frozen reference (k3 estimator, as in GRPO)'),
  scaleRewards: z
    .boolean()
    .default(true)
    .describe(
      'Divide group advantages by the group’s reward std (GRPO); false: mean-centred only (Dr. GRPO)',
    ),
  maxGradNorm: z.number().min(0).default(1).describe('Global gradient-norm clip (0 = none)'),
});
export type GrpoConfig = z.infer<typeof GrpoConfigSchema>;

/** Group-relative advantages: (r − mean) / (std + eps) over one context's k samples (sample std, as TRL). */
export function groupAdvantages(rewards: readonly number[], scaleByStd = true, eps = 1e-4): number[] {
  const n = rewards.length;
  if (n === 0) return [];
  const mean = rewards.reduce((s, r) => s + r, 0) / n;
  const centred = rewards.map((r) => r - mean);
  if (!scaleByStd) return centred;
  const std = n > 1 ? Math.sqrt(centred.reduce((s, c) => s + c * c, 0) / (n - 1)) : 0;
  return centred.map((c) => c / (std + eps));
}

export interface TokenTerm {
  /** d(loss)/d(log π) at this token: the weight of ∇log π in the policy gradient. */
  readonly coef: number;
  /** Per-token loss: −min(ρA, clip(ρ)A) + β·k3(π, π_ref), times `scale`. */
  readonly loss: number;
  readonly clipped: boolean;
  /** k3 estimate of KL(π ‖ π_ref) at this token. */
  readonly klRef: number;
}

/**
 * One token of GRPO's objective and its derivative w.r.t. log π (ρ = π/π_old). `scale` is the token's share of the
 * batch mean (1 / (|o| · G): token mean within a sequence, mean over sequences).
 */
export function grpoTokenTerm(
  logp: number,
  oldLogp: number,
  refLogp: number,
  advantage: number,
  clipCoef: number,
  klCoef: number,
  scale: number,
): TokenTerm {
  const ratio = Math.exp(logp - oldLogp);
  const clippedRatio = Math.min(Math.max(ratio, 1 - clipCoef), 1 + clipCoef);
  const unclippedObj = ratio * advantage;
  const clippedObj = clippedRatio * advantage;
  // The min picks the clipped branch (zero gradient) only when clipping binds and lowers the objective.
  const clipped = clippedObj < unclippedObj;
  const surrogate = -Math.min(unclippedObj, clippedObj);
  const dSurrogate = clipped ? 0 : -ratio * advantage;
  const refRatio = Math.exp(refLogp - logp);
  const klRef = refRatio - (refLogp - logp) - 1;
  const dKl = 1 - refRatio;
  return {
    coef: scale * (dSurrogate + klCoef * dKl),
    loss: scale * (surrogate + klCoef * klRef),
    clipped,
    klRef,
  };
}

/** log π(target) per position of a (N, V) logits matrix: (N). */
function tokenLogProbs(flat: Tensor, targets: Tensor): Tensor {
  const [n, vocab] = flat.shape as [number, number];
  const lse = tf.reshape(tf.logSumExp(flat, -1), [n]);
  const index = tf.add(tf.mul(tf.range(0, n, 1, 'int32'), tf.scalar(vocab, 'int32')), targets);
  return tf.sub(tf.gather(tf.reshape(flat, [-1]), index), lse);
}

export interface PgSample {
  /** Prompt + sampled completion, completion tokens as targets. */
  readonly example: Example;
  readonly advantage: number;
  /** Per target position of `example` (length ids − 1): log π_old and log π_ref. */
  oldLogp?: Float32Array;
  refLogp?: Float32Array;
}

/** log π of every target of a batch under the base plus `deltas`, no gradient: (B·T). */
function batchLogProbs(
  p: Pick<SealProblem, 'env'>,
  batch: Batch,
  policy: LoraAdapter | undefined,
): Float32Array {
  const { model } = p.env;
  const t = tf.tidy(() => {
    const ids = tf.tensor2d(batch.ids, [batch.b, batch.t], 'int32') as Tensor2D;
    const logits = model.forward(ids, policy === undefined ? {} : { deltas: [policy] });
    const flat = tf.reshape(logits, [batch.b * batch.t, model.config.vocabSize]);
    return tokenLogProbs(flat, tf.tensor1d(batch.targets, 'int32'));
  });
  const out = t.dataSync() as Float32Array;
  t.dispose();
  return out;
}

function batchOf(p: Pick<SealProblem, 'env'>, samples: readonly PgSample[]): Batch {
  return makeBatch(
    samples.map((s) => s.example),
    p.env.model.config.maxSeqLen - 1,
  );
}

/** Row r, position i of a batch → the same target position of its sample. */
function scatterRows(
  batch: Batch,
  values: Float32Array,
  samples: readonly PgSample[],
  key: 'oldLogp' | 'refLogp',
) {
  samples.forEach((s, r) => {
    const len = s.example.ids.length - 1;
    s[key] = values.slice(r * batch.t, r * batch.t + len);
  });
}

/** One minibatch's gradient of GRPO's objective, and the objective's value and statistics. */
export interface GrpoStep {
  /** Gradients keyed like `policy.variables()` (caller disposes). */
  readonly grads: Map<string, Tensor>;
  /** The objective: mean over sequences of the token-mean of −min(ρA, clip(ρ)A) + β·k3(π, π_ref). */
  readonly loss: number;
  readonly tokens: number;
  readonly clippedTokens: number;
  readonly approxKlSum: number;
  readonly klRefSum: number;
}

/**
 * The gradient of GRPO's objective on one minibatch (samples carry oldLogp and refLogp). The objective is not
 * differentiated as written: its derivative w.r.t. each token's log π is computed in closed form (`grpoTokenTerm`),
 * and the gradient is then Σ coef·∇log π, taken as two weighted cross-entropies (coef < 0 and coef > 0) so the
 * fused kernel does the work. The tensor differentiated therefore has the right gradient but not the objective's
 * value; `loss` reports the objective itself. test/grpo.test.ts checks this gradient against autodiff of the plain
 * clipped-surrogate objective.
 */
export function grpoGradients(
  p: Pick<SealProblem, 'env'>,
  policy: LoraAdapter,
  chunk: readonly PgSample[],
  cfg: Pick<GrpoConfig, 'clipCoef' | 'klCoef'>,
): GrpoStep {
  const { model } = p.env;
  const vars = policy.variables();
  const names = [...vars.keys()];
  const list = names.map((n) => vars.get(n)!);
  let tokens = 0;
  let clippedTokens = 0;
  let approxKl = 0;
  let klRef = 0;
  const batch = batchOf(p, chunk);
  const n = batch.b * batch.t;
  let stepLoss = 0;
  const { value, grads } = tf.variableGrads(() => {
    const ids = tf.tensor2d(batch.ids, [batch.b, batch.t], 'int32') as Tensor2D;
    const logits = model.forward(ids, { deltas: [policy], training: true });
    const flat = tf.reshape(logits, [n, model.config.vocabSize]);
    const targets = tf.tensor1d(batch.targets, 'int32');
    const logp = tokenLogProbs(flat, targets).dataSync();
    const wPos = new Float32Array(n);
    const wNeg = new Float32Array(n);
    chunk.forEach((s, r) => {
      const len = s.example.ids.length - 1;
      const count = batch.weights.slice(r * batch.t, r * batch.t + len).reduce((a, w) => a + w, 0);
      if (count === 0) return;
      const scale = 1 / (count * chunk.length);
      for (let t = 0; t < len; t++) {
        const at = r * batch.t + t;
        if (batch.weights[at] === 0) continue;
        const lp = logp[at]!;
        const old = s.oldLogp![t]!;
        const term = grpoTokenTerm(lp, old, s.refLogp![t]!, s.advantage, cfg.clipCoef, cfg.klCoef, scale);
        stepLoss += term.loss;
        // loss = Σ coef·log π = Σ (−coef)·CE
        if (term.coef < 0) wPos[at] = -term.coef;
        else wNeg[at] = term.coef;
        tokens++;
        if (term.clipped) clippedTokens++;
        approxKl += Math.exp(lp - old) - 1 - (lp - old);
        klRef += term.klRef;
      }
    });
    const sPos = wPos.reduce((a, w) => a + w, 0);
    const sNeg = wNeg.reduce((a, w) => a + w, 0);
    const pos = tf.mul(fused.crossEntropy(flat, targets, tf.tensor1d(wPos)), sPos);
    const neg = tf.mul(fused.crossEntropy(flat, targets, tf.tensor1d(wNeg)), sNeg);
    return tf.sub(pos, neg) as tf.Scalar;
  }, list);
  value.dispose();
  const acc = new Map<string, Tensor>();
  addGradients(acc, names, list, grads);
  return { grads: acc, loss: stepLoss, tokens, clippedTokens, approxKlSum: approxKl, klRefSum: klRef };
}

/**
 * The update: `updateEpochs` passes of shuffled minibatches over the round's samples, each an AdamW step on
 * `grpoGradients` (clipped surrogate + KL penalty), clipped to `maxGradNorm`. Returns the mean objective (`loss`)
 * and statistics.
 */
export function grpoUpdate(
  p: Pick<SealProblem, 'env'>,
  policy: LoraAdapter,
  samples: PgSample[],
  cfg: GrpoConfig,
  seed: number,
): Record<string, number> {
  const mb = cfg.minibatchSize;
  // π_old (the policy that sampled) and π_ref (the frozen base), once per round
  for (let i = 0; i < samples.length; i += mb) {
    const chunk = samples.slice(i, i + mb);
    const batch = batchOf(p, chunk);
    scatterRows(batch, batchLogProbs(p, batch, policy), chunk, 'oldLogp');
    scatterRows(batch, batchLogProbs(p, batch, undefined), chunk, 'refLogp');
  }
  const opt = new AdamW(policy.variables());
  const rng = new Rng(seed);
  let steps = 0;
  let lossSum = 0;
  let tokens = 0;
  let clippedTokens = 0;
  let approxKl = 0;
  let klRef = 0;
  let gradNormSum = 0;
  policy.training = true;
  try {
    for (let epoch = 0; epoch < cfg.updateEpochs; epoch++) {
      const order = rng.shuffle(samples.map((_, i) => i));
      for (let i = 0; i < order.length; i += mb) {
        const chunk = order.slice(i, i + mb).map((j) => samples[j]!);
        const step = grpoGradients(p, policy, chunk, cfg);
        const acc = step.grads;
        const stepLoss = step.loss;
        tokens += step.tokens;
        clippedTokens += step.clippedTokens;
        approxKl += step.approxKlSum;
        klRef += step.klRefSum;
        gradNormSum += cfg.maxGradNorm > 0 ? clipByGlobalNorm(acc, cfg.maxGradNorm) : Number.NaN;
        opt.update(acc, cfg.lr);
        for (const g of acc.values()) g.dispose();
        lossSum += stepLoss;
        steps++;
      }
    }
  } finally {
    policy.training = false;
    opt.dispose();
  }
  return {
    loss: lossSum / Math.max(1, steps),
    approxKl: approxKl / Math.max(1, tokens),
    clipFrac: clippedTokens / Math.max(1, tokens),
    klRef: klRef / Math.max(1, tokens),
    gradNorm: gradNormSum / Math.max(1, steps),
    steps,
  };
}

export async function grpo(
  p: SealProblem,
  cfg: GrpoConfig,
  run?: RunDir,
  opts: OuterHooks = {},
): Promise<{ policy: LoraAdapter; rounds: RoundSummary[] }> {
  // seed → build
  const { model, tok } = p.env;
  const baseSum = checksum(model.params);
  const policy =
    opts.resume?.policy ?? LoraAdapter.create(model, cfg.policyLora, deriveSeed('policy-init', cfg.seed, 0));
  const rounds: RoundSummary[] = [...(opts.resume?.rounds ?? [])];
  const baselineOf = baselineCache(p, cfg);
  const eos = tok.eosId;
  if (rounds.length === 0)
    run?.append({
      kind: 'heldout',
      round: 0,
      ...(await monitorAccuracy(p, policy, cfg, monitorSeed(cfg))),
    });
  for (let round = rounds.length + 1; round <= cfg.rounds; round++) {
    // Each round draws from its own stream, so a round redone after a crash repeats exactly.
    const rng = new Rng(deriveSeed('round', cfg.seed, round));
    // propose n contexts × k self-edits → apply each to a temporary adapter → evaluate → reward
    const r = await rollout(p, policy, cfg, { round, rng, baselineOf, run, quiet: opts.quiet });
    // advantages: each self-edit against its context's other samples
    const { scores, lengthSlope } = rankRound(r.groups, cfg);
    const samples: PgSample[] = [];
    let active = 0;
    for (const [ci, group] of r.groups.entries()) {
      const adv = groupAdvantages(scores[ci]!, cfg.scaleRewards);
      if (adv.some((a) => a !== 0)) active++;
      group.forEach((s, i) => {
        const completion = sampledCompletion(s, eos);
        if (completion.length === 0) return;
        samples.push({
          example: completionExample(tok.encode(s.prompt, { addBos: true }), completion),
          advantage: adv[i]!,
        });
      });
    }
    // update: clipped surrogate + KL to the reference on the self-edit tokens
    const update = active > 0 ? grpoUpdate(p, policy, samples, cfg, rng.nextU32()) : { steps: 0 };
    // held-out accuracy → log → checkpoint
    rounds.push(
      await endRound(p, policy, cfg, {
        round,
        rollout: r,
        kept: active,
        previous: rounds,
        baseChecksum: baseSum,
        run,
        hooks: opts,
        update: { ...update, lengthSlope },
      }),
    );
  }
  return { policy, rounds };
}
