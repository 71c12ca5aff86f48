/** `npm run results` rebuilds, from the committed per-context rows, exactly the numbers the runs' summaries hold. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sealPairs } from '../src/app/demo.js';
import { README_RUNS, tableFromRecords } from '../src/app/experiments/results.js';
import { RunDir } from '../src/util/run-dir.js';
import { ROOT } from './helpers/paths.js';

describe('results rebuilt from raw rows', () => {
  it.each(README_RUNS.map((d) => [d]))('%s: the table and paired CIs equal its summary.json', (dir) => {
    const abs = join(ROOT, dir);
    const summary = JSON.parse(readFileSync(join(abs, 'summary.json'), 'utf8')) as {
      results: Record<string, { mean: number; ci95: number[]; n: number }>;
      paired: Record<string, { mean: number; ci95: number[]; n: number }>;
      pairedHeldOut?: Record<string, { mean: number; ci95: number[]; n: number }>;
    };
    const rebuilt = tableFromRecords(new RunDir(abs).records());
    for (const [name, r] of Object.entries(rebuilt)) {
      const s = summary.results[name]!;
      expect(r.mean, name).toBeCloseTo(s.mean, 12);
      expect(r.ci95[0], name).toBeCloseTo(s.ci95[0]!, 12);
      expect(r.ci95[1], name).toBeCloseTo(s.ci95[1]!, 12);
      expect(r.n, name).toBe(s.n);
    }
    const paired = sealPairs(rebuilt, 'seen');
    expect(Object.keys(paired).sort()).toEqual(Object.keys(summary.paired).sort());
    for (const [name, d] of Object.entries(paired)) {
      expect(d.mean, name).toBeCloseTo(summary.paired[name]!.mean, 12);
      expect(d.ci95[0], name).toBeCloseTo(summary.paired[name]!.ci95[0]!, 12);
    }
    const heldOut = sealPairs(rebuilt, 'heldOut');
    expect(Object.keys(heldOut).sort()).toEqual(Object.keys(summary.pairedHeldOut ?? {}).sort());
    for (const [name, d] of Object.entries(heldOut)) {
      expect(d.mean, name).toBeCloseTo(summary.pairedHeldOut![name]!.mean, 12);
      expect(d.ci95[1], name).toBeCloseTo(summary.pairedHeldOut![name]!.ci95[1]!, 12);
    }
  });
});
