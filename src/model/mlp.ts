/** Feed-forward blocks: GPT-2's GELU MLP and Llama's SwiGLU. */
import { fused } from '../engine/fused.js';
import type { Tensor2D } from '../engine/tf.js';
import { type ForwardContext, linear } from './linear.js';

/** x (N, C) → (N, C). */
export function mlp(ctx: ForwardContext, layer: number, x: Tensor2D): Tensor2D {
  const c = ctx.config;
  switch (c.arch) {
    case 'gpt2': {
      const p = `transformer.h.${layer}.mlp`;
      return linear(ctx, `${p}.c_proj`, fused.geluNew(linear(ctx, `${p}.c_fc`, x)) as Tensor2D);
    }
    case 'llama': {
      const p = `model.layers.${layer}.mlp`;
      const gate = linear(ctx, `${p}.gate_proj`, x);
      const up = linear(ctx, `${p}.up_proj`, x);
      return linear(ctx, `${p}.down_proj`, fused.swiglu(gate, up) as Tensor2D);
    }
    default: {
      const never: never = c.arch;
      throw new Error(`unreachable arch ${String(never)}`);
    }
  }
}
