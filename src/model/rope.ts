/**
 * Rotary position embeddings in the Hugging Face convention: the head dimension is split into halves
 * (x1, x2) rotated as (x1·cos − x2·sin, x2·cos + x1·sin). llama2.c rotates adjacent pairs instead; its q/k
 * weights are permuted at load time (see io/llama2c.ts) so one convention serves both.
 */
import { type Tensor, tf } from '../engine/tf.js';

export interface RopeTables {
  readonly cos: Tensor; // (maxSeqLen, D/2)
  readonly sin: Tensor; // (maxSeqLen, D/2)
}

/** Tables computed in float32 arithmetic (Math.fround), matching llama2.c and PyTorch's float32 rounding. */
export function ropeTables(maxSeqLen: number, headSize: number, theta: number): RopeTables {
  const half = headSize / 2;
  const cos = new Float32Array(maxSeqLen * half);
  const sin = new Float32Array(maxSeqLen * half);
  for (let i = 0; i < half; i++) {
    const freq = Math.fround(1 / Math.fround(theta ** Math.fround((2 * i) / headSize)));
    for (let p = 0; p < maxSeqLen; p++) {
      const v = Math.fround(p * freq);
      cos[p * half + i] = Math.cos(v);
      sin[p * half + i] = Math.sin(v);
    }
  }
  return {
    cos: tf.keep(tf.tensor2d(cos, [maxSeqLen, half])),
    sin: tf.keep(tf.tensor2d(sin, [maxSeqLen, half])),
  };
}

/** x (B, H, T, D), positions (B, T) int32 → (B, H, T, D). */
export function applyRope(x: Tensor, positions: Tensor, tables: RopeTables): Tensor {
  return tf.tidy(() => {
    const [b, , t, d] = x.shape as [number, number, number, number];
    const half = d / 2;
    const cos = tf.reshape(tf.gather(tables.cos, positions), [b, 1, t, half]); // (B, 1, T, D/2)
    const sin = tf.reshape(tf.gather(tables.sin, positions), [b, 1, t, half]);
    const [x1, x2] = tf.split(x, 2, -1) as [Tensor, Tensor];
    return tf.concat(
      [tf.sub(tf.mul(x1, cos), tf.mul(x2, sin)), tf.add(tf.mul(x2, cos), tf.mul(x1, sin))],
      -1,
    );
  });
}
