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
  /**
   * A delta that draws random numbers (LoRA dropout) exposes its stream position, so that gradient checkpointing
   * can recompute a block with the masks its first pass drew.
   */
  randomState?: { get(): number; set(state: number): void };
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

/** Several deltas applied together as one (their outputs summed, as `linear` does with a list): a stack of edits. */
export class SummedDelta implements LinearDelta {
  constructor(private readonly deltas: readonly LinearDelta[]) {}

  delta(module: string, x: Tensor2D): Tensor2D | undefined {
    let y: Tensor2D | undefined;
    for (const d of this.deltas) {
      const dy = d.delta(module, x);
      if (dy !== undefined) y = y === undefined ? dy : tf.add<Tensor2D>(y, dy);
    }
    return y;
  }
}

/**
 * A different delta per contiguous block of rows of x: `rows[i]` rows go through `deltas[i]`. With a batch that
 * stacks several edits' sequences (each edit's rows = its sequences × T), one forward pass evaluates every edit.
 */
export class RowGroupedDelta implements LinearDelta {
  constructor(
    private readonly deltas: readonly LinearDelta[],
    private readonly rows: readonly number[],
  ) {
    if (deltas.length !== rows.length) throw new Error('RowGroupedDelta: one row count per delta');
  }

  delta(module: string, x: Tensor2D): Tensor2D | undefined {
    const total = this.rows.reduce((s, r) => s + r, 0);
    if (x.shape[0] !== total) throw new Error(`RowGroupedDelta: x has ${x.shape[0]} rows, groups ${total}`);
    // Slices, not tf.split: SplitV's gradient fails when only some of its outputs receive one.
    let start = 0;
    const ys = this.rows.map((n, i) => {
      const part = tf.slice(x, [start, 0], [n, -1]) as Tensor2D;
      start += n;
      return this.deltas[i]!.delta(module, part);
    });
    const width = ys.find((y) => y !== undefined)?.shape[1];
    if (width === undefined) return undefined;
    return tf.concat(
      ys.map((y, i) => y ?? (tf.zeros([this.rows[i]!, width]) as Tensor2D)),
      0,
    ) as Tensor2D;
  }
}
