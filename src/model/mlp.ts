/** Feed-forward blocks: GPT-2's GELU MLP and Llama's SwiGLU. */
import { type Tensor2D, tf } from '../engine/tf.js';
import { type ForwardContext, linear } from './linear.js';

/** GPT-2's tanh approximation ("gelu_new"); x·x·x, not pow, which is slow on wasm. */
export function geluNew(x: Tensor2D): Tensor2D {
  return tf.tidy(() => {
    const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
  });
}

/** x (N, C) → (N, C). */
export function mlp(ctx: ForwardContext, layer: number, x: Tensor2D): Tensor2D {
  const c = ctx.config;
  switch (c.arch) {
    case 'gpt2': {
      const p = `transformer.h.${layer}.mlp`;
      return linear(ctx, `${p}.c_proj`, geluNew(linear(ctx, `${p}.c_fc`, x)));
    }
    case 'llama': {
      const p = `model.layers.${layer}.mlp`;
      const gate = linear(ctx, `${p}.gate_proj`, x);
      const up = linear(ctx, `${p}.up_proj`, x);
      return linear(ctx, `${p}.down_proj`, tf.mul(tf.mul(gate, tf.sigmoid(gate)), up));
    }
    default: {
      const never: never = c.arch;
      throw new Error(`unreachable arch ${String(never)}`);
    }
  }
}
