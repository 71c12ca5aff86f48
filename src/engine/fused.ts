/**
 * The fused operations the models use, behind one table so a faster implementation (native kernels, see
 * src/engine/native) can replace the composite tfjs version per operation at engine start-up. Every
 * implementation must be differentiable (tfjs gradients or tf.customGrad) and agree with the composite one.
 */
import { type Tensor, tf } from './tf.js';

export interface FusedOps {
  /** x (..., C), w (C) → x / sqrt(mean(x²) + eps) · w. */
  rmsNorm(x: Tensor, w: Tensor, eps: number): Tensor;
  /** x (..., C), w, b (C) → LayerNorm over the last axis. */
  layerNorm(x: Tensor, w: Tensor, b: Tensor, eps: number): Tensor;
  /** GPT-2's tanh GELU ("gelu_new"), element-wise. */
  geluNew(x: Tensor): Tensor;
  /** SwiGLU gate: silu(gate) · up, element-wise. */
  swiglu(gate: Tensor, up: Tensor): Tensor;
  /**
   * Attention core: softmax(q·kᵀ · scale + mask) · v. q (B, G, R·T, D), k/v (B, G, Tk, D), mask (B|1, 1, T, Tk)
   * additive, where the R query heads of each of the G key/value groups are stacked along time.
   */
  attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor, scale: number): Tensor;
  /**
   * Weighted mean token cross-entropy: logits (N, V), targets (N) int32, weights (N) ≥ 0 (0 = not trained on).
   * Returns a scalar Σ wᵢ·CEᵢ / Σ wᵢ (0 when every weight is 0).
   */
  crossEntropy(logits: Tensor, targets: Tensor, weights: Tensor): Tensor;
}

export const compositeOps: FusedOps = {
  rmsNorm: (x, w, eps) =>
    tf.tidy(() => tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps))), w)),
  layerNorm: (x, w, b, eps) =>
    tf.tidy(() => {
      const { mean, variance } = tf.moments(x, -1, true);
      return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), w), b);
    }),
  geluNew: (x) =>
    tf.tidy(() => {
      // x·x·x, not pow: pow is slow on wasm.
      const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
      return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
    }),
  swiglu: (gate, up) => tf.tidy(() => tf.mul(tf.mul(gate, tf.sigmoid(gate)), up)),
  attention: (q, k, v, mask, scale) =>
    tf.tidy(() => {
      const [b, g, rt, d] = q.shape as [number, number, number, number];
      const [, , t, tk] = mask.shape as [number, number, number, number];
      const r = rt / t;
      let scores = tf.mul(tf.matMul(q, k, false, true), scale); // (B, G, R·T, Tk)
      scores = tf.add(tf.reshape(scores, [b, g * r, t, tk]), mask); // (B, H, T, Tk)
      const probs = tf.reshape(tf.softmax(scores, -1), [b, g, rt, tk]);
      return tf.reshape(tf.matMul(probs, v), [b, g, rt, d]);
    }),
  crossEntropy: (logits, targets, weights) => crossEntropyComposite(logits, targets, weights),
};

/** One pass for value and gradient: d/dlogits = (softmax − onehot) · w / Σw; never materialises log-softmax twice. */
function crossEntropyComposite(logits: Tensor, targets: Tensor, weights: Tensor): Tensor {
  const n = logits.shape[0] as number;
  const vocab = logits.shape[1] as number;
  const f = tf.customGrad(((lg: Tensor, save: tf.GradSaveFunc) => {
    const lse = tf.logSumExp(lg, -1, true); // (N, 1)
    const flat = tf.add(tf.mul(tf.range(0, n, 1, 'int32'), tf.scalar(vocab, 'int32')), targets);
    const picked = tf.gather(tf.reshape(lg, [-1]), flat); // (N)
    const wsum = tf.maximum(tf.sum(weights), 1e-12);
    const value = tf.div(tf.sum(tf.mul(tf.sub(tf.reshape(lse, [n]), picked), weights)), wsum);
    // Everything the backward pass reads must be saved: closures over tensors would see them disposed by tidy.
    save([lg, lse, wsum, targets, weights]);
    return {
      value,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [l, s, ws, tg, w] = saved as [Tensor, Tensor, Tensor, Tensor, Tensor];
        const probs = tf.exp(tf.sub(l, s));
        const onehot = tf.oneHot(tg, vocab);
        const scale = tf.reshape(tf.div(tf.mul(w, dy), ws), [n, 1]);
        return [tf.mul(tf.sub(probs, onehot), scale)];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(logits);
}

let active: FusedOps = compositeOps;
let activeName = 'composite';

/** Replace some operations (e.g. with native kernels); the rest keep their current implementation. */
export function setFusedOps(overrides: Partial<FusedOps>, name: string): void {
  active = { ...active, ...overrides };
  activeName = name;
}

export function resetFusedOps(): void {
  active = compositeOps;
  activeName = 'composite';
}

export function fusedOpsName(): string {
  return activeName;
}

/** Call sites use `fused.rmsNorm(...)`; the indirection picks the implementation installed at start-up. */
export const fused: FusedOps = {
  rmsNorm: (x, w, eps) => active.rmsNorm(x, w, eps),
  layerNorm: (x, w, b, eps) => active.layerNorm(x, w, b, eps),
  geluNew: (x) => active.geluNew(x),
  swiglu: (gate, up) => active.swiglu(gate, up),
  attention: (q, k, v, mask, scale) => active.attention(q, k, v, mask, scale),
  crossEntropy: (logits, targets, weights) => active.crossEntropy(logits, targets, weights),
};
