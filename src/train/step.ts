/**
 * One optimisation step of a causal LM: forward → fused cross-entropy → gradients of the trainable variables only
 * (base weights outside the list are never touched) → optional gradient accumulation over micro-batches → global-norm
 * clipping → AdamW.
 */
import { fused } from '../engine/fused.js';
import { type Tensor, type Tensor2D, tf, type Variable } from '../engine/tf.js';
import type { LinearDelta } from '../model/linear.js';
import type { Transformer } from '../model/model.js';
import { type Batch, weightSum } from './data.js';
import { checkpointedGradients } from './grad-checkpoint.js';
import { addGradients } from './grads.js';
import { type AdamW, clipByGlobalNorm } from './optimizer.js';

export interface StepOptions {
  readonly deltas?: readonly LinearDelta[];
  /** Clip the global gradient norm to this value (0 or undefined = no clipping). */
  readonly clipNorm?: number;
  /** Recompute each block in the backward pass instead of storing its activations. */
  readonly gradientCheckpointing?: boolean;
}

export interface StepResult {
  /** Weighted mean cross-entropy over all micro-batches (before the update). */
  readonly loss: number;
  readonly gradNorm: number;
}

/** Weighted mean token cross-entropy of `batch` as a scalar tensor; `normalizer` overrides Σ weights. */
export function lmLoss(
  model: Transformer,
  batch: Batch,
  deltas: readonly LinearDelta[] = [],
  normalizer?: number,
): Tensor {
  return tf.tidy(() => {
    const ids = tf.tensor2d(batch.ids, [batch.b, batch.t], 'int32') as Tensor2D;
    // Logits only where the loss looks, when that is under half the positions (completion-only losses).
    const rows = weightedRows(batch.weights);
    const sparse = rows.length > 0 && rows.length * 2 <= batch.weights.length;
    const logits = model.forward(ids, { deltas, training: true, ...(sparse ? { rows } : {}) });
    const flat = tf.reshape(logits, [-1, model.config.vocabSize]);
    const ce = sparse
      ? fused.crossEntropy(
          flat,
          tf.tensor1d(
            Int32Array.from(rows, (r) => batch.targets[r]!),
            'int32',
          ),
          tf.tensor1d(
            Float32Array.from(rows, (r) => batch.weights[r]!),
            'float32',
          ),
        )
      : fused.crossEntropy(flat, tf.tensor1d(batch.targets, 'int32'), tf.tensor1d(batch.weights, 'float32'));
    if (normalizer === undefined) return ce;
    const w = weightSum(batch);
    return tf.mul(ce, w / normalizer);
  });
}

function weightedRows(w: Float32Array): Int32Array {
  const rows: number[] = [];
  for (let i = 0; i < w.length; i++) if (w[i] !== 0) rows.push(i);
  return Int32Array.from(rows);
}

/**
 * Gradients of the loss over `microBatches` w.r.t. `vars`, accumulated so that k micro-batches give exactly the
 * gradient of one batch holding all their rows (each micro-batch's mean is re-weighted by its share of the weights).
 */
export function accumulateGradients(
  model: Transformer,
  vars: ReadonlyMap<string, Variable>,
  microBatches: readonly Batch[],
  deltas: readonly LinearDelta[] = [],
  gradientCheckpointing = false,
): { loss: number; grads: Map<string, Tensor> } {
  const names = [...vars.keys()];
  const list = names.map((n) => vars.get(n) as Variable);
  const total = microBatches.reduce((s, b) => s + weightSum(b), 0);
  const norm = total > 0 ? total : 1;
  const acc = new Map<string, Tensor>();
  let loss = 0;
  for (const mb of microBatches) {
    if (gradientCheckpointing) {
      loss += checkpointedGradients(model, vars, mb, deltas, weightSum(mb) / norm, acc);
      continue;
    }
    const { value, grads } = tf.variableGrads(() => lmLoss(model, mb, deltas, norm) as tf.Scalar, list);
    loss += value.dataSync()[0] as number;
    value.dispose();
    addGradients(acc, names, list, grads);
  }
  return { loss, grads: acc };
}

export function trainStep(
  model: Transformer,
  vars: ReadonlyMap<string, Variable>,
  optimizer: AdamW,
  microBatches: readonly Batch[],
  lr: number,
  opts: StepOptions = {},
): StepResult {
  const { loss, grads } = accumulateGradients(
    model,
    vars,
    microBatches,
    opts.deltas ?? [],
    opts.gradientCheckpointing === true,
  );
  const gradNorm =
    opts.clipNorm !== undefined && opts.clipNorm > 0 ? clipByGlobalNorm(grads, opts.clipNorm) : Number.NaN;
  optimizer.update(grads, lr);
  for (const g of grads.values()) g.dispose();
  return { loss, gradNorm };
}
