/** A pre-norm transformer block: x + attn(norm(x)), then + mlp(norm(x)). */
import { fused } from '../engine/fused.js';
import { type Tensor2D, tf } from '../engine/tf.js';
import { type AttentionInputs, attention } from './attention.js';
import { type ForwardContext, param } from './linear.js';
import { mlp } from './mlp.js';

function norm(ctx: ForwardContext, name: string, x: Tensor2D): Tensor2D {
  const c = ctx.config;
  switch (c.arch) {
    case 'gpt2':
      return fused.layerNorm(
        x,
        param(ctx, `${name}.weight`),
        param(ctx, `${name}.bias`),
        c.normEps,
      ) as Tensor2D;
    case 'llama':
      return fused.rmsNorm(x, param(ctx, `${name}.weight`), c.normEps) as Tensor2D;
    default: {
      const never: never = c.arch;
      throw new Error(`unreachable arch ${String(never)}`);
    }
  }
}

export function finalNorm(ctx: ForwardContext, x: Tensor2D): Tensor2D {
  return norm(ctx, ctx.config.arch === 'gpt2' ? 'transformer.ln_f' : 'model.norm', x);
}

/** x (B·T, C) → (B·T, C). */
export function block(
  ctx: ForwardContext,
  layer: number,
  x: Tensor2D,
  b: number,
  t: number,
  inp: AttentionInputs,
): Tensor2D {
  const gpt2 = ctx.config.arch === 'gpt2';
  const n1 = gpt2 ? `transformer.h.${layer}.ln_1` : `model.layers.${layer}.input_layernorm`;
  const n2 = gpt2 ? `transformer.h.${layer}.ln_2` : `model.layers.${layer}.post_attention_layernorm`;
  const h = tf.add<Tensor2D>(x, attention(ctx, layer, norm(ctx, n1, x), b, t, inp));
  return tf.add<Tensor2D>(h, mlp(ctx, layer, norm(ctx, n2, h)));
}
