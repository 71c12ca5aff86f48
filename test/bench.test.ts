/**
 * Smoke test of `npm run bench` through the built entry point (npm test builds dist/ first): toy shapes, one step,
 * wasm only, so it checks the output layout other tools read, not speed.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
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
