/**
 * Gradient checkpointing: the forward pass keeps only each block's input; the backward pass recomputes one block
 * at a time and backpropagates through it with the gradient arriving from above. Peak activation memory drops
 * from all blocks to one block (plus the L block inputs), at the cost of a second forward pass — what lets larger
 * models train inside the 4 GB wasm heap. Gradients equal the plain ones (tested to 1e-5).
 */
import { fused } from '../engine/fused.js';
import { type Tensor, type Tensor2D, tf, type Variable } from '../engine/tf.js';
import type { LinearDelta } from '../model/linear.js';
import type { PassState, Transformer } from '../model/model.js';
import type { Batch } from './data.js';
import { addGradients } from './grads.js';

const embeddingNames = new Set([
  'model.embed_tokens.weight',
  'transformer.wte.weight',
  'transformer.wpe.weight',
]);

/** Loss (× `scale`) and gradients of `vars` for one batch, recomputing each block in the backward pass. */
export function checkpointedGradients(
  model: Transformer,
  vars: ReadonlyMap<string, Variable>,
  batch: Batch,
  deltas: readonly LinearDelta[],
  scale: number,
  acc: Map<string, Tensor>,
): number {
  const names = [...vars.keys()];
  const list = names.map((n) => vars.get(n) as Variable);
  const ids = tf.tensor2d(batch.ids, [batch.b, batch.t], 'int32') as Tensor2D;
  const targets = tf.tensor1d(batch.targets, 'int32');
  const weights = tf.tensor1d(batch.weights, 'float32');
  let state: PassState | undefined;
  const x0 = tf.tidy(() => {
    const r = model.begin(ids, { deltas, training: true });
    state = r.state;
    tf.keep(r.state.inp.positions);
    tf.keep(r.state.inp.mask);
    return r.x;
  });
  const pass = state as PassState;
  const inputs: Tensor2D[] = [x0];
  // Each block's recompute must draw the dropout masks its first pass drew: remember where the streams stood.
  const randomStates = (): (number | undefined)[] => deltas.map((d) => d.randomState?.get());
  const setRandomStates = (states: readonly (number | undefined)[]): void =>
    deltas.forEach((d, i) => {
      const s = states[i];
      if (s !== undefined) d.randomState?.set(s);
    });
  const layerStates: (number | undefined)[][] = [];
  try {
    // Forward without a tape: only the block boundaries survive.
    for (let l = 0; l < model.config.nLayers; l++) {
      const prev = inputs[l] as Tensor2D;
      layerStates.push(randomStates());
      inputs.push(tf.tidy(() => model.layer(pass, l, prev)));
    }
    const top = tf.variable(inputs[model.config.nLayers] as Tensor2D, true);
    const headOut = tf.variableGrads(() => {
      const logits = tf.reshape(model.end(pass, top, { training: true }), [
        batch.b * batch.t,
        model.config.vocabSize,
      ]);
      return tf.mul(fused.crossEntropy(logits, targets, weights), scale) as tf.Scalar;
    }, [...list, top]);
    const loss = headOut.value.dataSync()[0] as number;
    headOut.value.dispose();
    let dy = headOut.grads[top.name] as Tensor;
    delete headOut.grads[top.name];
    top.dispose();
    addGradients(acc, names, list, headOut.grads);
    const afterHead = randomStates();
    for (let l = model.config.nLayers - 1; l >= 0; l--) {
      setRandomStates(layerStates[l] ?? []);
      const xv = tf.variable(inputs[l] as Tensor2D, true);
      const g = tf.variableGrads(
        () => tf.sum(tf.mul(model.layer(pass, l, xv), dy)) as tf.Scalar,
        [...list, xv],
      );
      g.value.dispose();
      dy.dispose();
      dy = g.grads[xv.name] as Tensor;
      delete g.grads[xv.name];
      xv.dispose();
      addGradients(acc, names, list, g.grads);
    }
    setRandomStates(afterHead);
    // The embeddings only matter when they are trained (full fine-tuning), not for adapters.
    if (names.some((n) => embeddingNames.has(n))) {
      const emb = tf.variableGrads(() => {
        const r = model.begin(ids, { deltas, training: true });
        return tf.sum(tf.mul(r.x, dy)) as tf.Scalar;
      }, list);
      emb.value.dispose();
      addGradients(acc, names, list, emb.grads);
    }
    dy.dispose();
    return loss;
  } finally {
    for (const t of inputs) t.dispose();
    pass.inp.positions.dispose();
    pass.inp.mask.dispose();
    ids.dispose();
    targets.dispose();
    weights.dispose();
  }
}
