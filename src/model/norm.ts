/** LayerNorm (GPT-2) and RMSNorm (Llama) over the last axis. */
import { type Tensor, tf } from '../engine/tf.js';

/** x (..., C) → (..., C). */
export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor, eps: number): Tensor {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), weight), bias);
  });
}

/** x (..., C) → (..., C): x / sqrt(mean(x²) + eps) · w. */
export function rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps))), weight));
}
