/**
 * Matrix-product micro-benchmark of the native addon: GFLOP/s of our own SGEMM (each instruction-set variant) and
 * OpenBLAS (when built in), on one thread and on the addon's pool, for the products of a training step of the
 * benchmark configurations (src/app/bench/configs.ts) and a 1024³ "peak" product. Prints JSON (medians of repeats).
 *   tsc -p tsconfig.json --noEmit false --outDir dist-check && node dist-check/bench/gemm.js
 *     [--repeats 5] [--sets A,B,gen,peak] [--variants own-avx512,own-avx2,own-scalar,openblas] [--min-ms 40]
 *     [--settle-ms 150]
 * Variants the CPU or the build lacks are left out. Samples of the variants are interleaved per shape, so a
 * change in machine load hits them all alike; `load` reports the load average before and after. Before each pooled
 * sample the variant runs untimed for settle-ms, so that the previous variant's spinning threads have gone to sleep
 * (two thread pools in one process never happen in training).
 */
import { cpus, loadavg } from 'node:os';
import { SHAPES } from '../src/app/bench/configs.js';
import { loadNative, type NativeAddon } from '../src/engine/native/loader.js';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? dflt) : dflt;
}

interface Shape {
  readonly set: string;
  readonly name: string;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly ta: boolean;
  readonly tb: boolean;
  /** Products per call (attention heads): `gemm` with strides on the pool; a loop of single products on one thread. */
  readonly batch: number;
}

function shapes(): Shape[] {
  const out: Shape[] = [];
  const add = (
    set: string,
    name: string,
    m: number,
    n: number,
    k: number,
    ta = false,
    tb = false,
    batch = 1,
  ) => out.push({ set, name, m, n, k, ta, tb, batch });
  // Config A: GPT-2 family, vocab 512, d 128, 4 layers, 16 × 128 tokens; MLP 4·d; 4 heads of 32.
  const a = SHAPES.A;
  const ta = a.batch * a.seq;
  add('A', 'qkv x·W', ta, 3 * a.dim, a.dim);
  add('A', 'qkv dX = dY·Wᵀ', ta, a.dim, 3 * a.dim, false, true);
  add('A', 'qkv dW = Xᵀ·dY', a.dim, 3 * a.dim, ta, true, false);
  add('A', 'mlp up x·W', ta, 4 * a.dim, a.dim);
  add('A', 'mlp down h·W', ta, a.dim, 4 * a.dim);
  add('A', 'mlp down dW = hᵀ·dY', 4 * a.dim, a.dim, ta, true, false);
  add('A', 'lm head x·Eᵀ', ta, a.vocab, a.dim, false, true);
  add('A', 'lm head dE = dLᵀ·x', a.vocab, a.dim, ta, true, false);
  add('A', 'attention q·kᵀ (64 heads)', a.seq, a.seq, a.dim / a.heads, false, true, a.batch * a.heads);
  // Config B: GPT-2 small (d 768, vocab 50257), 2 × 256 tokens, LoRA rank 8 on attn.c_attn and attn.c_proj.
  const b = SHAPES.B;
  const tb = b.batch * b.seq;
  const r = 8;
  add('B', 'c_attn x·W', tb, 3 * b.dim, b.dim);
  add('B', 'c_attn dX = dY·Wᵀ', tb, b.dim, 3 * b.dim, false, true);
  add('B', 'mlp fc x·W', tb, 4 * b.dim, b.dim);
  add('B', 'mlp proj h·W', tb, b.dim, 4 * b.dim);
  add('B', 'mlp proj dX = dY·Wᵀ', tb, 4 * b.dim, b.dim, false, true);
  add('B', 'lm head x·Eᵀ', tb, b.vocab, b.dim, false, true);
  add('B', 'lm head dX = dL·E', tb, b.dim, b.vocab);
  add('B', 'lora x·A', tb, r, b.dim);
  add('B', 'lora (x·A)·B', tb, 3 * b.dim, r);
  add('B', 'lora dB = (x·A)ᵀ·dY', r, 3 * b.dim, tb, true, false);
  add('B', 'lora d(x·A) = dY·Bᵀ', tb, r, 3 * b.dim, false, true);
  add('B', 'lora dA = xᵀ·d(x·A)', b.dim, r, tb, true, false);
  // Generation with GPT-2 small: one token (m = 1) against the frozen weights and the tied head.
  add('gen', 'c_attn x·W (1 token)', 1, 3 * b.dim, b.dim);
  add('gen', 'c_proj x·W (1 token)', 1, b.dim, b.dim);
  add('gen', 'mlp fc x·W (1 token)', 1, 4 * b.dim, b.dim);
  add('gen', 'mlp proj h·W (1 token)', 1, b.dim, 4 * b.dim);
  add('gen', 'lm head x·Eᵀ (1 token)', 1, b.vocab, b.dim, false, true);
  add('peak', '1024³', 1024, 1024, 1024);
  return out;
}

interface Variant {
  readonly name: string;
  readonly path: 'own' | 'openblas';
  readonly isa?: 'avx512' | 'avx2' | 'scalar';
}

function median(xs: number[]): number {
  const s = [...xs].sort((p, q) => p - q);
  return s[Math.floor(s.length / 2)] as number;
}

const round = (x: number) => Math.round(x * 10) / 10;

function main(): void {
  const loaded = loadNative();
  if (loaded.addon === undefined) {
    console.log(JSON.stringify({ error: loaded.detail }));
    return;
  }
  const addon: NativeAddon = loaded.addon;
  const cfg = addon.gemmConfig();
  const repeats = Number(arg('repeats', '5'));
  const minMs = Number(arg('min-ms', '40'));
  const settleMs = Number(arg('settle-ms', '150'));
  const sets = arg('sets', 'A,B,gen,peak').split(',');
  const wanted = arg('variants', 'own-avx512,own-avx2,openblas').split(',');
  const all: Variant[] = [
    { name: 'own-avx512', path: 'own', isa: 'avx512' },
    { name: 'own-avx2', path: 'own', isa: 'avx2' },
    { name: 'own-scalar', path: 'own', isa: 'scalar' },
    { name: 'openblas', path: 'openblas' },
  ];
  const variants = all.filter(
    (v) =>
      wanted.includes(v.name) &&
      (v.path === 'openblas' ? cfg.openblas : cfg.isas.includes(v.isa ?? 'scalar')),
  );
  const list = shapes().filter((s) => sets.includes(s.set));

  // One buffer for the largest product's operands (offsets in bytes, 64-byte aligned).
  const align = (x: number) => Math.ceil(x / 16) * 16;
  const need = (s: Shape) =>
    align(s.batch * s.m * s.k) + align(s.batch * s.k * s.n) + align(s.batch * s.m * s.n);
  const floats = Math.max(...list.map(need));
  const buf = new ArrayBuffer(floats * 4);
  const all32 = new Float32Array(buf);
  for (let i = 0; i < all32.length; i++) all32[i] = ((i * 7919) % 1000) / 1000 - 0.5;

  const select = (v: Variant) => {
    addon.setGemm(v.path);
    if (v.isa !== undefined) addon.setGemmIsa(v.isa);
  };
  const call = (s: Shape, pool: boolean) => {
    const aOff = 0;
    const bOff = align(s.batch * s.m * s.k) * 4;
    const cOff = bOff + align(s.batch * s.k * s.n) * 4;
    const lda = s.ta ? s.m : s.k;
    const ldb = s.tb ? s.k : s.n;
    if (s.batch > 1 && pool) {
      addon.gemm(
        buf,
        s.ta ? 1 : 0,
        s.tb ? 1 : 0,
        s.batch,
        s.m,
        s.n,
        s.k,
        aOff,
        s.m * s.k,
        bOff,
        s.k * s.n,
        cOff,
      );
      return;
    }
    for (let i = 0; i < s.batch; i++)
      addon.sgemm(
        buf,
        s.ta ? 1 : 0,
        s.tb ? 1 : 0,
        s.m,
        s.n,
        s.k,
        1,
        aOff + i * s.m * s.k * 4,
        lda,
        bOff + i * s.k * s.n * 4,
        ldb,
        0,
        cOff + i * s.m * s.n * 4,
        s.n,
        pool ? 1 : 0,
      );
  };
  // GFLOP/s of one sample: enough calls to fill minMs.
  const sample = (s: Shape, pool: boolean, iters: number) => {
    const t0 = performance.now();
    for (let i = 0; i < iters; i++) call(s, pool);
    const ms = (performance.now() - t0) / iters;
    return (2 * s.batch * s.m * s.n * s.k) / (ms * 1e6);
  };

  const settle = (s: Shape, ms: number) => {
    const t0 = performance.now();
    while (performance.now() - t0 < ms) call(s, true);
  };

  const loadBefore = loadavg();
  const results = list.map((s) => {
    const gflops: Record<string, { single: number; pool: number }> = {};
    for (const pool of [false, true]) {
      const runs = new Map<string, number[]>();
      const iters = new Map<string, number>();
      for (const v of variants) {
        select(v);
        call(s, pool); // warm-up: buffers, pages, caches
        const t0 = performance.now();
        call(s, pool);
        const once = Math.max(performance.now() - t0, 1e-3);
        iters.set(v.name, Math.max(1, Math.ceil(minMs / once)));
        runs.set(v.name, []);
      }
      for (let r = 0; r < repeats; r++)
        for (const v of variants) {
          select(v);
          // On the pool, the previous variant's threads may still be spinning (OpenBLAS's for ~0.1 s after its
          // last call) and take a core from this one's; calls of this variant, untimed, outlast them first.
          if (pool) settle(s, settleMs);
          runs.get(v.name)?.push(sample(s, pool, iters.get(v.name) ?? 1));
        }
      for (const v of variants) {
        const g = gflops[v.name] ?? { single: 0, pool: 0 };
        g[pool ? 'pool' : 'single'] = round(median(runs.get(v.name) ?? [0]));
        gflops[v.name] = g;
      }
    }
    const own = Object.entries(gflops).filter(([name]) => name.startsWith('own-') && name !== 'own-scalar');
    const blas = gflops['openblas'];
    const best = (key: 'single' | 'pool') => Math.max(...own.map(([, g]) => g[key]));
    const vsOpenblas =
      blas === undefined || own.length === 0
        ? undefined
        : {
            single: round((100 * best('single')) / blas.single) / 100,
            pool: round((100 * best('pool')) / blas.pool) / 100,
          };
    return {
      set: s.set,
      name: s.name,
      m: s.m,
      n: s.n,
      k: s.k,
      ta: s.ta,
      tb: s.tb,
      batch: s.batch,
      gflops,
      ...(vsOpenblas === undefined ? {} : { bestOwnVsOpenblas: vsOpenblas }),
    };
  });
  addon.setGemm('auto');
  addon.setGemmIsa('auto');
  console.log(
    JSON.stringify(
      {
        cpu: cpus()[0]?.model,
        cores: cpus().length,
        native: addon.info(),
        repeats,
        load: { before: loadBefore.map(round), after: loadavg().map(round) },
        results,
      },
      null,
      1,
    ),
  );
}

main();
