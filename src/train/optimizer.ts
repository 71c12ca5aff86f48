/**
 * The one optimizer: AdamW with decoupled weight decay (Loshchilov & Hutter; PyTorch's `torch.optim.AdamW`
 * semantics; weightDecay 0 is torch's Adam, which PPO uses), and global-norm gradient clipping
 * (`torch.nn.utils.clip_grad_norm_`). The learning rate is an argument of every update (schedules, PPO's annealing).
 * State is plain named tensors so checkpoints can save it.
 */

import { adamwUpdateNative, nativeAdamWActive } from '../engine/index.js';
import { type Tensor, tf, type Variable } from '../engine/tf.js';

export interface AdamWConfig {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
}

export const defaultAdamW: AdamWConfig = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };

/** Decay matrices (weights, embeddings), not vectors (norm gains, biases) — the nanoGPT/GPT-2 convention. */
export const decayMatricesOnly = (_name: string, v: Variable): boolean => v.rank >= 2;

export class AdamW {
  /** Number of updates applied so far. */
  step = 0;
  private readonly m = new Map<string, Tensor>();
  private readonly v = new Map<string, Tensor>();

  constructor(
    readonly params: ReadonlyMap<string, Variable>,
    readonly config: AdamWConfig = defaultAdamW,
    readonly decays: (name: string, v: Variable) => boolean = decayMatricesOnly,
  ) {}

  /** Applies one update with learning rate `lr`; `grads` are keyed like `params` (missing = zero gradient). */
  update(grads: ReadonlyMap<string, Tensor>, lr: number): void {
    this.step++;
    const { beta1, beta2, eps, weightDecay } = this.config;
    const bc1 = 1 - beta1 ** this.step;
    const bc2 = 1 - beta2 ** this.step;
    for (const [name, p] of this.params) {
      const g = grads.get(name);
      if (g === undefined) continue;
      const decays = weightDecay > 0 && this.decays(name, p);
      const [m, v, next] = tf.tidy(() => {
        const mPrev = this.m.get(name);
        const vPrev = this.v.get(name);
        // The same arithmetic in one fused pass when the native kernels are on (engine/native: k_adamw).
        if (nativeAdamWActive() && g.dtype === 'float32')
          return adamwUpdateNative(p, g, mPrev, vPrev, {
            lr,
            beta1,
            beta2,
            eps,
            weightDecay: decays ? weightDecay : 0,
            step: this.step,
          });
        const m1 =
          mPrev === undefined ? tf.mul(g, 1 - beta1) : tf.add(tf.mul(mPrev, beta1), tf.mul(g, 1 - beta1));
        const v1 =
          vPrev === undefined
            ? tf.mul(tf.square(g), 1 - beta2)
            : tf.add(tf.mul(vPrev, beta2), tf.mul(tf.square(g), 1 - beta2));
        const decayed = decays ? tf.mul(p, 1 - lr * weightDecay) : p;
        const stepT = tf.div(tf.mul(m1, lr / bc1), tf.add(tf.sqrt(tf.div(v1, bc2)), eps));
        return [m1, v1, tf.sub(decayed, stepT)];
      });
      this.m.get(name)?.dispose();
      this.v.get(name)?.dispose();
      // kept: the state must survive an enclosing tf.tidy (PPO updates inside one).
      this.m.set(name, tf.keep(m));
      this.v.set(name, tf.keep(v));
      p.assign(next);
      next.dispose();
    }
  }

  /** Named state tensors (copies) and the step, for checkpoints. */
  state(): { step: number; tensors: Map<string, Tensor> } {
    const tensors = new Map<string, Tensor>();
    for (const [k, t] of this.m) tensors.set(`m.${k}`, t);
    for (const [k, t] of this.v) tensors.set(`v.${k}`, t);
    return { step: this.step, tensors };
  }

  /** Restores state saved by `state()`; takes ownership of the tensors. */
  load(step: number, tensors: ReadonlyMap<string, Tensor>): void {
    this.dispose();
    this.step = step;
    for (const [k, t] of tensors) {
      if (k.startsWith('m.')) this.m.set(k.slice(2), t);
      else if (k.startsWith('v.')) this.v.set(k.slice(2), t);
    }
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}

/** Global L2 norm of all gradients. */
export function globalNorm(grads: ReadonlyMap<string, Tensor>): number {
  if (grads.size === 0) return 0;
  return tf.tidy(() =>
    Math.sqrt(tf.addN([...grads.values()].map((g) => tf.sum(tf.square(g)))).dataSync()[0] as number),
  );
}

/**
 * Scales gradients so their global norm is at most `maxNorm` (coefficient max/(norm+1e-6), as PyTorch). Returns the
 * norm before clipping and new gradient tensors (the inputs are disposed when replaced).
 */
export function clipByGlobalNorm(grads: Map<string, Tensor>, maxNorm: number): number {
  const norm = globalNorm(grads);
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) {
    for (const [k, g] of grads) {
      grads.set(k, tf.mul(g, coef));
      g.dispose();
    }
  }
  return norm;
}
