/**
 * Causal self-attention with grouped-query heads and an optional KV cache. Query heads sharing one key/value head
 * are folded into the time axis — q (B, H, T, D) viewed as (B, Hkv, rep·T, D) — so keys and values are never
 * copied per query head; head h uses kv head ⌊h / rep⌋, as transformers' `repeat_kv` does.
 */
import { fused } from '../engine/fused.js';
import { type Tensor, type Tensor2D, tf } from '../engine/tf.js';
import { headDim } from './config.js';
import type { KVCache } from './kv-cache.js';
import { type ForwardContext, linear } from './linear.js';
import { applyRope, type RopeTables } from './rope.js';

export interface AttentionInputs {
  readonly positions: Tensor; // (B, T) int32
  readonly mask: Tensor; // (B, 1, T, Tk) additive: 0 where allowed, a large negative number elsewhere
  readonly rope: RopeTables | undefined;
  readonly cache: KVCache | undefined;
}

/** (N, H·D) → (B, H, T, D). */
function toHeads(x: Tensor2D, b: number, t: number, h: number, d: number): Tensor {
  return tf.transpose(tf.reshape(x, [b, t, h, d]), [0, 2, 1, 3]);
}

/** x (B·T, C) → (B·T, C). `prefix` is the block's attention module path. */
export function attention(
  ctx: ForwardContext,
  layer: number,
  x: Tensor2D,
  b: number,
  t: number,
  inp: AttentionInputs,
): Tensor2D {
  const c = ctx.config;
  const d = headDim(c);
  const h = c.nHeads;
  const hkv = c.nKvHeads;
  let q: Tensor;
  let k: Tensor;
  let v: Tensor;
  let outModule: string;
  switch (c.arch) {
    case 'gpt2': {
      const p = `transformer.h.${layer}.attn`;
      const qkv = linear(ctx, `${p}.c_attn`, x); // (N, 3C)
      const [q2, k2, v2] = tf.split(qkv, 3, 1) as [Tensor2D, Tensor2D, Tensor2D];
      q = toHeads(q2, b, t, h, d);
      k = toHeads(k2, b, t, hkv, d);
      v = toHeads(v2, b, t, hkv, d);
      outModule = `${p}.c_proj`;
      break;
    }
    case 'llama': {
      const p = `model.layers.${layer}.self_attn`;
      q = toHeads(linear(ctx, `${p}.q_proj`, x), b, t, h, d);
      k = toHeads(linear(ctx, `${p}.k_proj`, x), b, t, hkv, d);
      v = toHeads(linear(ctx, `${p}.v_proj`, x), b, t, hkv, d);
      if (inp.rope === undefined) throw new Error('llama attention needs RoPE tables');
      q = applyRope(q, inp.positions, inp.rope);
      k = applyRope(k, inp.positions, inp.rope);
      outModule = `${p}.o_proj`;
      break;
    }
    default: {
      const never: never = c.arch;
      throw new Error(`unreachable arch ${String(never)}`);
    }
  }
  if (inp.cache !== undefined) ({ k, v } = inp.cache.append(layer, k, v));
  const rep = h / hkv;
  const qg = tf.reshape(q, [b, hkv, rep * t, d]); // (B, Hkv, rep·T, D)
  const y = tf.reshape(fused.attention(qg, k, v, inp.mask, 1 / Math.sqrt(d)), [b, h, t, d]); // (B, H, T, D)
  const merged = tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [b * t, h * d]) as Tensor2D; // (B·T, C)
  return linear(ctx, outModule, merged);
}
