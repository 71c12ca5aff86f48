/**
 * The policy gradient that reaches the fast weights: PPO (or REINFORCE, one epoch) over a per-token action of the
 * EditGenerator, one of
 * - `tokens`: the per-token codes (generator.fastCode = d > 0), Gaussian, below;
 * - `gate`: the write gate (generator.fastGate), Bernoulli: token t writes its keys (a_t = 1) with probability
 *   σ(h_t·g + b), or not; the learned parameters are g and b (C + 1), the part that decides where an edit writes.
 *   The edit evaluated afterwards writes with the probabilities (the mean action), as the direct gradient's gate.
 * - `gate-logit`: the same gate, Gaussian over its logit: l_t ~ N(h_t·g + b, σ²), token t writes σ(l_t) of its keys.
 *   The edit evaluated afterwards is this policy's mean action exactly (σ(h_t·g + b)), so PPO optimises the edit that
 *   is measured, where the Bernoulli policy optimises the mean reward of random 0/1 writes (session 13: PPO over
 *   Bernoulli writes 8.4 points of ES below the direct gradient on test). σ is learned (`gateLogStd` at init).
 *
 * Codes: for each context the policy samples one code per passage token,
 * c_t ~ N(h_t·M, diag σ²) (h_t: the RMS-normalised hidden state); the edit writes v_t = h_t·V_m + c_t·U_m under its
 * keys; the reward is the edit's (−answer NLL, − λ‖ΔW‖², − the cross-entropy to the base's answers on a known
 * person's questions, + exact match if weighted). The learner is rl/token-ppo (token-level clipped surrogate;
 * `samplesPerContext` edits of each drawn context, so the baseline is the leave-one-out mean of the context's other
 * edits). The latent part stays at its mean; keys K_m, values V_m and U_m and the decoder stay as the warm start
 * (if any) left them: the action is the per-token code, a part of what carries the facts.
 * Measured from a cold start on the people model (16 val people, d = 16, 2,048 edits,
 * experiments/results/session10/delta/ppo-tokens-cold-val16): at learning rate 1e-2 the first update moved the
 * code mean by many σ (approx-KL 15; rows not kept); at 1e-3 approx-KL fell from 0.17 to 0.001 over 16 updates,
 * but the answer loss did not fall and ES stayed at the shuffled control's (1.8% vs 1.6%): too few edits for a
 * 2,048-parameter map from scalar rewards. The intended use is a warm start (`--init` a direct generator).
 */
import { type Tensor2D, tf } from '../../engine/tf.js';
import {
  sampleTokenActions,
  type TokenEpisode,
  type TokenPolicy,
  TokenPpo,
  TokenPpoConfigSchema,
} from '../../rl/token-ppo.js';
import type { Context } from '../../tasks/types.js';
import type { Batch } from '../../train/data.js';
import { Progress } from '../../util/progress.js';
import { Rng } from '../../util/rng.js';
import type { EditGenerator } from './generator.js';
import { type DeltaReward, type DeltaRewardParts, deltaReward, type RewardEnv } from './reward.js';

export interface TokenItem {
  readonly context: Context;
  readonly embedding: Float32Array;
  /** (T, C) */
  readonly hidden: Tensor2D;
  readonly answers: Batch;
}

export interface TokenPgOptions {
  readonly kind: 'ppo' | 'reinforce';
  /** The per-token action: fast-weight codes (Gaussian), write gates (Bernoulli) or gate logits (Gaussian). */
  readonly action: 'tokens' | 'gate' | 'gate-logit';
  /** `gate-logit`: the initial log σ of the logits' Gaussian. */
  readonly gateLogStd?: number;
  readonly totalTimesteps: number;
  /** Episodes (edits) per update. */
  readonly batch: number;
  /** Edits sampled per context in an update (≥ 2: leave-one-out baseline within the context). */
  readonly samplesPerContext: number;
  /** The edits of one drawn context share its neighbour draw (common random numbers), or one draw per edit. */
  readonly sharedNeighbour: boolean;
  readonly updateEpochs: number;
  /** Minibatches of episodes per epoch (one Adam step each). */
  readonly numMinibatches: number;
  readonly learningRate: number;
  /** Anneal the learning rate linearly to 0 over the updates (CleanRL), or keep it constant. */
  readonly annealLr: boolean;
  readonly clipCoef: number;
  readonly vfCoef: number;
  readonly maxGradNorm: number;
  readonly targetKl: number | null;
}

export interface TokenPgLog {
  readonly update: number;
  readonly parts: DeltaRewardParts;
  readonly approxKl: number;
  readonly clipfrac: number;
  readonly explainedVariance: number;
  readonly policyLoss: number;
  readonly valueLoss: number;
  /** Codes and gate logits: the mean σ; gate: the mean write probability (over the update's tokens). */
  readonly spread: number;
  readonly entropy: number;
}

/** The policy over the generator's per-token action (a `gate-logit` policy's σ is made here: dispose it). */
function tokenPolicy(gen: EditGenerator, action: TokenPgOptions['action'], gateLogStd = 0): TokenPolicy {
  switch (action) {
    case 'tokens': {
      const code = gen.code;
      if (code === undefined)
        throw new Error('the token-level policy gradient over codes needs generator.fastCode > 0');
      return { kind: 'gaussian', mean: (obs) => gen.codeMean(obs), logStd: code.logStd, variables: [code.m] };
    }
    case 'gate': {
      const gate = gen.gate;
      if (gate === undefined)
        throw new Error('the token-level policy gradient over write gates needs generator.fastGate');
      return { kind: 'bernoulli', logits: (obs) => gen.gateLogits(obs), variables: [gate.g, gate.b] };
    }
    case 'gate-logit': {
      const gate = gen.gate;
      if (gate === undefined)
        throw new Error('the token-level policy gradient over gate logits needs generator.fastGate');
      return {
        kind: 'gaussian',
        mean: (obs) => gen.gateLogits(obs),
        // Made in a tidy so the fill is freed (the variable keeps its own copy); disposed after training.
        logStd: tf.tidy(() => tf.variable(tf.fill([1], gateLogStd), true)),
        variables: [gate.g, gate.b],
      };
    }
    default: {
      const never: never = action;
      throw new Error(`unknown token action ${JSON.stringify(never)}`);
    }
  }
}

const mean = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);

export function tokenPolicyGradient(
  env: RewardEnv,
  gen: EditGenerator,
  items: readonly TokenItem[],
  o: TokenPgOptions,
  reward: DeltaReward,
  seed: number,
  opts: {
    /** Base-target batches of known people; each edit's neighbour term reads one at random (see sharedNeighbour). */
    readonly neighbours?: readonly Batch[];
    readonly quiet?: boolean;
    readonly onUpdate?: (l: TokenPgLog) => void;
  } = {},
): void {
  // seed → build
  const rng = new Rng(seed);
  const policy = tokenPolicy(gen, o.action, o.gateLogStd);
  const learner = new TokenPpo(
    policy,
    env.model.config.dim,
    TokenPpoConfigSchema.parse({
      updateEpochs: o.kind === 'reinforce' ? 1 : o.updateEpochs,
      numMinibatches: o.kind === 'reinforce' ? 1 : o.numMinibatches,
      learningRate: o.learningRate,
      clipCoef: o.clipCoef,
      vfCoef: o.vfCoef,
      maxGradNorm: o.maxGradNorm,
      normAdv: o.batch >= 2,
      targetKl: o.kind === 'reinforce' ? null : o.targetKl,
    }),
    seed,
  );
  // The latent part at its mean, once per context (it is not the action here).
  const latents = items.map((it) =>
    tf.keep(tf.tidy(() => gen.meanLatent(tf.tensor2d(it.embedding, [1, it.embedding.length]) as Tensor2D))),
  );
  const updates = Math.max(1, Math.floor(o.totalTimesteps / o.batch));
  const progress = new Progress({
    total: updates,
    label: `delta ${o.kind} (${o.action})`,
    ...(opts.quiet === undefined ? {} : { quiet: opts.quiet }),
  });
  try {
    for (let update = 1; update <= updates; update++) {
      // propose: sample per-token codes for a batch of contexts → apply each edit → reward
      const episodes: TokenEpisode[] = [];
      const parts: DeltaRewardParts[] = [];
      let k = 0;
      const drawNeighbour = () =>
        opts.neighbours === undefined || opts.neighbours.length === 0
          ? undefined
          : opts.neighbours[rng.int(opts.neighbours.length)];
      let shared: Batch | undefined;
      for (let e = 0; e < o.batch; e++) {
        if (e % o.samplesPerContext === 0) {
          k = rng.int(items.length);
          if (o.sharedNeighbour) shared = drawNeighbour();
        }
        const it = items[k]!;
        const { actions, logProb } = sampleTokenActions(policy, it.hidden, rng);
        const t = it.hidden.shape[0];
        // Gate logits write σ(l_t); codes and 0/1 writes enter as sampled.
        const sampled = tf.tidy(() => {
          const a = tf.tensor2d(actions, [t, actions.length / t]);
          return o.action === 'gate-logit' ? (tf.sigmoid(a) as Tensor2D) : a;
        });
        // Drawn after the actions (the stream's order of session 13's runs) unless shared by the group.
        const neighbour = o.sharedNeighbour ? shared : drawNeighbour();
        const edit =
          o.action === 'tokens'
            ? gen.edit(latents[k]!, it.hidden, sampled)
            : gen.edit(latents[k]!, it.hidden, undefined, sampled);
        const p = deltaReward(env, it.context, edit, reward, {
          answers: it.answers,
          ...(neighbour === undefined ? {} : { neighbour }),
        });
        sampled.dispose();
        parts.push(p);
        episodes.push({
          obs: it.hidden,
          state: it.embedding,
          actions,
          logProb,
          reward: p.reward,
          group: Math.floor(e / o.samplesPerContext),
        });
      }
      // update (learning rate annealed linearly, as CleanRL, unless constant)
      const u = learner.update(
        episodes,
        o.annealLr ? o.learningRate * (1 - (update - 1) / updates) : o.learningRate,
      );
      const avg = (f: (p: DeltaRewardParts) => number) => mean(parts.map(f));
      const l: TokenPgLog = {
        update,
        parts: {
          reward: avg((p) => p.reward),
          nll: avg((p) => p.nll),
          accuracy: avg((p) => p.accuracy),
          magnitude: avg((p) => p.magnitude),
          locality: avg((p) => p.locality),
          neighbour: avg((p) => p.neighbour),
        },
        approxKl: u.approxKl,
        clipfrac: u.clipfrac,
        explainedVariance: u.explainedVariance,
        policyLoss: u.policyLoss,
        valueLoss: u.valueLoss,
        spread: u.spread.mean,
        entropy: u.spread.entropy,
      };
      opts.onUpdate?.(l);
      progress.tick(
        1,
        `reward ${l.parts.reward.toFixed(3)} nll ${l.parts.nll.toFixed(3)} ${o.action === 'gate' ? 'p' : 'σ'} ${l.spread.toFixed(3)}`,
      );
    }
  } finally {
    progress.finish();
    learner.dispose();
    if (o.action === 'gate-logit' && policy.kind === 'gaussian') policy.logStd.dispose();
    for (const z of latents) z.dispose();
  }
}
