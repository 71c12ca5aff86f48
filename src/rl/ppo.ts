/**
 * PPO (Schulman et al. 2017) following CleanRL's ppo.py line for line: same hyperparameters, same GAE loop, same
 * loss terms, same minibatch/epoch structure, grad-norm clipping and optional target-KL early stop. The pure pieces
 * (GAE, losses, diagnostics) are exported for tests and for the EditGenerator, which reuses `trainPpo` with a
 * Gaussian policy and single-step episodes.
 *
 * Deliberate differences from CleanRL: rollout inference runs in plain JS over a per-update weight snapshot (tfjs
 * dispatch on 4 rows is the bottleneck otherwise); GAE is computed in float64; random streams come from our Rng,
 * so runs are reproducible here but not bit-identical to torch's.
 */

import { z } from 'zod';
import { tf } from '../engine/tf.js';
import { SealError } from '../errors.js';
import { AdamW, clipByGlobalNorm, defaultAdamW } from '../train/optimizer.js';
import { Rng } from '../util/rng.js';
import type { ActorCritic } from './policy.js';

const int = (min: number) => z.number().int().min(min);

export const PpoConfigSchema = z
  .object({
    seed: int(0)
      .default(1)
      .describe('Seed of the run: env resets, network init, action sampling, minibatch order'),
    totalTimesteps: int(1)
      .default(500_000)
      .describe('Total env steps; runs floor(totalTimesteps / batchSize) updates'),
    learningRate: z.number().positive().default(2.5e-4).describe('Adam learning rate (initial, if annealed)'),
    annealLr: z.boolean().default(true).describe('Decay the learning rate linearly to 0 over the updates'),
    numEnvs: int(1).default(4).describe('Parallel environments stepped in lockstep'),
    numSteps: int(1).default(128).describe('Steps per environment in each rollout'),
    gamma: z.number().min(0).max(1).default(0.99).describe('Discount factor'),
    gaeLambda: z.number().min(0).max(1).default(0.95).describe('λ of generalised advantage estimation'),
    numMinibatches: int(1).default(4).describe('Minibatches the rollout batch is split into'),
    updateEpochs: int(1).default(4).describe('Passes (epochs) over the rollout batch per update'),
    normAdv: z.boolean().default(true).describe('Normalise advantages per minibatch (mean 0, std 1)'),
    clipCoef: z.number().positive().default(0.2).describe('Surrogate (and value) clipping coefficient ε'),
    clipVloss: z.boolean().default(true).describe('Use the clipped value loss, as in the PPO paper'),
    entCoef: z.number().min(0).default(0.01).describe('Entropy bonus coefficient'),
    vfCoef: z.number().min(0).default(0.5).describe('Value loss coefficient'),
    maxGradNorm: z.number().positive().default(0.5).describe('Global gradient-norm clip'),
    targetKl: z
      .number()
      .positive()
      .nullable()
      .default(null)
      .describe('Stop the epochs of an update once approx-KL exceeds this; null disables'),
    adamEps: z
      .number()
      .positive()
      .default(1e-5)
      .describe('Adam epsilon (CleanRL uses 1e-5, not torch’s 1e-8)'),
  })
  .strict()
  .superRefine((c, ctx) => {
    const batch = c.numEnvs * c.numSteps;
    if (batch % c.numMinibatches !== 0)
      ctx.addIssue({
        code: 'custom',
        path: ['numMinibatches'],
        message: `batch size ${batch} (numEnvs × numSteps) is not divisible by numMinibatches ${c.numMinibatches}`,
      });
    else if (c.normAdv && batch / c.numMinibatches < 2)
      ctx.addIssue({
        code: 'custom',
        path: ['numMinibatches'],
        message: 'advantage normalisation needs minibatches of at least 2 samples',
      });
    if (c.totalTimesteps < batch)
      ctx.addIssue({
        code: 'custom',
        path: ['totalTimesteps'],
        message: `totalTimesteps ${c.totalTimesteps} is below one batch (${batch})`,
      });
  });

export type PpoConfig = z.infer<typeof PpoConfigSchema>;
export type PpoConfigInput = z.input<typeof PpoConfigSchema>;

export function parsePpoConfig(raw: unknown, where = 'ppo config'): PpoConfig {
  const r = PpoConfigSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new SealError(`invalid field ${issue?.path.join('.') || '(root)'}: ${issue?.message}`, where);
  }
  return r.data;
}

// ---------------------------------------------------------------------------------------------------------------
// Environments

/** One finished episode, as gymnasium's RecordEpisodeStatistics reports it. */
export interface EpisodeStat {
  readonly env: number;
  readonly return: number;
  readonly length: number;
}

export interface VecStepResult {
  /** [numEnvs, obsDim]; for envs whose episode just ended, the first observation of the next one (auto-reset). */
  readonly obs: Float32Array;
  readonly rewards: ArrayLike<number>;
  readonly terminations: ArrayLike<number | boolean>;
  readonly truncations: ArrayLike<number | boolean>;
  readonly episodes: readonly EpisodeStat[];
}

/** gymnasium.vector.SyncVectorEnv's contract (same-step auto-reset); `step` may be async (e.g. QA rewards). */
export interface VectorEnv {
  readonly numEnvs: number;
  readonly obsDim: number;
  reset(): Float32Array | Promise<Float32Array>;
  step(actions: Float32Array): VecStepResult | Promise<VecStepResult>;
  close?(): void | Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------------
// Pure pieces

/**
 * CleanRL's GAE loop. Arrays are [numSteps, numEnvs] row-major; `dones[t]` says the observation at t started a new
 * episode (CleanRL stores next_done before stepping), so step t's bootstrap is masked by dones[t+1] (or nextDone
 * after the last step). CleanRL sets next_done = terminations | truncations, so a truncated episode is not
 * bootstrapped from its final state either; we replicate that.
 */
export function computeGae(
  rewards: ArrayLike<number>,
  values: ArrayLike<number>,
  dones: ArrayLike<number>,
  nextValue: ArrayLike<number>,
  nextDone: ArrayLike<number>,
  gamma: number,
  gaeLambda: number,
): { advantages: Float64Array; returns: Float64Array } {
  const numEnvs = nextValue.length;
  const numSteps = rewards.length / numEnvs;
  if (!Number.isInteger(numSteps) || values.length !== rewards.length || dones.length !== rewards.length) {
    throw new Error(
      `computeGae: lengths ${rewards.length}/${values.length}/${dones.length} vs ${numEnvs} envs`,
    );
  }
  const advantages = new Float64Array(rewards.length);
  for (let e = 0; e < numEnvs; e++) {
    let lastgaelam = 0;
    for (let t = numSteps - 1; t >= 0; t--) {
      let nextnonterminal: number;
      let nextvalues: number;
      if (t === numSteps - 1) {
        nextnonterminal = 1 - nextDone[e]!;
        nextvalues = nextValue[e]!;
      } else {
        nextnonterminal = 1 - dones[(t + 1) * numEnvs + e]!;
        nextvalues = values[(t + 1) * numEnvs + e]!;
      }
      const i = t * numEnvs + e;
      const delta = rewards[i]! + gamma * nextvalues * nextnonterminal - values[i]!;
      lastgaelam = delta + gamma * gaeLambda * nextnonterminal * lastgaelam;
      advantages[i] = lastgaelam;
    }
  }
  const returns = new Float64Array(rewards.length);
  for (let i = 0; i < returns.length; i++) returns[i] = advantages[i]! + values[i]!;
  return { advantages, returns };
}

/** (A − mean) / (std + 1e-8) with torch's default unbiased (n − 1) std. */
export function normalizeAdvantages(adv: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const n = adv.shape[0];
    const centred = tf.sub(adv, tf.mean(adv));
    const std = tf.sqrt(tf.div(tf.sum(tf.square(centred)), n - 1));
    return tf.div(centred, tf.add(std, 1e-8));
  });
}

/** L^CLIP as a loss: mean(max(−A·r, −A·clip(r, 1−ε, 1+ε))). */
export function clippedSurrogateLoss(
  ratio: tf.Tensor1D,
  advantages: tf.Tensor1D,
  clipCoef: number,
): tf.Scalar {
  return tf.tidy(() => {
    const pgLoss1 = tf.mul(tf.neg(advantages), ratio);
    const pgLoss2 = tf.mul(tf.neg(advantages), tf.clipByValue(ratio, 1 - clipCoef, 1 + clipCoef));
    return tf.mean(tf.maximum(pgLoss1, pgLoss2));
  });
}

/**
 * ½·mean((V − R)²), or with clipVloss ½·mean(max((V − R)², (V_old + clip(V − V_old, −ε, ε) − R)²)) as CleanRL
 * (ε is clipCoef, in return units).
 */
export function valueLoss(
  newValue: tf.Tensor1D,
  returns: tf.Tensor1D,
  oldValues: tf.Tensor1D,
  clipCoef: number,
  clipVloss: boolean,
): tf.Scalar {
  return tf.tidy(() => {
    const unclipped = tf.square(tf.sub(newValue, returns));
    if (!clipVloss) return tf.mul(tf.mean(unclipped), 0.5);
    const vClipped = tf.add(oldValues, tf.clipByValue(tf.sub(newValue, oldValues), -clipCoef, clipCoef));
    const clipped = tf.square(tf.sub(vClipped, returns));
    return tf.mul(tf.mean(tf.maximum(unclipped, clipped)), 0.5);
  });
}

/** Mean entropy of the policy over the minibatch (the bonus term, before entCoef). */
export function entropyBonus(entropy: tf.Tensor1D): tf.Scalar {
  return tf.mean(entropy);
}

/** k3 estimator of KL(old‖new), http://joschu.net/blog/kl-approx.html: mean((r − 1) − log r). */
export function approxKl(logRatio: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.sub(tf.sub(tf.exp(logRatio), 1), logRatio)));
}

/** k1 estimator, mean(−log r), logged by CleanRL as old_approx_kl. */
export function oldApproxKl(logRatio: tf.Tensor1D): tf.Scalar {
  return tf.mean(tf.neg(logRatio));
}

/** Fraction of samples whose ratio left [1 − ε, 1 + ε]. */
export function clipFraction(ratio: tf.Tensor1D, clipCoef: number): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.cast(tf.greater(tf.abs(tf.sub(ratio, 1)), clipCoef), 'float32')));
}

/** 1 − Var(y − ŷ)/Var(y) with population variances (numpy's np.var); NaN when Var(y) = 0, as CleanRL. */
export function explainedVariance(yPred: ArrayLike<number>, yTrue: ArrayLike<number>): number {
  const n = yTrue.length;
  const variance = (f: (i: number) => number): number => {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += f(i);
    mean /= n;
    let s = 0;
    for (let i = 0; i < n; i++) s += (f(i) - mean) ** 2;
    return s / n;
  };
  const varY = variance((i) => yTrue[i]!);
  if (varY === 0) return Number.NaN;
  return 1 - variance((i) => yTrue[i]! - yPred[i]!) / varY;
}

// ---------------------------------------------------------------------------------------------------------------
// Trainer

export interface UpdateLog {
  readonly update: number;
  readonly globalStep: number;
  readonly learningRate: number;
  /** Loss terms and KLs of the last minibatch run, as CleanRL logs them. */
  readonly valueLoss: number;
  readonly policyLoss: number;
  readonly entropy: number;
  readonly oldApproxKl: number;
  readonly approxKl: number;
  /** Mean over every minibatch of the update. */
  readonly clipfrac: number;
  readonly explainedVariance: number;
  readonly epochs: number;
  readonly sps: number;
}

export interface EpisodeRecord extends EpisodeStat {
  readonly globalStep: number;
}

export interface PpoSetup<P extends ActorCritic> {
  makeEnvs(numEnvs: number, seed: number): VectorEnv;
  makeAgent(envs: VectorEnv, rng: Rng): P;
  onUpdate?(log: UpdateLog): void;
  onEpisode?(episode: EpisodeRecord): void;
}

export interface PpoResult<P extends ActorCritic> {
  readonly config: PpoConfig;
  /** The trained agent; the caller disposes it. */
  readonly agent: P;
  readonly episodes: EpisodeRecord[];
  readonly updates: UpdateLog[];
  readonly globalStep: number;
  readonly wallS: number;
}

interface Minibatch {
  readonly obs: tf.Tensor2D;
  readonly actions: tf.Tensor2D;
  readonly logprobs: tf.Tensor1D;
  readonly advantages: tf.Tensor1D;
  readonly returns: tf.Tensor1D;
  readonly values: tf.Tensor1D;
}

/** CleanRL's per-minibatch diagnostics (float32 values, as logged). */
export interface MinibatchStats {
  readonly policyLoss: number;
  readonly valueLoss: number;
  readonly entropy: number;
  readonly oldApproxKl: number;
  readonly approxKl: number;
  readonly clipfrac: number;
}

const NO_STATS: MinibatchStats = {
  policyLoss: 0,
  valueLoss: 0,
  entropy: 0,
  oldApproxKl: 0,
  approxKl: 0,
  clipfrac: 0,
};

/** Applies one clipped Adam step on a minibatch; returns its diagnostics. */
function ppoMinibatchStep(
  agent: ActorCritic,
  optimizer: AdamW,
  mb: Minibatch,
  args: PpoConfig,
  lr: number,
): MinibatchStats {
  let stats = NO_STATS;
  const grads = new Map<string, tf.Tensor>();
  tf.tidy(() => {
    const { grads: g } = tf.variableGrads(() => {
      const { logProb: newlogprob, entropy, value: newvalue } = agent.evaluate(mb.obs, mb.actions);
      const logratio = tf.sub(newlogprob, mb.logprobs) as tf.Tensor1D;
      const ratio = tf.exp(logratio) as tf.Tensor1D;
      const mbAdvantages = args.normAdv ? normalizeAdvantages(mb.advantages) : mb.advantages;
      const pgLoss = clippedSurrogateLoss(ratio, mbAdvantages, args.clipCoef);
      const vLoss = valueLoss(newvalue, mb.returns, mb.values, args.clipCoef, args.clipVloss);
      const entropyLoss = entropyBonus(entropy);
      const loss = tf.add(tf.sub(pgLoss, tf.mul(entropyLoss, args.entCoef)), tf.mul(vLoss, args.vfCoef));
      // Read the diagnostics now: the gradient tape disposes its intermediates when this closure returns.
      const diag = [pgLoss, vLoss, entropyLoss, oldApproxKl(logratio), approxKl(logratio)];
      const d = tf.stack(diag).dataSync();
      stats = {
        policyLoss: d[0]!,
        valueLoss: d[1]!,
        entropy: d[2]!,
        oldApproxKl: d[3]!,
        approxKl: d[4]!,
        clipfrac: Math.fround(clipFraction(ratio, args.clipCoef).dataSync()[0]!),
      };
      return loss as tf.Scalar;
    }, [...agent.trainable]);
    for (const v of agent.trainable) {
      const gv = g[v.name];
      if (gv === undefined) throw new Error(`ppo: no gradient for variable ${v.name}`);
      grads.set(v.name, tf.keep(gv));
    }
  });
  // clip_grad_norm_ then optimizer.step(), as CleanRL.
  clipByGlobalNorm(grads, args.maxGradNorm);
  optimizer.update(grads, lr);
  for (const gv of grads.values()) gv.dispose();
  return stats;
}

/** Gathers rows `inds` of a [N, width] array. */
function gatherRows(src: Float32Array | Float64Array, width: number, inds: ArrayLike<number>): Float32Array {
  const out = new Float32Array(inds.length * width);
  for (let k = 0; k < inds.length; k++) {
    const from = inds[k]! * width;
    for (let j = 0; j < width; j++) out[k * width + j] = src[from + j]!;
  }
  return out;
}

export async function trainPpo<P extends ActorCritic>(
  config: PpoConfigInput,
  setup: PpoSetup<P>,
): Promise<PpoResult<P>> {
  const args = parsePpoConfig(config);
  const batchSize = args.numEnvs * args.numSteps;
  const minibatchSize = batchSize / args.numMinibatches;
  const numUpdates = Math.floor(args.totalTimesteps / batchSize);

  // Seeding: one root stream, split so that e.g. a different minibatch order leaves the action samples alone.
  const rng = new Rng(args.seed);
  const initRng = rng.fork(1);
  const actionRng = rng.fork(2);
  const shuffleRng = rng.fork(3);

  // Env and agent setup.
  const envs = setup.makeEnvs(args.numEnvs, args.seed);
  const agent = setup.makeAgent(envs, initRng);
  const optimizer = new AdamW(new Map(agent.trainable.map((v) => [v.name, v])), {
    ...defaultAdamW,
    eps: args.adamEps,
  });
  const { numEnvs, numSteps } = args;
  const obsDim = envs.obsDim;
  const actDim = agent.actionDim;
  if (agent.obsDim !== obsDim) throw new Error(`ppo: agent obsDim ${agent.obsDim} != env obsDim ${obsDim}`);

  // Storage, [numSteps, numEnvs, ...] row-major.
  const obs = new Float32Array(batchSize * obsDim);
  const actions = new Float32Array(batchSize * actDim);
  const logprobs = new Float32Array(batchSize);
  const rewards = new Float32Array(batchSize);
  const dones = new Float32Array(batchSize);
  const values = new Float32Array(batchSize);

  // Start the game.
  let globalStep = 0;
  const startTime = performance.now();
  const nextObs = Float32Array.from(await envs.reset());
  const nextDone = new Float32Array(numEnvs);
  const nextValue = new Float32Array(numEnvs);
  const episodes: EpisodeRecord[] = [];
  const updates: UpdateLog[] = [];

  for (let update = 1; update <= numUpdates; update++) {
    // Anneal the learning rate.
    const frac = args.annealLr ? 1 - (update - 1) / numUpdates : 1;
    const lrnow = frac * args.learningRate;

    // Rollout with a frozen plain-JS copy of the current weights.
    const policy = agent.snapshot();
    for (let step = 0; step < numSteps; step++) {
      globalStep += numEnvs;
      const row = step * numEnvs;
      obs.set(nextObs, row * obsDim);
      dones.set(nextDone, row);
      const out = {
        actions: actions.subarray(row * actDim, (row + numEnvs) * actDim),
        logProb: logprobs.subarray(row, row + numEnvs),
        value: values.subarray(row, row + numEnvs),
      };
      policy.act(nextObs, numEnvs, actionRng, out);

      const res = await envs.step(out.actions);
      for (let e = 0; e < numEnvs; e++) {
        rewards[row + e] = res.rewards[e]!;
        nextDone[e] = res.terminations[e] || res.truncations[e] ? 1 : 0;
      }
      nextObs.set(res.obs);
      for (const ep of res.episodes) {
        const record = { ...ep, globalStep };
        episodes.push(record);
        setup.onEpisode?.(record);
      }
    }

    // Bootstrap value if not done, then GAE.
    policy.value(nextObs, numEnvs, nextValue);
    const { advantages, returns } = computeGae(
      rewards,
      values,
      dones,
      nextValue,
      nextDone,
      args.gamma,
      args.gaeLambda,
    );

    // Optimise the policy and value network.
    const bInds = Array.from({ length: batchSize }, (_, i) => i);
    const clipfracs: number[] = [];
    let last: MinibatchStats = NO_STATS;
    let epochsRun = 0;
    for (let epoch = 0; epoch < args.updateEpochs; epoch++) {
      epochsRun++;
      shuffleRng.shuffle(bInds);
      for (let start = 0; start < batchSize; start += minibatchSize) {
        const mbInds = bInds.slice(start, start + minibatchSize);
        const n = mbInds.length;
        tf.tidy(() => {
          const mb: Minibatch = {
            obs: tf.tensor2d(gatherRows(obs, obsDim, mbInds), [n, obsDim]),
            actions: tf.tensor2d(gatherRows(actions, actDim, mbInds), [n, actDim]),
            logprobs: tf.tensor1d(gatherRows(logprobs, 1, mbInds)),
            advantages: tf.tensor1d(gatherRows(advantages, 1, mbInds)),
            returns: tf.tensor1d(gatherRows(returns, 1, mbInds)),
            values: tf.tensor1d(gatherRows(values, 1, mbInds)),
          };
          last = ppoMinibatchStep(agent, optimizer, mb, args, lrnow);
        });
        clipfracs.push(last.clipfrac);
      }
      if (args.targetKl !== null && last.approxKl > args.targetKl) break;
    }

    const log: UpdateLog = {
      update,
      globalStep,
      learningRate: lrnow,
      policyLoss: last.policyLoss,
      valueLoss: last.valueLoss,
      entropy: last.entropy,
      oldApproxKl: last.oldApproxKl,
      approxKl: last.approxKl,
      clipfrac: clipfracs.reduce((a, b) => a + b, 0) / clipfracs.length,
      explainedVariance: explainedVariance(values, returns),
      epochs: epochsRun,
      sps: Math.round(globalStep / ((performance.now() - startTime) / 1000)),
    };
    updates.push(log);
    setup.onUpdate?.(log);
  }

  await envs.close?.();
  optimizer.dispose();
  return {
    config: args,
    agent,
    episodes,
    updates,
    globalStep,
    wallS: (performance.now() - startTime) / 1000,
  };
}
