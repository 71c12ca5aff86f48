/**
 * The least-squares composition of edits (seal/delta/compose.ts) on synthetic fast-weight factors: one edit is kept
 * as it is; edits with orthogonal keys compose to their sum; edits that share their keys compose to their average,
 * not their sum; the ordinary-input term shrinks the delta along the directions ordinary inputs use. And on a real
 * (tiny) generator: its edits compose into a DenseDelta the model's forward pass applies.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../src/engine/index.js';
import { type Tensor2D, tf } from '../src/engine/tf.js';
import { Transformer } from '../src/model/model.js';
import { type ComposableEdit, composeLeastSquares } from '../src/seal/delta/compose.js';
import { EditGenerator, EditGeneratorConfigSchema } from '../src/seal/delta/generator.js';
import { Rng } from '../src/util/rng.js';
import { tinyLlama } from './helpers/models.js';

const IN = 6;
const OUT = 3;

/** An edit ΔW = Kᵀ V with the given key rows (each of length IN) and seeded values. */
function edit(keyRows: readonly (readonly number[])[], seed: number): ComposableEdit & { w: number[][] } {
  const rng = new Rng(seed);
  const v = keyRows.map(() => Array.from({ length: OUT }, () => rng.normal()));
  const w = Array.from({ length: IN }, (_, i) =>
    Array.from({ length: OUT }, (_, o) => keyRows.reduce((s, k, t) => s + k[i]! * v[t]![o]!, 0)),
  );
  return {
    w,
    fastFactors: () => ({
      keys: tf.tensor2d(keyRows.map((r) => [...r])) as Tensor2D,
      values: tf.tensor2d(v) as Tensor2D,
    }),
    weight: () => tf.tensor2d(w) as Tensor2D,
  };
}

const unit = (i: number, scale = 1) => Array.from({ length: IN }, (_, j) => (j === i ? scale : 0));
const composedWeight = (
  edits: ComposableEdit[],
  mu = 0,
  moments?: Map<string, { c: number[]; dim: number }>,
) => {
  const d = composeLeastSquares(edits, ['m'], {
    mu,
    ridge: 1e-9,
    ...(moments === undefined ? {} : { moments }),
  });
  const w = d.weight('m')!.arraySync() as number[][];
  d.dispose();
  return w;
};
const close = (a: number[][], b: number[][], tol = 1e-3) => {
  for (let i = 0; i < a.length; i++)
    for (let j = 0; j < a[i]!.length; j++) expect(a[i]![j]!).toBeCloseTo(b[i]![j]!, -Math.log10(tol));
};

beforeAll(async () => {
  await initEngine('wasm');
});

describe('least-squares composition of edits', () => {
  it('one edit composes to itself', () => {
    const e = edit([unit(0), unit(1, 2), [0.5, 0.5, 0, 0, 0, 1]], 1);
    close(composedWeight([e]), e.w);
  });

  it('edits with orthogonal keys compose to their sum', () => {
    const a = edit([unit(0), unit(1)], 2);
    const b = edit([unit(2), unit(3, 3)], 3);
    const sum = a.w.map((row, i) => row.map((x, j) => x + b.w[i]![j]!));
    close(composedWeight([a, b]), sum);
  });

  it('edits that share their keys compose to their average, not their sum', () => {
    const keys = [unit(0), unit(4, 2)];
    const a = edit(keys, 4);
    const b = edit(keys, 5);
    const avg = a.w.map((row, i) => row.map((x, j) => (x + b.w[i]![j]!) / 2));
    close(composedWeight([a, b]), avg);
  });

  it('μ > 0 shrinks the delta along what ordinary inputs use, and needs their moments', () => {
    const a = edit([unit(0), unit(1)], 6);
    // Ordinary inputs live on direction 0 only.
    const c = Array.from({ length: IN * IN }, (_, k) => (k === 0 ? 1 : 0));
    const w = composedWeight([a], 1, new Map([['m', { c, dim: IN }]]));
    const norm = (row: number[]) => Math.hypot(...row);
    expect(norm(w[0]!)).toBeLessThan(0.75 * norm(a.w[0]!));
    expect(norm(w[1]!)).toBeCloseTo(norm(a.w[1]!), 3);
    expect(() => composeLeastSquares([a], ['m'], { mu: 1 })).toThrow(/needs the input moments of m/);
  });

  it("a real generator's edits compose into a delta the forward pass applies; no tensor leaks", () => {
    const config = tinyLlama({ vocabSize: 64 });
    const model = Transformer.init(config, 3);
    const gen = new EditGenerator(
      model,
      EditGeneratorConfigSchema.parse({
        latent: 8,
        hidden: 8,
        fastWeights: true,
        targetModules: ['down_proj'],
      }),
    );
    // Give the fast-weight values something to write (they start at zero: the zero edit).
    const rng = new Rng(9);
    for (const v of gen.fastVariables()) v.assign(tf.randomNormal(v.shape, 0, 0.5, 'float32', rng.int(1e6)));
    const hidden = [0, 1].map((s) => tf.randomNormal([5, config.dim], 0, 1, 'float32', s) as Tensor2D);
    const z = tf.zeros([1, gen.config.latent]) as Tensor2D;
    const edits = hidden.map((h) => gen.edit(z, h));
    const modules = [...gen.decoder.keys()];
    const ids = tf.tensor2d([[1, 2, 3, 4]], [1, 4], 'int32') as Tensor2D;
    // A first forward pass builds the model's cached constants (RoPE tables); count tensors after it.
    tf.tidy(() => model.forward(ids));
    const before = tf.memory().numTensors;
    const composed = composeLeastSquares(edits, modules, { mu: 0 });
    expect(tf.memory().numTensors - before).toBe(modules.length);
    const diff = tf.tidy(
      () =>
        tf
          .sub(model.forward(ids, { deltas: [composed] }), model.forward(ids))
          .abs()
          .max()
          .dataSync()[0]!,
    );
    expect(diff).toBeGreaterThan(0);
    composed.dispose();
    expect(tf.memory().numTensors).toBe(before);
    for (const t of [...hidden, z, ids]) t.dispose();
    gen.dispose();
    model.dispose();
  });
});
