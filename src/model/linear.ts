/**
 * Linear layers and the hook through which adapters change them without touching base weights:
 * y = x·W + b + Σ delta(x). LoRA adapters and the weight-delta EditGenerator both implement `LinearDelta`.
 */
import { type Tensor, type Tensor2D, tf } from '../engine/tf.js';
import type { ModelConfig } from './config.js';
import type { ParamMap } from './params.js';

export interface LinearDelta {
  /** The additive output for module `module` (e.g. `model.layers.0.self_attn.q_proj`) given x (N, in), or undefined. */
  delta(module: string, x: Tensor2D): Tensor2D | undefined;
}

export interface ForwardContext {
  readonly config: ModelConfig;
  readonly params: ParamMap;
  readonly deltas: readonly LinearDelta[];
}

export function param(ctx: ForwardContext, name: string): Tensor {
  const p = ctx.params.get(name);
  if (p === undefined) throw new Error(`missing parameter ${name}`);
  return p;
}

/** x (N, in) → (N, out). */
export function linear(ctx: ForwardContext, module: string, x: Tensor2D): Tensor2D {
  let y = tf.matMul<Tensor2D>(x, param(ctx, `${module}.weight`) as Tensor2D);
  const b = ctx.params.get(`${module}.bias`);
  if (b !== undefined) y = tf.add<Tensor2D>(y, b);
  for (const d of ctx.deltas) {
    const dy = d.delta(module, x);
    if (dy !== undefined) y = tf.add<Tensor2D>(y, dy);
  }
  return y;
}
