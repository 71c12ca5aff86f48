/**
 * The EditGenerator's view of a document, from one pass of the frozen base up to block `layer`:
 *   embedding  the hidden states mean-pooled over the passage's tokens and normalised to zero mean and unit variance
 *              across features (MEND found input normalisation essential) — the policy's observation;
 *   hidden     every token's hidden state, RMS-normalised — what the token-level fast-weight write reads.
 * No gradient flows into the base.
 */
import { type Tensor2D, tf } from '../../engine/tf.js';
import type { Transformer } from '../../model/model.js';
import type { Context } from '../../tasks/types.js';
import type { Tokenizer } from '../../tokenizer/types.js';

/** The document an edit is read from: a context's title line, then its passage (training and evaluation alike). */
export function editText(c: Pick<Context, 'title' | 'passage'>): string {
  return `${c.title}\n${c.passage}`;
}

/** Default pooling layer: the middle block (late layers are shaped by next-token prediction, early ones by form). */
export function defaultEmbeddingLayer(model: Transformer): number {
  return Math.max(0, Math.floor(model.config.nLayers / 2) - 1);
}

export interface ContextView {
  /** (C) pooled, normalised. */
  readonly embedding: Float32Array;
  /** (T, C) per-token, RMS-normalised; owned by the caller (dispose it). */
  readonly hidden: Tensor2D;
}

/**
 * The hidden states (T, C) after block `layer` (0-based) of one pass over `ids` (cut to the model's context), no
 * gradient into the base; owned by the caller.
 */
export function blockStates(model: Transformer, ids: readonly number[], layer: number): Tensor2D {
  const nLayers = model.config.nLayers;
  if (!Number.isInteger(layer) || layer < 0 || layer >= nLayers)
    throw new Error(`embedding layer ${layer} is not a block index 0..${nLayers - 1}`);
  const cut = ids.slice(0, model.config.maxSeqLen);
  return tf.tidy(() => {
    const { state, x: x0 } = model.begin(tf.tensor2d([...cut], [1, cut.length], 'int32') as Tensor2D);
    let x = x0; // (T, C)
    for (let l = 0; l <= layer; l++) x = model.layer(state, l, x);
    return x;
  });
}

/** Each row of `x` (T, C) divided by its root mean square: what the fast-weight write and the router read. */
export function rmsNormalised(x: Tensor2D): Tensor2D {
  return tf.tidy(() => tf.div(x, tf.sqrt(tf.add(tf.mean(tf.square(x), -1, true), 1e-5))) as Tensor2D);
}

/** One pass over `text`: its pooled embedding and per-token hidden states after block `layer` (0-based). */
export function readContext(model: Transformer, tok: Tokenizer, text: string, layer: number): ContextView {
  const ids = tok.encode(text, { addBos: true });
  if (ids.length === 0) throw new Error('cannot embed an empty passage');
  const [pooledT, hidden] = tf.tidy(() => {
    const x = blockStates(model, ids, layer); // (T, C)
    const pooled = tf.mean(x, 0); // (C)
    const { mean, variance } = tf.moments(pooled);
    return [tf.div(tf.sub(pooled, mean), tf.sqrt(tf.add(variance, 1e-5))), rmsNormalised(x)];
  });
  const embedding = pooledT.dataSync() as Float32Array;
  pooledT.dispose();
  return { embedding, hidden };
}

/** (C) pooled embedding of `text` alone. */
export function contextEmbedding(
  model: Transformer,
  tok: Tokenizer,
  text: string,
  layer: number,
): Float32Array {
  const v = readContext(model, tok, text, layer);
  v.hidden.dispose();
  return v.embedding;
}
