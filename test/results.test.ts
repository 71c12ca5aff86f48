/** `npm run results` rebuilds, from the committed per-context rows, exactly the numbers the runs' summaries hold. */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sealPairs } from '../src/app/demo.js';
import {
  deltaFromRecords,
  deltaSeedTables,
  gridFromDir,
  headlineFromRecords,
  headlineRuns,
  isDeltaSeedGroup,
  README_RUNS,
  rebuild,
  SEED_TABLE_ORDER,
  stackSeedSummary,
  stacksFromRecords,
  tableFromRecords,
} from '../src/app/experiments/results.js';
import { RunDir } from '../src/util/run-dir.js';
import { ROOT } from './helpers/paths.js';

describe('results rebuilt from raw rows', () => {
  it('--help prints the usage; an unknown option is a usage error', () => {
    const script = join(ROOT, 'dist', 'app', 'experiments', 'results.js');
    const help = spawnSync(process.execPath, [script, '--help'], { encoding: 'utf8', timeout: 60_000 });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^npm run results \[-- RUN_DIR/);
    const bad = spawnSync(process.execPath, [script, '--nope'], { encoding: 'utf8', timeout: 60_000 });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown option --nope/);
  });

  // Delta-mode experiment directories: delta tables and no single-passage table.
  const isDelta = (d: string) => {
    const text = readFileSync(join(ROOT, d, 'results.jsonl'), 'utf8');
    return text.includes('"kind":"delta-eval"') && !text.includes('"kind":"eval"');
  };
  const seedGroups = README_RUNS.filter((d) => isDeltaSeedGroup(join(ROOT, d)));
  const runs = README_RUNS.filter((d) => !seedGroups.includes(d));
  const single = runs.filter((d) => !existsSync(join(ROOT, d, 'baselines')) && !isDelta(d));
  const deltas = runs.filter((d) => !existsSync(join(ROOT, d, 'baselines')) && isDelta(d));

  it.each(seedGroups.map((d) => [d]))(
    '%s: the table over seeds agrees with every seed run it averages',
    (dir) => {
      const abs = join(ROOT, dir);
      const tables = deltaSeedTables(abs, SEED_TABLE_ORDER);
      // `<optimizer>_mode`: the same runs' edits written at the gate's mode, where the runs measured it.
      const runOf = (label: string) => label.replace(/_mode$/, '');
      const optimizers = [...new Set(tables.map((t) => runOf(t.condition)))];
      expect(optimizers[0]).toBe('direct');
      expect(['direct', 'ppo', 'reinforce'].filter((o) => optimizers.includes(o))).toEqual(optimizers);
      for (const t of tables) {
        expect(t.seeds.length).toBeGreaterThanOrEqual(3);
        // Each seed's row is that run's own saved table; over seeds (same people in every run) the mean of the
        // per-person averages is the mean of the seeds' means.
        for (const { seed, scores } of t.seeds) {
          const saved = new RunDir(join(abs, `${runOf(t.condition)}-s${seed}`))
            .records()
            .find((r) => r['kind'] === 'delta-eval')!['scores'] as Record<string, { es: { mean: number } }>;
          expect(scores.es.mean).toBeCloseTo(saved[`delta_${t.condition}`]!.es.mean, 12);
        }
        const meanOfSeeds = t.seeds.reduce((s, x) => s + x.scores.es.mean, 0) / t.seeds.length;
        expect(t.overSeeds.es.mean).toBeCloseTo(meanOfSeeds, 12);
        expect(t.overSeeds.es.ci95[0]).toBeLessThan(t.overSeeds.es.mean);
        // The paired difference's mean is the difference of the means (same people).
        if (t.pairedToReference !== undefined)
          expect(t.pairedToReference.es.mean).toBeCloseTo(
            t.overSeeds.es.mean - tables[0]!.overSeeds.es.mean,
            12,
          );
      }
      expect(tables[0]!.pairedToReference).toBeUndefined();
      // Stacking over seeds (where the runs stacked): a condition one seed stacked is that run's own table; one
      // every seed stacked has the mean of the runs' means (the same people in every seed).
      const runStacks = readdirSync(abs)
        .filter((d) => /^[a-z]+-s\d+$/.test(d))
        .map((d) => stacksFromRecords(new RunDir(join(abs, d)).records()))
        .filter((x) => x.length > 0);
      for (const x of stackSeedSummary(abs)) {
        const mine = runStacks
          .map((r) => r.find((y) => y.condition === x.condition && y.size === x.size))
          .filter((y) => y !== undefined);
        expect(mine).toHaveLength(x.seeds);
        expect(x.es.mean).toBeCloseTo(mine.reduce((a, y) => a + y.es.mean, 0) / mine.length, 12);
      }
      expect(rebuild(abs)).toMatch(
        tables.length > 1
          ? new RegExp(
              `delta mode over seeds[\\s\\S]*delta_${tables[1]!.condition}_vs_delta_direct\\s+ES -?\\d`,
            )
          : /delta mode over seeds/,
      );
    },
  );

  it.each(deltas.map((d) => [d]))('%s: every delta table equals the one its run wrote', (dir) => {
    const records = new RunDir(join(ROOT, dir)).records().filter((r) => r['kind'] === 'delta-eval');
    const rebuilt = deltaFromRecords(records);
    expect(rebuilt.length).toBeGreaterThan(0);
    rebuilt.forEach((t, i) => {
      const saved = records[i]!['scores'] as Record<string, Record<string, { mean: number; ci95: number[] }>>;
      for (const [name, s] of Object.entries(t.scores))
        for (const m of ['es', 'ps', 'ns', 'retention', 'drawdown'] as const) {
          expect(s[m].mean, `${name} ${m}`).toBeCloseTo(saved[name]![m]!.mean, 12);
          expect(s[m].ci95[0], `${name} ${m}`).toBeCloseTo(saved[name]![m]!.ci95[0]!, 12);
        }
    });
    const text = rebuild(join(ROOT, dir));
    expect(text).toMatch(/delta_(direct|ppo|reinforce)_shuffled/);
    // The generator against the passage's LoRA, paired over people, equals the difference of the two ES columns.
    const t0 = rebuilt[0]!;
    const gen = Object.keys(t0.scores).find((k) => k.startsWith('delta_') && !k.endsWith('_shuffled'))!;
    const diff = (100 * (t0.scores[gen]!.es.mean - t0.scores['passage']!.es.mean)).toFixed(1);
    expect(text).toContain(`${gen}_vs_passage`.padEnd(40) + ` ES ${diff} [`);
  });

  it('a stacking run: the table of each condition and size, a stack of one equal to the single-edit row', () => {
    const dir = deltas.find((d) =>
      new RunDir(join(ROOT, d)).records().some((r) => r['kind'] === 'delta-stack'),
    );
    expect(dir).toBeDefined();
    const records = new RunDir(join(ROOT, dir!)).records();
    const stacks = stacksFromRecords(records);
    expect(stacks.filter((x) => x.condition === 'delta_direct').map((x) => x.size)).toEqual([1, 2, 4, 8, 16]);
    // One edit alone is the editing table's row (same people, same edits).
    const single = deltaFromRecords(records)[0]!.scores['delta_direct']!;
    const one = stacks.find((x) => x.condition === 'delta_direct' && x.size === 1)!;
    expect(one.es.mean).toBeCloseTo(single.es.mean, 12);
    expect(rebuild(join(ROOT, dir!))).toMatch(/stacking .*\n[\s\S]*delta_direct\s+8\s/);
  });
  it('a stacking-only run (experiment:delta-stack): its table equals its summary.json', () => {
    const dir = join(ROOT, 'experiments/results/session12/delta/val16-compose-r2');
    const saved = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as {
      stack: { condition: string; size: number; es: { mean: number }; retention: { mean: number } }[];
    };
    const rebuilt = stacksFromRecords(new RunDir(dir).records());
    expect(rebuilt.map((x) => `${x.condition}×${x.size}`)).toEqual(
      saved.stack.map((x) => `${x.condition}×${x.size}`),
    );
    rebuilt.forEach((x, i) => {
      expect(x.es.mean).toBeCloseTo(saved.stack[i]!.es.mean, 12);
      expect(x.retention.mean).toBeCloseTo(saved.stack[i]!.retention.mean, 12);
    });
    expect(rebuild(dir)).toMatch(/stacking .*\n[\s\S]*lsq@0\.1\s+8\s/);
  });
  const headlines = README_RUNS.filter((d) => existsSync(join(ROOT, d, 'baselines')));

  it.each(single.map((d) => [d]))('%s: the table and paired CIs equal its summary.json', (dir) => {
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

  it.each(headlines.map((d) => [d]))(
    "%s: every run's table and paired CIs, and the between-run summary, equal headline.json",
    (dir) => {
      const abs = join(ROOT, dir);
      type Interval = { mean: number; ci95: number[]; n: number };
      const saved = JSON.parse(readFileSync(join(abs, 'headline.json'), 'utf8')) as {
        runs: {
          results: Record<string, Interval & { heldOut?: Interval }>;
          paired: Record<string, Interval>;
          pairedHeldOut: Record<string, Interval>;
        }[];
        acrossRuns: {
          seal: { seen: Interval; heldOut: Interval };
          paired: Record<string, Interval>;
          pairedHeldOut: Record<string, Interval>;
        };
      };
      const rebuilt = headlineFromRecords(abs);
      // A test-split headline reports ≥ 3 RL runs; a val run (choosing a setting) may have one.
      const split = (
        JSON.parse(readFileSync(join(abs, 'run-0', 'config.json'), 'utf8')) as {
          config: { headline: { split?: string } };
        }
      ).config.headline.split;
      if (split !== 'val') expect(headlineRuns(abs).length).toBeGreaterThanOrEqual(3);
      // One run has no between-run interval: the text says so rather than printing [x, x].
      const text = rebuild(abs);
      expect(text.includes('no interval (one run)')).toBe(saved.runs.length === 1);
      expect(rebuilt.runs.length).toBe(saved.runs.length);
      const close = (a: { mean: number; ci95: readonly number[] }, b: Interval, what: string) => {
        expect(a.mean, what).toBeCloseTo(b.mean, 12);
        expect(a.ci95[0], what).toBeCloseTo(b.ci95[0]!, 12);
        expect(a.ci95[1], what).toBeCloseTo(b.ci95[1]!, 12);
      };
      rebuilt.runs.forEach((t, i) => {
        const s = saved.runs[i]!;
        for (const [name, r] of Object.entries(s.results)) {
          close(t[name]!, r, `run ${i} ${name}`);
          if (r.heldOut !== undefined) close(t[name]!.heldOut!, r.heldOut, `run ${i} ${name} held-out`);
        }
        for (const [k, d] of Object.entries(s.paired)) close(sealPairs(t, 'seen')[k]!, d, `run ${i} ${k}`);
        for (const [k, d] of Object.entries(s.pairedHeldOut))
          close(sealPairs(t, 'heldOut')[k]!, d, `run ${i} ${k} held-out`);
      });
      close(rebuilt.acrossRuns['seal']!['heldOut']!, saved.acrossRuns.seal.heldOut, 'across seal held-out');
      for (const [k, d] of Object.entries(saved.acrossRuns.pairedHeldOut))
        close(rebuilt.acrossRuns['pairedHeldOut']![k]!, d, `across ${k}`);
    },
  );

  // Every committed grid table (experiment:grids): the conditions, intervals and paired differences its grids.json
  // holds, rebuilt from the per-(condition, seed, task) rows, and the text lists the conditions in the table's order.
  const gridTables = readdirSync(join(ROOT, 'experiments', 'results'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith(join('table', 'grids.json')))
    .map((f) => join('experiments', 'results', f, '..', '..'))
    .sort();
  it('finds the committed grid tables', () => expect(gridTables.length).toBeGreaterThanOrEqual(8));
  it.each(gridTables.map((d) => [d]))('%s: the grid table equals its grids.json', (dir) => {
    const abs = join(ROOT, dir);
    type Interval = { mean: number; ci95: number[]; n: number };
    const saved = JSON.parse(readFileSync(join(abs, 'table', 'grids.json'), 'utf8')) as {
      results: Record<string, Interval & { seeds: number; rejected: number }>;
      paired: Record<string, Record<string, Interval>>;
      acrossRuns: { seal: Interval };
    };
    const rebuilt = gridFromDir(abs);
    const close = (a: { mean: number; ci95: readonly number[]; n: number }, b: Interval, what: string) => {
      expect(a.mean, what).toBeCloseTo(b.mean, 12);
      expect(a.ci95[0], what).toBeCloseTo(b.ci95[0]!, 12);
      expect(a.ci95[1], what).toBeCloseTo(b.ci95[1]!, 12);
      expect(a.n, what).toBe(b.n);
    };
    expect(Object.keys(rebuilt.results).sort()).toEqual(Object.keys(saved.results).sort());
    for (const [k, r] of Object.entries(saved.results)) {
      close(rebuilt.results[k]!, r, k);
      expect(rebuilt.results[k]!.seeds, k).toBe(r.seeds);
      expect(rebuilt.results[k]!.rejected, k).toBeCloseTo(r.rejected, 12);
    }
    expect(Object.keys(rebuilt.paired).sort()).toEqual(Object.keys(saved.paired).sort());
    for (const [run, ps] of Object.entries(saved.paired)) {
      expect(Object.keys(rebuilt.paired[run]!).sort()).toEqual(Object.keys(ps).sort());
      for (const [k, d] of Object.entries(ps)) close(rebuilt.paired[run]![k]!, d, k);
    }
    close(rebuilt.acrossRuns.seal, saved.acrossRuns.seal, 'across runs');
    const lines = rebuild(dir).split('\n');
    const order = lines.slice(1, 1 + Object.keys(saved.results).length).map((l) => l.trim().split(' ')[0]);
    expect(order[0]).toBe('in_context');
    expect(order.at(-1)).toBe('oracle');
  });
});
