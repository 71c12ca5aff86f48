import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine, tf } from '../src/engine/index.js';
import { Rng } from '../src/util/rng.js';

function randn(rng: Rng, shape: number[]): tf.Tensor {
  const n = shape.reduce((p, d) => p * d, 1);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return tf.tensor(a, shape);
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  expect(x.length).toBe(y.length);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs((x[i] as number) - (y[i] as number)));
  return m;
}

/** Runs `f` on the cpu backend (the reference) and returns plain arrays. */
async function onCpu(f: () => tf.Tensor): Promise<tf.Tensor> {
  await tf.setBackend('cpu');
  const r = f();
  const out = tf.tensor(r.dataSync(), r.shape);
  await tf.setBackend('wasm');
  return out;
}

describe('engine (wasm with our kernels)', () => {
  beforeAll(async () => {
    await initEngine('wasm');
  });

  it('matmul matches the cpu backend for every transpose and batch layout', async () => {
    const rng = new Rng(1);
    const cases: Array<[number[], number[], boolean, boolean]> = [
      [[5, 7], [7, 3], false, false],
      [[7, 5], [7, 3], true, false],
      [[5, 7], [3, 7], false, true],
      [[7, 5], [3, 7], true, true],
      [[4, 5, 7], [4, 7, 3], false, false],
      [[4, 5, 7], [4, 3, 7], false, true],
      [[4, 7, 5], [4, 7, 3], true, false],
      [[2, 3, 5, 7], [2, 3, 7, 6], false, false],
      [[4, 5, 7], [7, 3], false, false],
    ];
    for (const [sa, sb, ta, tb] of cases) {
      const aData = randn(rng, sa).arraySync();
      const bData = randn(rng, sb).arraySync();
      const ref = await onCpu(() =>
        tf.matMul(tf.tensor(aData as number[]), tf.tensor(bData as number[]), ta, tb),
      );
      const got = tf.matMul(tf.tensor(aData as number[]), tf.tensor(bData as number[]), ta, tb);
      expect(got.shape).toEqual(ref.shape);
      expect(maxAbsDiff(got, ref)).toBeLessThan(1e-4);
    }
  });

  it('repeated matmuls with fresh data never return stale (cached) results', () => {
    const rng = new Rng(2);
    for (let i = 0; i < 5; i++) {
      const a = randn(rng, [3, 4, 8]);
      const b = randn(rng, [3, 8, 5]);
      const got = tf.matMul(a, b);
      const ref = tf.stack(
        [0, 1, 2].map((j) => {
          const aj = a.slice([j, 0, 0], [1, 4, 8]).reshape([4, 8]).arraySync() as number[][];
          const bj = b.slice([j, 0, 0], [1, 8, 5]).reshape([8, 5]).arraySync() as number[][];
          return tf.tensor(
            aj.map((row) => bj[0]!.map((_, c) => row.reduce((s, v, k) => s + v * bj[k]![c]!, 0))),
          );
        }),
      );
      expect(maxAbsDiff(got, ref)).toBeLessThan(1e-4);
    }
  });

  it('gather gradient (UnsortedSegmentSum) runs on wasm and matches a hand count', () => {
    const table = tf.variable(tf.zeros([5, 3]));
    const ids = tf.tensor1d([0, 2, 2, 4, 2], 'int32');
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.gather(t, ids)))(table);
    expect(Array.from(g.dataSync())).toEqual([1, 1, 1, 0, 0, 0, 3, 3, 3, 0, 0, 0, 1, 1, 1]);
    expect(tf.getBackend()).toBe('wasm');
  });
});
