/**
 * Our own SGEMM (native/src/sgemm*.cc): every instruction-set variant this CPU runs (AVX-512, AVX2 + FMA, portable)
 * against a float64 reference to 1e-5 relative (max |Δ| / max |reference|) on odd shapes, every transpose, 1-row
 * and 1-column products, k = 1, the thin products of LoRA, alpha / beta and padded leading dimensions, batches
 * with strides and broadcast; bit-identical run to run and between one thread and the pool; and tfjs's
 * BatchMatMul and the attention core on the own kernel agree with the pure-wasm kernels.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fused } from '../src/engine/fused.js';
import { initEngine, tf } from '../src/engine/index.js';
import { setNativeGemm } from '../src/engine/native/index.js';
import { loadNative } from '../src/engine/native/loader.js';
import { Rng } from '../src/util/rng.js';

const addon = loadNative().addon;
const config = addon?.gemmConfig();
const TOL = 1e-5;
const ISAS = ['avx512', 'avx2', 'scalar'] as const;

interface Case {
  label: string;
  ta: boolean;
  tb: boolean;
  m: number;
  n: number;
  k: number;
  alpha: number;
  beta: number;
  lda: number;
  ldb: number;
  ldc: number;
  a: Float32Array;
  b: Float32Array;
  c0: Float32Array;
  ref: Float64Array;
}

function randArray(rng: Rng, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return a;
}

function makeCase(
  rng: Rng,
  m: number,
  n: number,
  k: number,
  ta: boolean,
  tb: boolean,
  variant: number,
): Case {
  const [alpha, beta] = (
    [
      [1, 0],
      [0.5, 1.5],
      [-2, 0],
      [1, 1],
    ] as const
  )[variant % 4] as readonly [number, number];
  const pad = variant % 3 === 1 ? 3 : 0;
  const aRows = ta ? k : m;
  const aCols = ta ? m : k;
  const bRows = tb ? n : k;
  const bCols = tb ? k : n;
  const lda = aCols + pad;
  const ldb = bCols + (variant % 2);
  const ldc = n + pad;
  const a = randArray(rng, (aRows - 1) * lda + aCols);
  const b = randArray(rng, (bRows - 1) * ldb + bCols);
  // beta == 0 must not read C: fill it with NaN, which would show.
  const c0 =
    beta === 0 ? new Float32Array((m - 1) * ldc + n).fill(Number.NaN) : randArray(rng, (m - 1) * ldc + n);
  const ref = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        const x = a[ta ? p * lda + i : i * lda + p] as number;
        const y = b[tb ? j * ldb + p : p * ldb + j] as number;
        s += x * y;
      }
      ref[i * n + j] = alpha * s + (beta === 0 ? 0 : beta * (c0[i * ldc + j] as number));
    }
  const label = `${m}x${n}x${k} ta=${ta} tb=${tb} alpha=${alpha} beta=${beta} pad=${pad}`;
  return { label, ta, tb, m, n, k, alpha, beta, lda, ldb, ldc, a, b, c0, ref };
}

// [m, n, k]: tiny, 1-row / 1-column, k = 1, odd sizes around the tiles (12×32, 6×16, 6×8), more than one kc pass
// (256), nc block (512 / 256) and column strip, and the thin products of LoRA (rank 8 and 16: x·A, (x·A)·B, dA, dB).
const SHAPES: Array<[number, number, number]> = [
  [1, 1, 1],
  [1, 37, 5],
  [37, 1, 5],
  [1, 300, 200],
  [300, 1, 200],
  [5, 7, 1],
  [64, 64, 1],
  [13, 17, 19],
  [12, 32, 256],
  [25, 33, 257],
  [33, 65, 300],
  [40, 530, 70],
  [7, 1100, 3],
  [37, 45, 600],
  [256, 8, 192],
  [8, 256, 192],
  [256, 192, 8],
  [192, 8, 256],
  [100, 16, 300],
  [16, 100, 300],
  [300, 100, 16],
  [129, 257, 263],
  [3, 4200, 1100], // packed B over 16 MB: two column strips
  [2, 1024, 300], // B streamed row by row, rows 4 KB apart
  [20, 1024, 70], // two row panels reading B in place
];

let cases: Case[] | undefined;
function allCases(): Case[] {
  if (cases !== undefined) return cases;
  const rng = new Rng(20);
  const shapes = [...SHAPES];
  for (let i = 0; i < 10; i++) shapes.push([1 + rng.int(160), 1 + rng.int(160), 1 + rng.int(160)]);
  cases = [];
  let v = 0;
  for (const [m, n, k] of shapes)
    for (const ta of [false, true])
      for (const tb of [false, true]) cases.push(makeCase(rng, m, n, k, ta, tb, v++));
  return cases;
}

/** Runs one case through the addon's `sgemm` entry; threads: 0 the calling thread, 2 the pool. */
function runCase(c: Case, threads: 0 | 2): Float32Array {
  const bytes = (x: Float32Array) => Math.ceil(x.length / 16) * 64;
  const buf = new ArrayBuffer(bytes(c.a) + bytes(c.b) + bytes(c.c0));
  const aOff = 0;
  const bOff = bytes(c.a);
  const cOff = bOff + bytes(c.b);
  new Float32Array(buf, aOff, c.a.length).set(c.a);
  new Float32Array(buf, bOff, c.b.length).set(c.b);
  const out = new Float32Array(buf, cOff, c.c0.length);
  out.set(c.c0);
  const shape = [c.ta ? 1 : 0, c.tb ? 1 : 0, c.m, c.n, c.k];
  const operands = [c.alpha, aOff, c.lda, bOff, c.ldb, c.beta, cOff, c.ldc];
  (addon as NonNullable<typeof addon>).sgemm(buf, ...shape, ...operands, threads);
  return out;
}

/** max |got − ref| / max |ref| over the m × n product; padding columns of C must be untouched. */
function check(c: Case, got: Float32Array): void {
  let maxRef = 0;
  let maxDiff = 0;
  for (let i = 0; i < c.m; i++) {
    for (let j = 0; j < c.n; j++) {
      const r = c.ref[i * c.n + j] as number;
      const g = got[i * c.ldc + j] as number;
      maxRef = Math.max(maxRef, Math.abs(r));
      maxDiff = Number.isNaN(g) ? Number.POSITIVE_INFINITY : Math.max(maxDiff, Math.abs(r - g));
    }
    for (let j = c.n; j < c.ldc && i < c.m - 1; j++)
      expect(Object.is(got[i * c.ldc + j], c.c0[i * c.ldc + j]), `${c.label}: padding written`).toBe(true);
  }
  const e = maxRef === 0 ? maxDiff : maxDiff / maxRef;
  expect(e, `${c.label}: relative error ${e}`).toBeLessThanOrEqual(TOL);
}

function relErr(ref: ArrayLike<number>, got: ArrayLike<number>): number {
  expect(got.length).toBe(ref.length);
  let maxRef = 0;
  let maxDiff = 0;
  for (let i = 0; i < ref.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(ref[i] as number));
    maxDiff = Math.max(maxDiff, Math.abs((ref[i] as number) - (got[i] as number)));
  }
  return maxRef === 0 ? maxDiff : maxDiff / maxRef;
}

/** Batched products through `gemm` (BatchMatMul's entry): element strides per operand, 0 broadcasts. */
function batched(
  rng: Rng,
  batch: number,
  m: number,
  n: number,
  k: number,
  ta: boolean,
  tb: boolean,
  sa0: boolean,
  sb0: boolean,
): void {
  const aSize = m * k;
  const bSize = k * n;
  const a = randArray(rng, sa0 ? aSize : batch * aSize);
  const b = randArray(rng, sb0 ? bSize : batch * bSize);
  const buf = new ArrayBuffer((a.length + b.length + batch * m * n) * 4);
  new Float32Array(buf, 0, a.length).set(a);
  new Float32Array(buf, a.length * 4, b.length).set(b);
  const cOff = (a.length + b.length) * 4;
  const out = new Float32Array(buf, cOff, batch * m * n).fill(Number.NaN);
  const sa = sa0 ? 0 : aSize;
  const sb = sb0 ? 0 : bSize;
  (addon as NonNullable<typeof addon>).gemm(
    buf,
    ta ? 1 : 0,
    tb ? 1 : 0,
    batch,
    m,
    n,
    k,
    0,
    sa,
    a.length * 4,
    sb,
    cOff,
  );
  const ref = new Float64Array(batch * m * n);
  for (let q = 0; q < batch; q++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++)
          s +=
            (a[q * sa + (ta ? p * m + i : i * k + p)] as number) *
            (b[q * sb + (tb ? j * k + p : p * n + j)] as number);
        ref[(q * m + i) * n + j] = s;
      }
  const e = relErr(ref, out);
  expect(e, `batch ${batch} ${m}x${n}x${k} ta=${ta} tb=${tb} sa=${sa} sb=${sb}: ${e}`).toBeLessThanOrEqual(
    TOL,
  );
}

function randn(rng: Rng, shape: number[]): tf.Tensor {
  return tf.tensor(
    randArray(
      rng,
      shape.reduce((p, d) => p * d, 1),
    ),
    shape,
  );
}

/** A product's value and its gradients for a random cotangent, as plain arrays. */
function matmulAndGrads(seed: number, sa: number[], sb: number[], ta: boolean, tb: boolean): number[][] {
  return tf.tidy(() => {
    const rng = new Rng(seed);
    const a = randn(rng, sa);
    const b = randn(rng, sb);
    const y = tf.matMul(a, b, ta, tb);
    if (sa.length !== sb.length) return [Array.from(y.dataSync())]; // tfjs does not reduce broadcast gradients
    const r = randn(rng, y.shape);
    const g = tf.grads((x: tf.Tensor, z: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, z, ta, tb), r)))([a, b]);
    return [y, ...g].map((t) => Array.from(t.dataSync()));
  });
}

function attentionAndGrads(seed: number): number[][] {
  return tf.tidy(() => {
    const rng = new Rng(seed);
    const [b, g, t, d] = [2, 3, 37, 16];
    const q = randn(rng, [b, g, t, d]);
    const k = randn(rng, [b, g, t, d]);
    const v = randn(rng, [b, g, t, d]);
    const m = new Float32Array(t * t);
    for (let i = 0; i < t; i++) for (let j = 0; j < t; j++) m[i * t + j] = j <= i ? 0 : -1e9;
    const mask = tf.tensor4d(m, [1, 1, t, t]);
    const r = randn(rng, [b, g, t, d]);
    const f = (x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) => fused.attention(x, y, z, mask, 1 / Math.sqrt(d));
    const gr = tf.grads((x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) => tf.sum(tf.mul(f(x, y, z), r)))([
      q,
      k,
      v,
    ]);
    return [f(q, k, v), ...gr].map((x) => Array.from(x.dataSync()));
  });
}

const ENGINE_CASES: Array<[number[], number[], boolean, boolean]> = [
  [[5, 7], [7, 3], false, false],
  [[7, 5], [3, 7], true, true],
  [[300, 64], [64, 200], false, false],
  [[64, 300], [200, 64], true, true],
  [[20, 64], [64, 500], false, false],
  [[6, 96, 64], [6, 64, 80], false, false],
  [[4, 7, 5], [7, 3], true, false],
  [[256, 96], [96, 8], false, false], // LoRA: x · A
  [[256, 8], [8, 96], false, false], //   (x · A) · B
  [[256, 96], [256, 8], true, false], //   dA = xᵀ · g
  [[256, 96], [8, 96], false, true], //   g · Bᵀ
];

describe.skipIf(addon === undefined)('own SGEMM: selection', () => {
  afterAll(() => {
    setNativeGemm({ path: 'auto', isa: 'auto' });
  });

  it('switches path and variant, reports them in info(), and rejects what is unavailable', () => {
    const a = addon as NonNullable<typeof addon>;
    expect(setNativeGemm({ path: 'own' }).path).toBe('own');
    expect(a.info()).toMatch(/^gemm: own SGEMM (avx512|avx2|scalar) .*\d+ threads/);
    expect(() => a.setGemmIsa('neon' as never)).toThrow(/unknown variant/);
    expect(() => a.setGemm('mkl' as never)).toThrow(/not available/);
    if (config?.openblas) {
      expect(setNativeGemm({ path: 'openblas' }).path).toBe('openblas');
      expect(a.info()).toMatch(/^gemm: OpenBLAS/);
    } else {
      expect(() => a.setGemm('openblas')).toThrow(/built without OpenBLAS/);
    }
    for (const isa of ISAS) {
      if (config?.isas.includes(isa)) expect(a.setGemmIsa(isa)).toBe(isa);
      else expect(() => a.setGemmIsa(isa)).toThrow(/cannot run/);
    }
    expect(setNativeGemm({ path: 'auto', isa: 'auto' })).toMatchObject({
      path: config?.openblas ? 'openblas' : 'own',
      isa: config?.isas[0],
    });
  });

  it('reads SEAL_GEMM and SEAL_GEMM_ISA at load', () => {
    const path = fileURLToPath(new URL('../native/build/Release/seal_native.node', import.meta.url));
    const isa = config?.isas.includes('avx2') ? 'avx2' : 'scalar';
    const r = spawnSync(process.execPath, ['-e', `console.log(require(${JSON.stringify(path)}).info())`], {
      encoding: 'utf8',
      env: { ...process.env, SEAL_GEMM: 'own', SEAL_GEMM_ISA: isa },
    });
    expect(r.stdout).toMatch(new RegExp(`^gemm: own SGEMM ${isa} `));
  });
});

for (const isa of ISAS) {
  const reason =
    addon === undefined ? 'addon not built' : config?.isas.includes(isa) ? '' : `this CPU cannot run ${isa}`;
  describe.skipIf(reason !== '')(
    `own SGEMM, ${isa} variant${reason === '' ? '' : ` (skipped: ${reason})`}`,
    () => {
      beforeAll(() => {
        setNativeGemm({ path: 'own', isa });
      });
      afterAll(async () => {
        setNativeGemm({ path: 'auto', isa: 'auto' });
        await initEngine('wasm');
      });

      it('matches a float64 reference: odd, 1-row, 1-column, k = 1 and thin LoRA shapes, every transpose, alpha / beta, leading dimensions', () => {
        for (const c of allCases()) {
          check(c, runCase(c, 0));
          check(c, runCase(c, 2));
        }
      });

      it('batched products with strides, including broadcast (stride 0) operands', () => {
        const rng = new Rng(7);
        for (const [ta, tb] of [
          [false, false],
          [true, false],
          [false, true],
          [true, true],
        ] as const) {
          batched(rng, 3, 13, 17, 19, ta, tb, false, false);
          batched(rng, 4, 9, 33, 40, ta, tb, true, false); // A broadcast
          batched(rng, 4, 9, 33, 40, ta, tb, false, true); // B broadcast (stacked rows when A is not transposed)
          batched(rng, 5, 64, 8, 48, ta, tb, false, false); // many small products: one per task
        }
        batched(rng, 2, 260, 270, 280, false, false, false, false); // each product split across the pool
        batched(rng, 2, 260, 270, 280, true, true, false, true);
      });

      it('is bit-identical run to run and between one thread and the pool', () => {
        const picks = allCases().filter((c) => c.m * c.n * c.k > 2e5);
        expect(picks.length).toBeGreaterThan(4);
        const bytes = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
        for (const c of picks) {
          const one = bytes(runCase(c, 0));
          expect(bytes(runCase(c, 0)).equals(one), `${c.label}: run to run`).toBe(true);
          expect(bytes(runCase(c, 2)).equals(one), `${c.label}: one thread vs pool`).toBe(true);
        }
      });

      it('dot-product tiles sum their accumulators together with the bits of one at a time', () => {
        // Full dot tiles reduce all their accumulators in one shuffle tree (vsum_all); a 1 × 1 product runs the
        // single-accumulator sum (vsum). Both must be the same halving tree, so every element must match bit
        // for bit: rows against a transposed B (the generation path), and x·A of LoRA (transposed copy of A).
        const rng = new Rng(31);
        const k = 300; // 18 whole 16-float steps and a masked tail
        const one = (x: Float32Array, y: Float32Array) => {
          const c: Case = {
            label: '1x1',
            ta: false,
            tb: true,
            m: 1,
            n: 1,
            k,
            alpha: 1,
            beta: 0,
            lda: k,
            ldb: k,
            ldc: 1,
            a: x,
            b: y,
            c0: new Float32Array(1),
            ref: new Float64Array(1),
          };
          return runCase(c, 0)[0] as number;
        };
        for (const [m, n, tb] of [
          [8, 12, true],
          [64, 8, false],
        ] as const) {
          const a = randArray(rng, m * k);
          const b = randArray(rng, k * n);
          const c: Case = {
            label: `${m}x${n}x${k}`,
            ta: false,
            tb,
            m,
            n,
            k,
            alpha: 1,
            beta: 0,
            lda: k,
            ldb: tb ? k : n,
            ldc: n,
            a,
            b,
            c0: new Float32Array(m * n),
            ref: new Float64Array(m * n),
          };
          for (const threads of [0, 2] as const) {
            const got = runCase(c, threads);
            for (let i = 0; i < m; i++)
              for (let j = 0; j < n; j++) {
                const col = tb
                  ? b.subarray(j * k, (j + 1) * k)
                  : Float32Array.from({ length: k }, (_, p) => b[p * n + j] as number);
                const want = one(a.subarray(i * k, (i + 1) * k), col);
                expect(Object.is(got[i * n + j], want), `${c.label} (${i}, ${j}) threads ${threads}`).toBe(
                  true,
                );
              }
          }
        }
      });

      it("tfjs's BatchMatMul and the attention core match the wasm kernels", async () => {
        const run = async (native: boolean) => {
          await initEngine('wasm', { native });
          return [
            ...ENGINE_CASES.map(([sa, sb, ta, tb], i) => matmulAndGrads(i + 1, sa, sb, ta, tb)),
            attentionAndGrads(99),
          ];
        };
        const ref = await run(false);
        const got = await run(true);
        expect(tf.engine().backendName).toBe('wasm');
        for (const [i, outs] of ref.entries())
          for (const [j, r] of outs.entries()) {
            const e = relErr(r, got[i]?.[j] as number[]);
            expect(e, `engine case ${i} output ${j}: ${e}`).toBeLessThanOrEqual(TOL);
          }
      });
    },
  );
}

describe.skipIf(addon !== undefined)('own SGEMM (addon not built)', () => {
  it(`is skipped: ${loadNative().detail}`, () => {
    expect(loadNative().addon).toBeUndefined();
  });
});
