/**
 * Native acceleration (native/, src/engine/native): every native kernel and fused op must agree with the pure-wasm
 * path — forward values and gradients — to 1e-5 relative (max |Δ| / max |reference|), and so must a whole model's
 * loss and parameter gradients. Each case runs once with native off and once with it on, in this one process.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { fused } from '../src/engine/fused.js';
import {
  adamwUpdateNative,
  engineInfo,
  initEngine,
  nativeAdamWActive,
  nativeInfo,
  tf,
} from '../src/engine/index.js';
import { parseModelConfig } from '../src/model/config.js';
import { Transformer } from '../src/model/model.js';
import { AdamW } from '../src/train/optimizer.js';
import { Rng } from '../src/util/rng.js';

const info = nativeInfo();
const TOL = 1e-5;

type Arrays = Float32Array[];

function randn(rng: Rng, shape: number[], scale = 1): tf.Tensor {
  const n = shape.reduce((p, d) => p * d, 1);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * scale;
  return tf.tensor(a, shape);
}

/** Runs `f` with native off, then on; `f` builds its own inputs from `seed` so both runs see the same data. */
async function both(f: (rng: Rng) => tf.Tensor[], seed = 1): Promise<[Arrays, Arrays, number[][]]> {
  const run = async (native: boolean): Promise<[Arrays, number[][]]> => {
    await initEngine('wasm', { native });
    return tf.tidy(() => {
      const outs = f(new Rng(seed));
      return [outs.map((t) => Float32Array.from(t.dataSync())), outs.map((t) => t.shape)] as [
        Arrays,
        number[][],
      ];
    });
  };
  const [ref, shapes] = await run(false);
  const [got, shapesOn] = await run(true);
  expect(shapesOn).toEqual(shapes);
  return [ref, got, shapes];
}

function relErr(ref: Float32Array, got: Float32Array): number {
  expect(got.length).toBe(ref.length);
  let maxRef = 0;
  let maxDiff = 0;
  for (let i = 0; i < ref.length; i++) {
    const r = ref[i] as number;
    const g = got[i] as number;
    if (Number.isNaN(r) || Number.isNaN(g)) return Number.NaN;
    maxRef = Math.max(maxRef, Math.abs(r));
    maxDiff = Math.max(maxDiff, Math.abs(r - g));
  }
  return maxRef === 0 ? maxDiff : maxDiff / maxRef;
}

async function expectSame(label: string, f: (rng: Rng) => tf.Tensor[], seed = 1, tol = TOL): Promise<void> {
  const [ref, got] = await both(f, seed);
  ref.forEach((r, i) => {
    const e = relErr(r, got[i] as Float32Array);
    expect(e, `${label}: output ${i} relative error ${e}`).toBeLessThanOrEqual(tol);
  });
}

/** Value and the gradients of Σ value·r (a random cotangent) with respect to `wrt` of the inputs. */
function valueAndGrads(
  rng: Rng,
  inputs: tf.Tensor[],
  wrt: number[],
  op: (...xs: tf.Tensor[]) => tf.Tensor,
): tf.Tensor[] {
  const y = op(...inputs);
  const r = randn(rng, y.shape);
  const g = tf.grads((...xs: tf.Tensor[]) => {
    const all = [...inputs];
    wrt.forEach((w, i) => {
      all[w] = xs[i] as tf.Tensor;
    });
    return tf.sum(tf.mul(op(...all), r));
  });
  return [y, ...g(wrt.map((w) => inputs[w] as tf.Tensor))];
}

/** Additive mask (MB, 1, T, Tk): causal with `past` cached keys, optional padded keys per batch row. */
function mask(mb: number, t: number, tk: number, padFrom: number[] | undefined): tf.Tensor {
  const past = tk - t;
  const d = new Float32Array(mb * t * tk);
  for (let b = 0; b < mb; b++)
    for (let i = 0; i < t; i++)
      for (let j = 0; j < tk; j++) {
        const allowed = j <= past + i && (padFrom === undefined || j < (padFrom[b] as number));
        d[(b * t + i) * tk + j] = allowed ? 0 : -1e9;
      }
  return tf.tensor4d(d, [mb, 1, t, tk]);
}

/** A model's loss and every parameter gradient (sorted by name), with padding and zero-weight positions. */
function modelStep(arch: 'gpt2' | 'llama', dim: number, b: number, t: number): (rng: Rng) => tf.Tensor[] {
  const config = parseModelConfig(
    {
      arch,
      modelType: arch,
      vocabSize: 97,
      dim,
      nLayers: 2,
      nHeads: 6,
      nKvHeads: arch === 'llama' ? 2 : 6,
      hiddenDim: dim * 2 + 16,
      maxSeqLen: t,
      normEps: 1e-5,
      ropeTheta: 10000,
      tieEmbeddings: arch === 'gpt2',
      attnBias: arch === 'gpt2',
    },
    'test',
  );
  return (rng) => {
    const model = Transformer.init(config, 11);
    const ids = tf.tensor2d(
      Array.from({ length: b * t }, () => rng.int(config.vocabSize)),
      [b, t],
      'int32',
    );
    const targets = tf.tensor1d(
      Array.from({ length: b * t }, () => rng.int(config.vocabSize)),
      'int32',
    );
    const weights = tf.tensor1d(Array.from({ length: b * t }, (_, i) => (i % t < 4 ? 0 : 1)));
    const keyMask = Array.from({ length: b }, (_, r) =>
      Array.from({ length: t }, (_, j) => (r === 1 && j >= t - 5 ? 0 : 1)),
    );
    const { value, grads } = tf.variableGrads(() => {
      const logits = model.forward(ids, { training: true, keyMask });
      return fused.crossEntropy(tf.reshape(logits, [b * t, config.vocabSize]), targets, weights) as tf.Scalar;
    });
    const names = [...model.params.keys()].sort();
    const out = [value, ...names.map((n) => grads[(model.params.get(n) as tf.Variable).name] as tf.Tensor)];
    model.dispose();
    return out;
  };
}

describe.skipIf(!info.available)(`native kernels (${info.detail})`, () => {
  afterAll(async () => {
    await initEngine('wasm');
  });

  it('engine reports the addon, switches off and on again, and is idempotent', async () => {
    await initEngine('wasm', { native: false });
    expect(engineInfo().native.available).toBe(false);
    expect(tf.getKernel('SealAttention', 'wasm')).toBeUndefined();
    const on = await initEngine('wasm');
    expect(on.native.available).toBe(true);
    expect(on.native.detail).toMatch(/^gemm: (OpenBLAS|own SGEMM).*\d+ threads/);
    await initEngine('wasm');
    expect(tf.getKernel('SealAttention', 'wasm')).toBeDefined();
    expect(engineInfo().native.available).toBe(true);
  });

  it('BatchMatMul: every transpose, batch and broadcast layout, and its gradients', async () => {
    const cases: Array<[number[], number[], boolean, boolean]> = [
      [[5, 7], [7, 3], false, false],
      [[7, 5], [7, 3], true, false],
      [[5, 7], [3, 7], false, true],
      [[7, 5], [3, 7], true, true],
      [[4, 5, 7], [4, 7, 3], false, false],
      [[4, 5, 7], [4, 3, 7], false, true],
      [[4, 7, 5], [4, 7, 3], true, false],
      [[4, 7, 5], [4, 3, 7], true, true],
      [[2, 3, 5, 7], [2, 3, 7, 6], false, false],
      [[4, 5, 7], [7, 3], false, false],
      [[4, 7, 5], [7, 3], true, false],
      [[5, 7], [4, 7, 3], false, false],
      [[1, 4, 5, 7], [4, 3, 7], false, true],
      [[300, 64], [64, 200], false, false], // large enough to split rows across threads
      [[64, 300], [200, 64], true, true],
      [[20, 64], [64, 500], false, false], // split by columns
      [[64, 20], [500, 64], true, true],
      [[6, 96, 64], [6, 64, 80], false, false],
    ];
    for (const [sa, sb, ta, tb] of cases) {
      // tfjs's own BatchMatMul gradient does not reduce broadcast batch dimensions: values only there.
      const broadcast = sa.length !== sb.length;
      await expectSame(`matmul ${sa} ${sb} ${ta} ${tb}`, (rng) => {
        const a = randn(rng, sa);
        const b = randn(rng, sb);
        const mm = (x?: tf.Tensor, y?: tf.Tensor) => tf.matMul(x as tf.Tensor, y as tf.Tensor, ta, tb);
        return broadcast ? [mm(a, b)] : valueAndGrads(rng, [a, b], [0, 1], mm);
      });
    }
  });

  it('BatchMatMul with an empty inner dimension gives zeros (the wasm kernel leaves memory uninitialised)', async () => {
    await initEngine('wasm');
    expect(Array.from(tf.matMul(tf.zeros([3, 0]), tf.zeros([0, 4])).dataSync())).toEqual(Array(12).fill(0));
  });

  it('Sum over leading, trailing, middle and scattered axes', async () => {
    const cases: Array<[number | number[], boolean]> = [
      [0, false],
      [-1, false],
      [1, true],
      [[0, 1], false],
      [[1, 2], true],
      [[0, 2], false], // not contiguous: the wasm kernel runs
    ];
    for (const [axis, keep] of cases) {
      await expectSame(`sum ${axis} ${keep}`, (rng) => [tf.sum(randn(rng, [6, 300, 5]), axis, keep)]);
    }
    // A 9,000-term sum: wasm's float32 accumulation is itself off by ~5e-5 here, so check against float64.
    await initEngine('wasm');
    const data = randn(new Rng(3), [6, 300, 5]).dataSync();
    let exact = 0;
    let scale = 0;
    for (const x of data) {
      exact += x;
      scale += Math.abs(x);
    }
    const got = tf.sum(tf.tensor(data, [6, 300, 5])).dataSync()[0] as number;
    expect(Math.abs(got - exact) / scale).toBeLessThan(1e-7);
  });

  it('GatherV2, UnsortedSegmentSum (the embedding and its gradient), SplitV, Concat, Identity', async () => {
    await expectSame('gather', (rng) => {
      const table = randn(rng, [11, 6]);
      const ids = tf.tensor2d([0, 3, 10, 3, 3, 7], [2, 3], 'int32');
      return valueAndGrads(rng, [table], [0], (t) => tf.gather(t as tf.Tensor, ids));
    });
    await expectSame('gather axis 1 and int32 table', () => [
      tf.gather(tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]), tf.tensor1d([2, 0], 'int32'), 1),
      tf.gather(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32'), tf.tensor1d([2, 0, 2], 'int32')),
    ]);
    await expectSame('segment sum', (rng) => [
      tf.unsortedSegmentSum(randn(rng, [9, 4, 3]), tf.tensor1d([2, 0, 2, 5, 1, 0, 2, 2, 4], 'int32'), 6),
    ]);
    const splits = [
      [1, 2, 1],
      [1, 3, 2],
      [3, 1, 4],
    ];
    for (const axis of [0, 1, 2]) {
      await expectSame(`split/concat axis ${axis}`, (rng) => {
        const x = randn(rng, [4, 6, 8]);
        const parts = tf.split(x, splits[axis] as number[], axis);
        const r = randn(rng, [4, 6, 8]);
        const g = tf.grad((t: tf.Tensor) => {
          const [p, q] = tf.split(t, 2, axis) as [tf.Tensor, tf.Tensor];
          return tf.sum(tf.mul(tf.concat([q, p], axis), r));
        })(x);
        return [...parts, tf.concat([parts[2] as tf.Tensor, parts[0] as tf.Tensor], axis), g];
      });
    }
    const x = tf.tensor1d([1, 2, 3]);
    const y = tf.clone(x);
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3]);
    y.dispose();
  });

  it('Add (same shape, bias rows, scalars, other broadcasts) and Transpose (rows and general)', async () => {
    const adds: Array<[number[], number[]]> = [
      [
        [300, 70],
        [300, 70],
      ],
      [[300, 70], [70]],
      [[70], [5, 300, 70]],
      [
        [4, 300, 70],
        [1, 300, 70],
      ],
      [[300, 70], []],
      [
        [1, 1],
        [300, 70],
      ],
      [
        [300, 1],
        [1, 70],
      ], // general broadcast: the wasm kernel runs
    ];
    for (const [sa, sb] of adds) {
      await expectSame(`add ${sa} + ${sb}`, (rng) => [tf.add(randn(rng, sa), randn(rng, sb))]);
    }
    const perms: Array<[number[], number[]]> = [
      [
        [3, 70, 4, 16],
        [0, 2, 1, 3],
      ],
      [
        [3, 4, 70, 16],
        [0, 2, 1, 3],
      ],
      [
        [5, 6, 7],
        [1, 0, 2],
      ],
      [
        [2, 3, 4, 5, 6],
        [3, 0, 2, 1, 4],
      ],
      [
        [30, 40],
        [1, 0],
      ], // last axis moves: the wasm kernel runs
    ];
    for (const [shape, perm] of perms) {
      await expectSame(`transpose ${shape} ${perm}`, (rng) =>
        valueAndGrads(rng, [randn(rng, shape)], [0], (x) => tf.transpose(x as tf.Tensor, perm)),
      );
    }
    await expectSame('int32 transpose', () => [
      tf.transpose(tf.range(0, 24, 1, 'int32').reshape([2, 3, 4]), [1, 0, 2]),
    ]);
  });

  it('rmsNorm and layerNorm: values and gradients for x, weight and bias', async () => {
    await expectSame('rmsNorm', (rng) =>
      valueAndGrads(rng, [randn(rng, [3, 17, 48], 2), randn(rng, [48])], [0, 1], (x, w) =>
        fused.rmsNorm(x as tf.Tensor, w as tf.Tensor, 1e-5),
      ),
    );
    await expectSame('layerNorm', (rng) =>
      valueAndGrads(
        rng,
        [tf.add(randn(rng, [51, 128], 3), 1.5), randn(rng, [128]), randn(rng, [128])],
        [0, 1, 2],
        (x, w, b) => fused.layerNorm(x as tf.Tensor, w as tf.Tensor, b as tf.Tensor, 1e-5),
      ),
    );
  });

  it('geluNew and swiglu over a wide input range', async () => {
    const wide = (rng: Rng, shape: number[]) =>
      tf.concat([randn(rng, shape, 3), tf.tensor([-100, -30, -9, -1e-4, 0, 1e-4, 0.6, 9, 30, 100])]);
    await expectSame('gelu', (rng) =>
      valueAndGrads(rng, [wide(rng, [40000])], [0], (x) => fused.geluNew(x as tf.Tensor)),
    );
    await expectSame('swiglu', (rng) =>
      valueAndGrads(rng, [wide(rng, [40000]), wide(rng, [40000])], [0, 1], (g, u) =>
        fused.swiglu(g as tf.Tensor, u as tf.Tensor),
      ),
    );
  });

  it('attention: causal, padded and fully masked rows, per-row masks, GQA layout, cached keys', async () => {
    const cases: Array<{
      b: number;
      g: number;
      r: number;
      t: number;
      tk: number;
      d: number;
      pad?: number[];
    }> = [
      { b: 2, g: 3, r: 1, t: 9, tk: 9, d: 8 },
      { b: 2, g: 2, r: 3, t: 7, tk: 7, d: 16 }, // GQA: 3 query heads per kv head
      { b: 3, g: 2, r: 2, t: 6, tk: 6, d: 4, pad: [6, 3, 0] }, // last row: every key masked
      { b: 2, g: 2, r: 1, t: 3, tk: 10, d: 8, pad: [10, 8] }, // 7 cached keys
      { b: 4, g: 4, r: 1, t: 64, tk: 64, d: 32 },
    ];
    for (const c of cases) {
      await expectSame(`attention ${JSON.stringify(c)}`, (rng) => {
        const q = randn(rng, [c.b, c.g, c.r * c.t, c.d]);
        const k = randn(rng, [c.b, c.g, c.tk, c.d]);
        const v = randn(rng, [c.b, c.g, c.tk, c.d]);
        const m = mask(c.pad === undefined ? 1 : c.b, c.t, c.tk, c.pad);
        return valueAndGrads(rng, [q, k, v], [0, 1, 2], (qq, kk, vv) =>
          fused.attention(qq as tf.Tensor, kk as tf.Tensor, vv as tf.Tensor, m, 1 / Math.sqrt(c.d)),
        );
      });
    }
  });

  it('crossEntropy: weighted mean with zero weights, and all weights zero', async () => {
    for (const zeroAll of [false, true]) {
      await expectSame(`crossEntropy zeroAll=${zeroAll}`, (rng) => {
        const n = 37;
        const v = 300;
        const logits = randn(rng, [n, v], 4);
        const targets = tf.tensor1d(
          Array.from({ length: n }, () => rng.int(v)),
          'int32',
        );
        const w = tf.tensor1d(
          Array.from({ length: n }, (_, i) => (zeroAll || i % 4 === 0 ? 0 : 0.5 + rng.next())),
        );
        const loss = fused.crossEntropy(logits, targets, w);
        const g = tf.grad((l: tf.Tensor) => tf.mul(fused.crossEntropy(l, targets, w), 3))(logits);
        return [loss, g];
      });
    }
  });

  it('adamwUpdateNative matches the tfjs AdamW arithmetic (first step and later steps)', async () => {
    await initEngine('wasm');
    const rng = new Rng(5);
    const p = randn(rng, [1000]);
    const g = randn(rng, [1000]);
    const m = randn(rng, [1000], 0.1);
    const v = tf.abs(randn(rng, [1000], 0.01));
    const o = { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 3 };
    const reference = (mPrev: tf.Tensor | undefined, vPrev: tf.Tensor | undefined, step: number) =>
      tf.tidy(() => {
        const bc1 = 1 - o.beta1 ** step;
        const bc2 = 1 - o.beta2 ** step;
        const m1 =
          mPrev === undefined
            ? tf.mul(g, 1 - o.beta1)
            : tf.add(tf.mul(mPrev, o.beta1), tf.mul(g, 1 - o.beta1));
        const v1 =
          vPrev === undefined
            ? tf.mul(tf.square(g), 1 - o.beta2)
            : tf.add(tf.mul(vPrev, o.beta2), tf.mul(tf.square(g), 1 - o.beta2));
        const decayed = tf.mul(p, 1 - o.lr * o.weightDecay);
        return [
          m1,
          v1,
          tf.sub(decayed, tf.div(tf.mul(m1, o.lr / bc1), tf.add(tf.sqrt(tf.div(v1, bc2)), o.eps))),
        ];
      });
    for (const [mm, vv, step] of [
      [m, v, 3],
      [undefined, undefined, 1],
    ] as const) {
      const ref = reference(mm, vv, step);
      const got = adamwUpdateNative(p, g, mm, vv, { ...o, step });
      ref.forEach((r, i) => {
        const e = relErr(r.dataSync() as Float32Array, (got[i] as tf.Tensor).dataSync() as Float32Array);
        expect(e, `adamw output ${i}`).toBeLessThanOrEqual(TOL);
      });
      tf.dispose([...ref, ...got]);
    }
  });

  it("the AdamW optimizer takes the fused kernel when native is on, with the tfjs path's numbers", async () => {
    const rng = new Rng(9);
    const p0 = Array.from(randn(rng, [64, 32]).dataSync());
    const grads = [0, 1, 2].map(() => randn(rng, [64, 32]));
    const train = () => {
      const w = tf.variable(tf.tensor2d(p0, [64, 32]));
      const opt = new AdamW(new Map([['w', w]]));
      for (const g of grads) opt.update(new Map([['w', g]]), 1e-2);
      const out = w.dataSync() as Float32Array;
      opt.dispose();
      w.dispose();
      return out;
    };
    await initEngine('wasm', { native: false });
    expect(nativeAdamWActive()).toBe(false);
    const composite = train();
    await initEngine('wasm');
    expect(nativeAdamWActive()).toBe(true);
    const fusedOut = train();
    expect(relErr(composite, fusedOut)).toBeLessThanOrEqual(TOL);
    expect(relErr(new Float32Array(p0), fusedOut)).toBeGreaterThan(1e-3); // it did move
  });

  for (const arch of ['gpt2', 'llama'] as const) {
    it(`end to end: a small ${arch} model's loss and every parameter gradient`, async () => {
      await expectSame(`${arch} model`, modelStep(arch, 48, 3, 24));
    });
  }

  it('results are bit-identical run to run (threads claim work dynamically; sums are per chunk)', async () => {
    await initEngine('wasm');
    const once = () =>
      tf.tidy(() => modelStep('gpt2', 96, 8, 32)(new Rng(4)).map((t) => Array.from(t.dataSync())));
    expect(once()).toEqual(once());
  });
});

const bf16 = info.detail.includes('bf16 matmul available');

describe.skipIf(!bf16)('opt-in bf16 matrix products (oneDNN)', () => {
  afterAll(async () => {
    await initEngine('wasm');
  });

  it('are off by default, ~1e-3 relative when on, and switch back off', async () => {
    const rng = new Rng(8);
    const a = randn(rng, [300, 64]);
    const b = randn(rng, [200, 64]);
    await initEngine('wasm', { native: false });
    const ref = tf.matMul(a, b, false, true).dataSync() as Float32Array;
    const on = await initEngine('wasm', { bf16: true });
    expect(on.native.detail).toContain('bf16 matmuls ON');
    const e = relErr(ref, tf.matMul(a, b, false, true).dataSync() as Float32Array);
    expect(e).toBeGreaterThan(1e-5);
    expect(e).toBeLessThan(1e-2);
    const off = await initEngine('wasm');
    expect(off.native.detail).not.toContain('bf16 matmuls ON');
    expect(relErr(ref, tf.matMul(a, b, false, true).dataSync() as Float32Array)).toBeLessThan(TOL);
  });
});

describe.skipIf(info.available)('native kernels (addon not built)', () => {
  it(`reports why: ${info.detail}`, async () => {
    const e = await initEngine('wasm');
    expect(e.native.available).toBe(false);
    expect(e.native.detail.length).toBeGreaterThan(0);
  });
});
