/**
 * The grid domain's results table: the pure pieces (best fixed recipe, oracle, rows → mean ± CI), and the experiment
 * end to end on a tiny grid model (plumbing, not accuracy): the val sweep chooses the fixed recipe, every condition
 * writes one row per (seed, task), the oracle is never below the best fixed recipe on the same task and seed (it is
 * in the space, trained with the same seed), and a rerun resumes without recomputing.
 */

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  GridTableOptionsSchema,
  keepRule,
  otherLoopOptions,
  runGridTable,
  sameTable,
} from '../src/app/experiments/grids-table.js';
import { ARC_COLOURS, gridHtml } from '../src/app/report/grids.js';
import { initEngine } from '../src/engine/index.js';
import { bestFixedIndex, type GridRow, oracleScores, summariseGridRows } from '../src/seal/eval/grids.js';
import { formatRecipe, recipeSubset } from '../src/tasks/grids/recipe.js';
import { seal } from './helpers/cli.js';
import { tinyGridModel } from './helpers/grids.js';
import { ROOT, tempDir } from './helpers/paths.js';

describe('grid table: pure pieces', () => {
  it('the best fixed recipe has the highest mean (earliest on ties); the oracle takes the best per task', () => {
    expect(
      bestFixedIndex([
        [0, 1, 0],
        [1, 1, 0],
        [0, 1, 1],
      ]),
    ).toBe(1);
    expect(bestFixedIndex([[0], [0]])).toBe(0);
    expect(
      oracleScores([
        [0, 1, 0],
        [0, 0, 0],
        [0, 1, 1],
      ]),
    ).toEqual([0, 1, 1]);
  });

  it('--keep maps to ReST-EM keep settings: solved = reward above 0, beats-in-context = above the baseline', () => {
    expect(keepRule('solved')).toEqual({ onlyPositiveGain: false, minReward: 0 });
    expect(keepRule('beats-in-context')).toEqual({ onlyPositiveGain: true });
  });

  it('an option only the other outer loop reads is refused, naming it, before anything is written', () => {
    expect(otherLoopOptions(['grpoLr', 'tasks'], 'rest-em')).toEqual(['grpoLr']);
    expect(otherLoopOptions(['sftLr', 'keep', 'keepPerTask', 'rounds'], 'grpo')).toEqual([
      'sftLr',
      'keep',
      'keepPerTask',
    ]);
    expect(otherLoopOptions(['sftLr', 'keep'], 'rest-em')).toEqual([]);
    expect(otherLoopOptions(['grpoLr'], 'grpo')).toEqual([]);
    const out = join(tempDir(), 'table');
    const r = spawnSync(
      process.execPath,
      [
        join(ROOT, 'dist', 'app', 'experiments', 'grids-table.js'),
        '--outer',
        'grpo',
        '--sft-lr',
        '1e-3',
        '--out',
        out,
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--sft-lr: not read by --outer grpo');
    expect(existsSync(out)).toBe(false);
  });

  it('a saved table resumes under the same options: workers aside, an omitted --space read as the whole space', () => {
    const saved = GridTableOptionsSchema.parse({ out: 'T', space: 64, workers: 1 });
    const o = GridTableOptionsSchema.parse({ out: 'T', workers: 2 });
    expect(sameTable(saved, o, 64)).toBe(true);
    expect(sameTable(o, saved, 64)).toBe(true);
    // The model's space is another size (a wide model): 64 is then a subset, not the whole space.
    expect(sameTable(saved, o, 88)).toBe(false);
    expect(sameTable(saved, { ...saved, seeds: 2 }, 64)).toBe(false);
  });

  it('a grid is drawn as a table of cells in the ARC palette', () => {
    const html = gridHtml([
      [0, 1],
      [9, 2],
    ]);
    expect(html.match(/<tr>/g)).toHaveLength(2);
    expect(html.match(/<td /g)).toHaveLength(4);
    expect(html).toContain(`background:${ARC_COLOURS[9]}`);
  });

  it('rows → per-task means over seeds, mean ± CI over tasks, rejected share', () => {
    const row = (task: string, seed: number, score: number, rejected?: string): GridRow => ({
      condition: 'c',
      seed,
      task,
      score,
      ms: 0,
      ...(rejected === undefined ? {} : { rejected }),
    });
    const r = summariseGridRows(
      [
        row('a', 0, 1),
        row('a', 1, 0),
        row('b', 0, 1),
        row('b', 1, 1, undefined),
        row('c', 0, 0, 'bad'),
        row('c', 1, 0),
      ],
      ['a', 'b', 'c'],
    );
    expect(r.perContext).toEqual({ a: 0.5, b: 1, c: 0 });
    expect(r.mean).toBeCloseTo(0.5);
    expect(r.n).toBe(3);
    expect(r.seeds).toBe(2);
    expect(r.rejected).toBeCloseTo(1 / 6);
    expect(r.ci95[0]).toBeLessThan(r.mean);
  });
});

describe('grid table experiment (tiny model)', () => {
  let modelDir: string;
  let out: string;
  /** The table's options on the tiny budget every test here shares (one run of one round, 2 tasks, 2 recipes). */
  const tinyTable = (o: Record<string, unknown>) =>
    GridTableOptionsSchema.parse({
      model: modelDir,
      runs: 1,
      tasks: 2,
      rounds: 1,
      valTasks: 2,
      rlContexts: 2,
      samples: 2,
      space: 2,
      rank: 2,
      ...o,
    });
  beforeAll(async () => {
    await initEngine('wasm');
    const root = tempDir('seal-grid-table-');
    ({ modelDir } = await tinyGridModel(root, { seed: 5, rlTasks: 2, valTasks: 2, testTasks: 2 }));
    out = join(root, 'table');
  });

  it('writes every condition, oracle ≥ best fixed per (task, seed), and resumes', async () => {
    const opts = tinyTable({ out, seeds: 2, split: 'test', keepPerTask: 2 });
    await runGridTable(opts);
    const summary = JSON.parse(readFileSync(join(out, 'table', 'grids.json'), 'utf8')) as {
      results: Record<string, { n: number; seeds: number }>;
      paired: Record<string, Record<string, { n: number }>>;
      bestFixed: string;
    };
    expect(Object.keys(summary.results)).toEqual([
      'in_context',
      'base_recipes',
      'best_fixed',
      'seal_run0',
      'oracle', // evaluated last (the costliest): a budgeted resumed run has SEAL's comparisons first
    ]);
    for (const [k, v] of Object.entries(summary.results)) {
      expect(v.n).toBe(2);
      expect(v.seeds).toBe(k === 'in_context' ? 1 : 2);
    }
    expect(Object.keys(summary.paired['seal_run0']!)).toEqual([
      'seal_run0_vs_in_context',
      'seal_run0_vs_base_recipes',
      'seal_run0_vs_best_fixed',
      'seal_run0_vs_oracle',
    ]);
    const rows = (name: string) =>
      readFileSync(join(out, 'table', `${name}.jsonl`), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as GridRow);
    const fixed = rows('best_fixed');
    const oracle = rows('oracle');
    expect(fixed).toHaveLength(4);
    for (const f of fixed) {
      const o = oracle.find((x) => x.task === f.task && x.seed === f.seed)!;
      expect(o.score).toBeGreaterThanOrEqual(f.score);
      expect(f.recipe).toBe(summary.bestFixed);
    }
    const sweep = JSON.parse(readFileSync(join(out, 'fixed', 'sweep.json'), 'utf8')) as {
      scores: number[][];
    };
    expect(sweep.scores).toHaveLength(2);
    // The run records the keep rule it trained with (SEAL's ARC rule: every recipe that solved its task).
    const runConfig = JSON.parse(readFileSync(join(out, 'run-0', 'config.json'), 'utf8')) as {
      config: { outer: { onlyPositiveGain: boolean; minReward?: number; keepPerContext: number } };
    };
    expect(runConfig.config.outer).toMatchObject({
      onlyPositiveGain: false,
      minReward: 0,
      keepPerContext: 2,
    });
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toMatch(/<table class="g">/);
    for (const k of Object.keys(summary.results)) expect(html).toContain(k);
    expect(html).toContain('test input');
    expect(html).not.toMatch(/<script/);
    const before = statSync(join(out, 'table', 'oracle.jsonl')).mtimeMs;
    await runGridTable(opts);
    expect(statSync(join(out, 'table', 'oracle.jsonl')).mtimeMs).toBe(before);
    expect(rows('oracle')).toHaveLength(4);
    await expect(runGridTable({ ...opts, space: 3 })).rejects.toThrow(/other options/);
    // A run trained under another keep rule (e.g. written before --keep existed) is not resumed under this one.
    const runFile = join(out, 'run-0', 'config.json');
    const runSaved = readFileSync(runFile, 'utf8');
    const other = JSON.parse(runSaved) as { config: { outer: Record<string, unknown> } };
    other.config.outer['onlyPositiveGain'] = true;
    writeFileSync(runFile, JSON.stringify(other));
    await expect(runGridTable(opts)).rejects.toThrow(/run-0.*another outer loop/);
    writeFileSync(runFile, runSaved);
    expect(rows('oracle')).toHaveLength(4);
    // A condition cut short (a crash mid-way) is redone whole; a malformed row is an error naming file and line.
    const fixedFile = join(out, 'table', 'best_fixed.jsonl');
    const fixedRows = readFileSync(fixedFile, 'utf8').trim().split('\n');
    writeFileSync(fixedFile, `${fixedRows[0]}\n`);
    await runGridTable(opts);
    const noMs = (lines: readonly string[]) =>
      lines.map((l) => {
        const { ms: _ms, ...rest } = JSON.parse(l) as Record<string, unknown>;
        return rest;
      });
    expect(noMs(readFileSync(fixedFile, 'utf8').trim().split('\n'))).toEqual(noMs(fixedRows));
    writeFileSync(fixedFile, `${fixedRows[0]}\n{"condition": "best_fixed", "score": 2}\n`);
    await expect(runGridTable(opts)).rejects.toThrow(/best_fixed\.jsonl:2/);
  }, 300_000);

  it('on val tasks the oracle reads the val sweep instead of sweeping again', async () => {
    const valOut = join(out, '..', 'table-val');
    const opts = tinyTable({ out: valOut, seeds: 1, split: 'val', keepPerTask: 2 });
    await runGridTable(opts);
    const sweepFile = join(valOut, 'fixed', 'sweep.json');
    const sweep = JSON.parse(readFileSync(sweepFile, 'utf8')) as { scores: number[][]; tasks: string[] };
    const oracleFile = join(valOut, 'table', 'oracle.jsonl');
    const oracle = () =>
      readFileSync(oracleFile, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as GridRow);
    expect(oracle().map((r) => r.score)).toEqual(oracleScores(sweep.scores));
    expect(oracle().map((r) => r.task)).toEqual(sweep.tasks);
    // Mark recipe 1 as solving task 0 in the sweep and redo the oracle: it reads the mark (this tiny model solves
    // nothing, so a new sweep would not).
    expect(sweep.scores.map((row) => row[0])).toEqual([0, 0]);
    expect(oracle()[0]!.score).toBe(0);
    sweep.scores[1]![0] = 1;
    writeFileSync(sweepFile, JSON.stringify({ ...sweep }));
    writeFileSync(oracleFile, '');
    await runGridTable(opts);
    expect(oracle()[0]!.score).toBe(1);
    expect(oracle()[0]!.recipe).toBe(formatRecipe(recipeSubset(2)[1]!).replaceAll('\n', '; '));
  }, 300_000);

  it('--outer grpo: the same table with a GRPO run over recipes (its settings in the run config)', async () => {
    const grpoOut = join(out, '..', 'table-grpo');
    await runGridTable(
      tinyTable({ out: grpoOut, split: 'val', outer: 'grpo', grpoLr: 3e-5, seeds: 2, evalTemperature: 0 }),
    );
    // Greedy evaluation: the base model writes the same recipe for a task under every evaluation seed.
    const base = readFileSync(join(grpoOut, 'table', 'base_recipes.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as GridRow);
    expect(base).toHaveLength(4);
    for (const r of base)
      expect(r.recipe).toBe(base.find((x) => x.task === r.task && x.seed !== r.seed)!.recipe);
    const runConfig = JSON.parse(readFileSync(join(grpoOut, 'run-0', 'config.json'), 'utf8')) as {
      config: { outer: { kind: string; lr: number; samplesPerContext: number } };
    };
    expect(runConfig.config.outer).toMatchObject({ kind: 'grpo', lr: 3e-5, samplesPerContext: 2 });
    const seal = readFileSync(join(grpoOut, 'table', 'seal_run0.jsonl'), 'utf8')
      .trim()
      .split('\n');
    expect(seal).toHaveLength(4);
  }, 300_000);

  it('seal demo --domain grids --quick writes the table and report; people-only flags are refused', () => {
    const runs = join(out, '..', 'demo-runs');
    const d = seal([
      'demo',
      '--domain',
      'grids',
      '--quick',
      '--model',
      modelDir,
      '--out',
      runs,
      '--workers',
      '1',
    ]);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toMatch(/grid table: 2 test tasks × 1 seeds/);
    const dir = readdirSync(runs).map((x) => join(runs, x))[0]!;
    expect(dir).toMatch(/grids-demo-0-/);
    expect(existsSync(join(dir, 'report.html'))).toBe(true);
    const bad = seal([
      'demo',
      '--domain',
      'grids',
      '--model',
      modelDir,
      '--delta-contexts',
      '2',
      '--out',
      join(out, '..', 'never'),
    ]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--delta-contexts is a people-demo option/);
    expect(existsSync(join(out, '..', 'never'))).toBe(false);
  }, 300_000);
});
