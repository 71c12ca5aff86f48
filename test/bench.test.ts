/**
 * Smoke test of `npm run bench` through the built entry point (npm test builds dist/ first): toy shapes, one step,
 * wasm only, so it checks the output layout other tools read, not speed.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SHAPES, trainFlopsPerStep } from '../src/app/bench/configs.js';
import { nativeInfo } from '../src/engine/index.js';
import { ROOT, tempDir } from './helpers/paths.js';

const BENCH = join(ROOT, 'dist', 'app', 'bench', 'run.js');

function bench(args: readonly string[]) {
  const r = spawnSync(process.execPath, [BENCH, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** One toy-size step of `name` on the wasm path (layout, not speed). */
const tinyWasm = (name: string) => [
  '--tiny',
  '--only',
  name,
  '--steps',
  '1',
  '--warmup',
  '0',
  '--paths',
  'wasm',
];

describe('bench entry point', () => {
  it('prints the entry array on stdout and writes the results file with metadata', () => {
    const out = tempDir('seal-bench-');
    const r = bench([...tinyWasm('A-full'), '--out-dir', out]);
    expect(r.stderr).toContain('A-full');
    expect(r.code).toBe(0);
    const entries = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    expect(Array.isArray(entries)).toBe(true);
    expect(entries).toHaveLength(1);
    const e = entries[0]!;
    expect(e['name']).toBe('A-full');
    expect(e['path']).toBe('wasm');
    expect(typeof e['ms_per_step']).toBe('number');
    expect(e['ms_per_step'] as number).toBeGreaterThan(0);
    // tiny A: batch 2 × seq 16 tokens per step
    expect(e['tokens_per_s'] as number).toBeCloseTo((2 * 16) / ((e['ms_per_step'] as number) / 1000), 6);
    expect(e['ratio_to_pytorch_fp32']).toBeNull();
    expect(e['leaked_tensors']).toBe(0);
    expect(e['gradient_checkpointing']).toBe(false);

    const files = readdirSync(out);
    expect(files).toContain('latest.json');
    const stamped = files.filter((f) => /^\d{4}-\d\d-\d\dT[\d-]+Z\.json$/.test(f));
    expect(stamped).toHaveLength(1);
    const doc = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as Record<string, unknown>;
    expect(doc).toEqual(JSON.parse(readFileSync(join(out, stamped[0]!), 'utf8')));
    expect(doc['entries']).toEqual(entries);
    expect(typeof doc['seal_ts_version']).toBe('string');
    expect(typeof doc['date']).toBe('string');
    const machine = doc['machine'] as Record<string, unknown>;
    expect(typeof machine['cpu_model']).toBe('string');
    expect(machine['cores'] as number).toBeGreaterThan(0);
    expect(doc).toHaveProperty('git.commit');
  });

  it('checkpoints B-lora on pure wasm by default (its activations overflow the 4 GB heap) and on request', () => {
    const run = (extra: readonly string[]) => {
      const r = bench([...tinyWasm('B-lora'), '--no-save', ...extra]);
      expect(r.code).toBe(0);
      return (JSON.parse(r.stdout) as Array<Record<string, unknown>>)[0]!;
    };
    const auto = run([]);
    expect(auto['gradient_checkpointing']).toBe(true);
    expect(auto['leaked_tensors']).toBe(0);
    const off = run(['--gradient-checkpointing', 'off']);
    expect(off['gradient_checkpointing']).toBe(false);
    // Same model, same batch, same seed: recomputing the blocks changes nothing but memory.
    expect(auto['loss_first'] as number).toBeCloseTo(off['loss_first'] as number, 4);
  });

  it('counts model FLOPs per step: 6·N·T-style for full fine-tuning, activation gradients only for LoRA', () => {
    // A by hand: 2,048 tokens; weights 12·4·128² + 128·512 = 851,968 → 2·851,968 per token; attention 4·128·128·4.
    const forwardA = 2048 * (2 * 851_968 + 4 * 128 * 128 * 4);
    expect(trainFlopsPerStep(SHAPES.A)).toBe(3 * forwardA);
    // LoRA r 8 on c_attn (128 → 384) and c_proj (128 → 128): per layer per token 2·(128·8 + 8·384 + 128·8 + 8·128).
    const adapters = 2048 * 2 * 4 * (128 * 8 + 8 * 384 + 128 * 8 + 8 * 128);
    const attention = 2048 * 4 * 128 * 128 * 4;
    expect(trainFlopsPerStep(SHAPES.A, { r: 8, targets: 'attn' })).toBe(
      2 * forwardA + attention + 3 * adapters,
    );
    // GPT-2 small LoRA: about 2/3 of full fine-tuning (no weight gradients), ≈ 0.27 TFLOP per 512-token step.
    const b = trainFlopsPerStep(SHAPES.B, { r: 8, targets: 'attn' });
    expect(b / trainFlopsPerStep(SHAPES.B)).toBeGreaterThan(0.66);
    expect(b / trainFlopsPerStep(SHAPES.B)).toBeLessThan(0.7);
    expect(b / 1e9).toBeGreaterThan(260);
    expect(b / 1e9).toBeLessThan(275);
  });

  it.skipIf(!nativeInfo().available)(
    'native rows: the SGEMM peak measured in the same run, GFLOP/s and fraction of peak per training row',
    () => {
      const r = bench([
        '--tiny',
        '--only',
        'A-lora',
        '--steps',
        '1',
        '--warmup',
        '0',
        '--paths',
        'native,native-own',
        '--out-dir',
        tempDir('seal-bench-native-'),
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/SGEMM peak \(1024³ on the pool\): own \d/);
      const entries = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
      const openblas = /OpenBLAS/.test(nativeInfo().detail);
      expect(entries.map((e) => e['path'])).toEqual(openblas ? ['native', 'native-own'] : ['native']);
      for (const e of entries) {
        expect(e['model_gflop_per_step']).toBeCloseTo(
          trainFlopsPerStep(
            { vocab: 64, dim: 32, layers: 2, heads: 2, seq: 16, batch: 2, maxSeqLen: 16 },
            {
              r: 8,
              targets: 'attn',
            },
          ) / 1e9,
          12,
        );
        expect(e['achieved_gflops'] as number).toBeGreaterThan(0);
        expect(e['fraction_of_peak'] as number).toBeGreaterThan(0);
        expect(e['losses']).toHaveLength(1);
      }
      expect(entries.at(-1)?.['kernels']).toMatch(/^own SGEMM (avx512|avx2|scalar)$/);
    },
  );

  it('--repeats N runs each path N times in turns and reports the median run with every repeat', () => {
    const r = bench([...tinyWasm('A-lora'), '--repeats', '3', '--no-save']);
    expect(r.code, r.stderr).toBe(0);
    const [e] = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    const runs = e?.['repeat_ms'] as number[];
    expect(runs).toHaveLength(3);
    expect(e?.['ms_per_step']).toBe([...runs].sort((a, b) => a - b)[1]);
  });

  it('documents its flags and rejects unknown benchmarks with exit code 2', () => {
    const help = bench(['--help']);
    expect(help.code).toBe(0);
    for (const flag of ['--only', '--steps', '--paths', '--tiny']) expect(help.stdout).toContain(flag);
    const bad = bench(['--only', 'A-huge', '--no-save']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--only');
    expect(bad.stdout).toBe('');
  });
});
