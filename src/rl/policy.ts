/**
 * Actor-critic networks for PPO, shaped like CleanRL's `Agent`: separate actor and critic MLPs with tanh hidden
 * layers, orthogonal init (gain √2 hidden, 0.01 actor head, 1.0 critic head), zero biases.
 *
 * Two action distributions share one interface:
 *   - Categorical over discrete actions (CleanRL ppo.py, CartPole);
 *   - diagonal Gaussian with a learned state-independent log-std (CleanRL ppo_continuous_action.py), for the
 *     EditGenerator's latent.
 *
 * Each policy has two forward passes over the same weights: a tfjs one (`evaluate`, differentiable, used for the
 * gradient step) and a plain-JS one (`snapshot()`), used during rollouts, where tfjs's per-op dispatch cost on a
 * 4-row batch would dominate. The snapshot is taken once per update, so both see identical parameters.
 */
import { tf } from '../engine/tf.js';
import type { Rng } from '../util/rng.js';

const LOG_2PI = Math.log(2 * Math.PI);

/** Output of the differentiable pass, one entry per row of the batch. */
export interface PolicyEval {
  readonly logProb: tf.Tensor1D;
  readonly entropy: tf.Tensor1D;
  readonly value: tf.Tensor1D;
}

/** Buffers the rollout fills for `n` observations. `actions` is [n, actionDim] row-major. */
export interface ActOutput {
  readonly actions: Float32Array;
  readonly logProb: Float32Array;
  readonly value: Float32Array;
}

/** A frozen plain-JS copy of the policy for rollouts. */
export interface RolloutPolicy {
  act(obs: Float32Array, n: number, rng: Rng, out: ActOutput): void;
  value(obs: Float32Array, n: number, out: Float32Array): void;
}

export interface ActorCritic {
  readonly obsDim: number;
  /** Numbers stored per action: 1 for a categorical (the index, as a float like CleanRL), k for a k-d Gaussian. */
  readonly actionDim: number;
  readonly trainable: readonly tf.Variable[];
  /** log π(a|s), entropy of π(·|s) and V(s) for a batch: obs [n, obsDim], actions [n, actionDim]. */
  evaluate(obs: tf.Tensor2D, actions: tf.Tensor2D): PolicyEval;
  snapshot(): RolloutPolicy;
  dispose(): void;
}

/**
 * torch.nn.init.orthogonal_ for a torch-layout weight [rows=out, cols=in], returned transposed as [in, out] (our
 * layers compute x·W). QR of a Gaussian matrix via Gram–Schmidt (run twice for stability); Gram–Schmidt's R has a
 * positive diagonal, which is what torch's `q *= sign(diag(r))` enforces after Householder QR.
 */
export function orthogonalInit(out: number, inp: number, gain: number, rng: Rng): Float32Array {
  const tall = Math.max(out, inp);
  const k = Math.min(out, inp);
  // Columns of a tall × k Gaussian matrix, stored column-major for the orthogonalisation.
  const q: Float64Array[] = [];
  for (let c = 0; c < k; c++) {
    const col = new Float64Array(tall);
    for (let r = 0; r < tall; r++) col[r] = rng.normal();
    q.push(col);
  }
  for (let c = 0; c < k; c++) {
    const col = q[c]!;
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < c; p++) {
        const prev = q[p]!;
        let dot = 0;
        for (let r = 0; r < tall; r++) dot += col[r]! * prev[r]!;
        for (let r = 0; r < tall; r++) col[r] = col[r]! - dot * prev[r]!;
      }
    }
    let norm = 0;
    for (let r = 0; r < tall; r++) norm += col[r]! * col[r]!;
    norm = Math.sqrt(norm);
    for (let r = 0; r < tall; r++) col[r] = col[r]! / norm;
  }
  // torch weight W_t[o][i]: if out >= in it is Q (out × in), else Q^T with Q (in × out). Ours is W[i][o] = W_t[o][i].
  const w = new Float32Array(inp * out);
  for (let i = 0; i < inp; i++) {
    for (let o = 0; o < out; o++) {
      const v = out >= inp ? q[i]![o]! : q[o]![i]!;
      w[i * out + o] = gain * v;
    }
  }
  return w;
}

/** tf.variable keeps its own reference to `init`; dispose the initial tensor so only the variable remains. */
function ownedVariable(init: tf.Tensor): tf.Variable {
  const v = tf.variable(init);
  init.dispose();
  return v;
}

interface DenseWeights {
  readonly inp: number;
  readonly out: number;
  readonly w: Float32Array;
  readonly b: Float32Array;
}

/** An MLP with tanh between layers and a linear output, as tf.Variables. */
export class Mlp {
  readonly weights: tf.Variable[] = [];
  readonly biases: tf.Variable[] = [];

  /** `sizes` = [in, hidden..., out]; the output layer uses `headGain`, hidden layers √2. */
  constructor(
    readonly sizes: readonly number[],
    headGain: number,
    rng: Rng,
  ) {
    for (let l = 0; l + 1 < sizes.length; l++) {
      const inp = sizes[l]!;
      const out = sizes[l + 1]!;
      const gain = l + 2 === sizes.length ? headGain : Math.SQRT2;
      this.weights.push(ownedVariable(tf.tensor2d(orthogonalInit(out, inp, gain, rng), [inp, out])));
      this.biases.push(ownedVariable(tf.zeros([out])));
    }
  }

  get variables(): tf.Variable[] {
    return this.weights.flatMap((w, i) => [w, this.biases[i]!]);
  }

  apply(x: tf.Tensor2D): tf.Tensor2D {
    let h = x;
    for (let l = 0; l < this.weights.length; l++) {
      h = tf.add(tf.matMul(h, this.weights[l]!), this.biases[l]!);
      if (l + 1 < this.weights.length) h = tf.tanh(h);
    }
    return h;
  }

  snapshot(): DenseWeights[] {
    return this.weights.map((w, l) => ({
      inp: this.sizes[l]!,
      out: this.sizes[l + 1]!,
      w: Float32Array.from(w.dataSync()),
      b: Float32Array.from(this.biases[l]!.dataSync()),
    }));
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
  }
}

/** Plain-JS forward pass of an Mlp snapshot for n rows; returns [n, out] in float64. */
export function mlpForward(layers: readonly DenseWeights[], x: ArrayLike<number>, n: number): Float64Array {
  let h: ArrayLike<number> = x;
  for (let l = 0; l < layers.length; l++) {
    const { inp, out, w, b } = layers[l]!;
    const y = new Float64Array(n * out);
    for (let r = 0; r < n; r++) {
      const yo = r * out;
      for (let j = 0; j < out; j++) y[yo + j] = b[j]!;
      for (let i = 0; i < inp; i++) {
        const xi = h[r * inp + i]!;
        if (xi === 0) continue;
        const wo = i * out;
        for (let j = 0; j < out; j++) y[yo + j] = y[yo + j]! + xi * w[wo + j]!;
      }
    }
    if (l + 1 < layers.length) for (let k = 0; k < y.length; k++) y[k] = Math.tanh(y[k]!);
    h = y;
  }
  return h as Float64Array;
}

/** CleanRL ppo.py's Agent: Categorical(logits = actor(s)), V = critic(s). */
export class CategoricalActorCritic implements ActorCritic {
  readonly actionDim = 1;
  readonly actor: Mlp;
  readonly critic: Mlp;

  constructor(
    readonly obsDim: number,
    readonly numActions: number,
    rng: Rng,
    hidden: readonly number[] = [64, 64],
  ) {
    // CleanRL builds the critic first, then the actor; keep the order so one seed stream maps the same way.
    this.critic = new Mlp([obsDim, ...hidden, 1], 1.0, rng);
    this.actor = new Mlp([obsDim, ...hidden, numActions], 0.01, rng);
  }

  get trainable(): tf.Variable[] {
    return [...this.actor.variables, ...this.critic.variables];
  }

  evaluate(obs: tf.Tensor2D, actions: tf.Tensor2D): PolicyEval {
    const logp = tf.logSoftmax(this.actor.apply(obs));
    const onehot = tf.oneHot(tf.cast(tf.reshape(actions, [-1]), 'int32'), this.numActions);
    return {
      logProb: tf.sum(tf.mul(logp, onehot), -1) as tf.Tensor1D,
      entropy: tf.neg(tf.sum(tf.mul(tf.exp(logp), logp), -1)) as tf.Tensor1D,
      value: tf.reshape(this.critic.apply(obs), [-1]) as tf.Tensor1D,
    };
  }

  snapshot(): RolloutPolicy {
    const actor = this.actor.snapshot();
    const critic = this.critic.snapshot();
    const k = this.numActions;
    return {
      act(obs, n, rng, out) {
        const logits = mlpForward(actor, obs, n);
        const v = mlpForward(critic, obs, n);
        for (let r = 0; r < n; r++) {
          let max = -Infinity;
          for (let j = 0; j < k; j++) max = Math.max(max, logits[r * k + j]!);
          let z = 0;
          for (let j = 0; j < k; j++) z += Math.exp(logits[r * k + j]! - max);
          const logZ = max + Math.log(z);
          // Inverse-CDF sampling; the last action absorbs rounding so a sample always exists.
          const u = rng.next();
          let a = k - 1;
          let cdf = 0;
          for (let j = 0; j < k - 1; j++) {
            cdf += Math.exp(logits[r * k + j]! - logZ);
            if (u < cdf) {
              a = j;
              break;
            }
          }
          out.actions[r] = a;
          out.logProb[r] = logits[r * k + a]! - logZ;
          out.value[r] = v[r]!;
        }
      },
      value(obs, n, out) {
        const v = mlpForward(critic, obs, n);
        for (let r = 0; r < n; r++) out[r] = v[r]!;
      },
    };
  }

  dispose(): void {
    this.actor.dispose();
    this.critic.dispose();
  }
}

/**
 * CleanRL ppo_continuous_action.py's Agent: a ~ N(actor_mean(s), diag(exp(logStd))²) with `logStd` a learned
 * [1, k] parameter independent of s (initialised to `initLogStd`, 0 in CleanRL). log-prob and entropy are summed
 * over the k dimensions. Actions are not squashed or clipped here (CleanRL clips in an env wrapper).
 */
export class GaussianActorCritic implements ActorCritic {
  readonly actor: Mlp;
  readonly critic: Mlp;
  readonly logStd: tf.Variable;

  constructor(
    readonly obsDim: number,
    readonly actionDim: number,
    rng: Rng,
    hidden: readonly number[] = [64, 64],
    initLogStd = 0,
    /** CleanRL's 0.01; 0 makes the initial mean action exactly zero (the EditGenerator's zero edit). */
    actorHeadGain = 0.01,
  ) {
    this.critic = new Mlp([obsDim, ...hidden, 1], 1.0, rng);
    this.actor = new Mlp([obsDim, ...hidden, actionDim], actorHeadGain, rng);
    this.logStd = ownedVariable(tf.fill([1, actionDim], initLogStd));
  }

  get trainable(): tf.Variable[] {
    return [...this.actor.variables, this.logStd, ...this.critic.variables];
  }

  evaluate(obs: tf.Tensor2D, actions: tf.Tensor2D): PolicyEval {
    const mean = this.actor.apply(obs);
    const n = obs.shape[0];
    const k = this.actionDim;
    const z = tf.div(tf.sub(actions, mean), tf.exp(this.logStd));
    const sumLogStd = tf.sum(this.logStd);
    // log N(a; μ, σ) = -½ z² - log σ - ½ log 2π, summed over dims.
    const logProb = tf.sub(tf.mul(tf.sum(tf.square(z), -1), -0.5), tf.add(sumLogStd, 0.5 * k * LOG_2PI));
    // H = Σ (½ + ½ log 2π + log σ): the same for every row.
    const entropy = tf.mul(tf.ones([n]), tf.add(sumLogStd, 0.5 * k * (1 + LOG_2PI)));
    return {
      logProb: logProb as tf.Tensor1D,
      entropy: entropy as tf.Tensor1D,
      value: tf.reshape(this.critic.apply(obs), [-1]) as tf.Tensor1D,
    };
  }

  snapshot(): RolloutPolicy {
    const actor = this.actor.snapshot();
    const critic = this.critic.snapshot();
    const logStd = Float64Array.from(this.logStd.dataSync());
    const k = this.actionDim;
    let sumLogStd = 0;
    for (const s of logStd) sumLogStd += s;
    return {
      act(obs, n, rng, out) {
        const mean = mlpForward(actor, obs, n);
        const v = mlpForward(critic, obs, n);
        for (let r = 0; r < n; r++) {
          let sq = 0;
          for (let j = 0; j < k; j++) {
            const eps = rng.normal();
            out.actions[r * k + j] = mean[r * k + j]! + Math.exp(logStd[j]!) * eps;
            // z recomputed from the float32-stored action so the stored log-prob matches `evaluate` on it.
            const zj = (out.actions[r * k + j]! - mean[r * k + j]!) / Math.exp(logStd[j]!);
            sq += zj * zj;
          }
          out.logProb[r] = -0.5 * sq - sumLogStd - 0.5 * k * LOG_2PI;
          out.value[r] = v[r]!;
        }
      },
      value(obs, n, out) {
        const v = mlpForward(critic, obs, n);
        for (let r = 0; r < n; r++) out[r] = v[r]!;
      },
    };
  }

  dispose(): void {
    this.actor.dispose();
    this.critic.dispose();
    this.logStd.dispose();
  }
}
