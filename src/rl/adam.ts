/**
 * Adam over tf.Variables, matching torch.optim.Adam (what CleanRL uses) rather than tfjs's `tf.train.adam`:
 *   - the learning rate is an argument of every `step`, because PPO anneals it each update and tfjs keeps it in a
 *     protected field;
 *   - eps is added to the bias-corrected sqrt(v̂) exactly as torch does (tfjs agrees, but we pin it here);
 *   - gradients arrive already clipped (`clipGradNorm`), mirroring `clip_grad_norm_` followed by `optimizer.step()`.
 */
import { tf } from '../engine/tf.js';

export interface AdamOptions {
  readonly beta1?: number;
  readonly beta2?: number;
  /** CleanRL passes eps=1e-5 (torch's default is 1e-8); small eps makes early steps noisy for tiny gradients. */
  readonly eps?: number;
}

export class Adam {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** Steps taken so far (torch's `state['step']`), drives the bias correction. */
  t = 0;
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];

  constructor(
    readonly params: readonly tf.Variable[],
    options: AdamOptions = {},
  ) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.m = params.map((p) => zerosVariable(p));
    this.v = params.map((p) => zerosVariable(p));
  }

  /** One update; `grads[i]` belongs to `params[i]`. Caller owns `grads` (not disposed here). */
  step(grads: readonly tf.Tensor[], lr: number): void {
    if (grads.length !== this.params.length) {
      throw new Error(`Adam.step: ${grads.length} gradients for ${this.params.length} parameters`);
    }
    this.t += 1;
    const bc1 = 1 - this.beta1 ** this.t;
    const bc2 = 1 - this.beta2 ** this.t;
    // torch: p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)
    const stepSize = lr / bc1;
    const sqrtBc2 = Math.sqrt(bc2);
    tf.tidy(() => {
      for (let i = 0; i < this.params.length; i++) {
        const p = this.params[i]!;
        const g = grads[i]!;
        const m = this.m[i]!;
        const v = this.v[i]!;
        const mNew = m.mul(this.beta1).add(g.mul(1 - this.beta1));
        const vNew = v.mul(this.beta2).add(g.square().mul(1 - this.beta2));
        m.assign(mNew);
        v.assign(vNew);
        const denom = vNew.sqrt().div(sqrtBc2).add(this.eps);
        p.assign(p.sub(mNew.div(denom).mul(stepSize)));
      }
    });
  }

  dispose(): void {
    for (const t of [...this.m, ...this.v]) t.dispose();
  }
}

/** tf.variable keeps its own reference to the initial value, so the initial tensor must be disposed. */
function zerosVariable(like: tf.Tensor): tf.Variable {
  const init = tf.zerosLike(like);
  const v = tf.variable(init, false);
  init.dispose();
  return v;
}

/**
 * torch.nn.utils.clip_grad_norm_: one global L2 norm over all gradients; if it exceeds `maxNorm`, every gradient
 * is scaled by maxNorm / (norm + 1e-6). Returns new tensors (caller disposes, e.g. inside tf.tidy) and the norm
 * before clipping.
 */
export function clipGradNorm(
  grads: readonly tf.Tensor[],
  maxNorm: number,
): { grads: tf.Tensor[]; totalNorm: number } {
  const totalNorm = tf.tidy(() => {
    const sq = grads.map((g) => g.square().sum());
    return tf.addN(sq).sqrt();
  });
  const norm = totalNorm.dataSync()[0]!;
  totalNorm.dispose();
  const coef = Math.min(1, maxNorm / (norm + 1e-6));
  return { grads: grads.map((g) => g.mul(coef)), totalNorm: norm };
}
