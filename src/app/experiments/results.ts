/**
 * Rebuilds a run's single-passage results table and SEAL's paired differences from its committed per-context rows
 * (`results.jsonl`, the `eval` records: one accuracy per condition, context and seed), and delta mode's editing
 * tables from their per-person rows (the `delta-eval` records) — the numbers the README quotes come from here, not
 * from a hand-copied summary.
 *
 *   npm run results [-- RUN_DIR …]      (default: the runs the README quotes)
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type EditRow, type EditScores, editScores } from '../../seal/delta/eval.js';
import { type StackRow, type StackSummary, summariseStacks } from '../../seal/delta/stack.js';
import { type ConditionResult, formatPaired, formatTable } from '../../seal/eval/evaluate.js';
import { type GridTable, gridTable, isSealRun, readGridRows } from '../../seal/eval/grids.js';
import { type MeanCi, meanCi, pairedAgainst, pairedDifference } from '../../seal/eval/stats.js';
import { RunDir } from '../../util/run-dir.js';
import { sealPairs } from '../demo.js';
import { gridTableText } from './grids-table.js';

/** The runs whose numbers the README quotes. */
export const README_RUNS = [
  'experiments/results/session17/headline-test-lw05',
  'experiments/results/session10/headline-test',
  'experiments/results/session8/headline-test',
  'experiments/results/session8/val/reward-k4',
  'experiments/results/session8/val/reward-k4-fair2',
  'experiments/results/session8/val/neutral-k4-fair2',
  'experiments/results/session8/val/neutral-k8-fair2',
  'experiments/results/session8/val/grpo-reward-k8',
  'experiments/results/session9/val/sft12',
  'experiments/results/session9/val/neutral-k16',
  'experiments/results/session9/val/neutral-k16-r5',
  'experiments/results/session10/val/k16-t07',
  'experiments/results/session10/val/k16-t05',
  'experiments/results/session16/val/ctx64',
  'experiments/results/session17/val/lw05',
  'experiments/results/session6/headline-2rounds',
  'experiments/results/session5/demo-own-sgemm',
  'experiments/results/session10/delta/direct-val16',
  'experiments/results/session11/delta/val16-soft-gate',
  'experiments/results/session11/delta/val16-pg-warm',
  'experiments/results/session11/delta/val16-gate-seed1',
  'experiments/results/session11/delta/val16-gate-stack',
  'experiments/results/session11/delta/val16-stack-train4',
  'experiments/results/session13/delta/test40',
  'experiments/results/session15/delta/test40-stack',
  'experiments/results/session15/delta/val16-curve',
  'experiments/results/session16/delta/test40',
] as const;

/** The delta-mode tables of a directory (its `delta-eval` records), rebuilt from their per-person rows. */
export function deltaFromRecords(
  records: readonly Record<string, unknown>[],
): { label: string; scores: Record<string, EditScores> }[] {
  return records
    .filter((r) => r['kind'] === 'delta-eval')
    .map((r) => ({
      label: `${String(r['optimizer'])}${r['magnitudeWeight'] === undefined ? '' : ` (magnitude weight ${String(r['magnitudeWeight'])})`}`,
      scores: Object.fromEntries(
        Object.entries(r['scores'] as Record<string, { perContext: EditRow[] }>).map(([k, v]) => [
          k,
          // Rows written before ‖ΔW‖² was recorded have none.
          editScores(v.perContext.map((row) => ({ ...row, magnitude: row.magnitude ?? Number.NaN }))),
        ]),
      ),
    }));
}

/** `mean [lo, hi]` of an interval, scaled (100: percent), or '–' when there is no mean; the tables' one cell. */
function cell(m: MeanCi, scale = 100, digits = 1): string {
  return Number.isFinite(m.mean)
    ? `${(scale * m.mean).toFixed(digits)} [${(scale * m.ci95[0]).toFixed(digits)}, ${(scale * m.ci95[1]).toFixed(digits)}]`
    : '–';
}

function deltaText(dir: string, tables: ReturnType<typeof deltaFromRecords>): string {
  return tables
    .map(
      (t) =>
        `${join(dir, 'results.jsonl')}: delta mode, ${t.label}\n${'condition'.padEnd(24)}${['ES %', 'PS %', 'NS %', 'retention %', 'drawdown (nats)'].map((h) => h.padStart(25)).join('')}  ms/edit   n\n${Object.entries(
          t.scores,
        )
          .map(
            ([k, s]) =>
              `${k.padEnd(24)}${[cell(s.es), cell(s.ps), cell(s.ns), cell(s.retention), cell(s.drawdown, 1, 3)].map((c) => c.padStart(25)).join('')}  ${s.editMs.toFixed(1).padStart(7)}  ${s.es.n}`,
          )
          .join('\n')}\n${pairedText(t.scores)}`,
    )
    .join('\n');
}

/** The generator's paired differences (ES and retention, points) against every other condition, over people. */
function pairedText(scores: Record<string, EditScores>): string {
  const name = Object.keys(scores).find((k) => k.startsWith('delta_') && !k.endsWith('_shuffled'));
  if (name === undefined) return '';
  const by = (m: 'es' | 'retention') =>
    pairedAgainst(
      name,
      Object.fromEntries(
        Object.entries(scores).map(([k, v]) => [
          k,
          Object.fromEntries(v.perContext.filter((r) => !Number.isNaN(r[m])).map((r) => [r.id, r[m]])),
        ]),
      ),
    );
  const es = by('es');
  const kept = by('retention');
  return `paired over people (points, 95% t interval):\n${Object.keys(es)
    .map((k) => `  ${k.padEnd(40)} ES ${cell(es[k]!).padEnd(24)} retention ${cell(kept[k]!)}  n ${es[k]!.n}`)
    .join('\n')}\n`;
}

/** The stacking table of a delta-mode directory (its `delta-stack` rows), rebuilt per condition and size. */
export function stacksFromRecords(records: readonly Record<string, unknown>[]): StackSummary[] {
  return summariseStacks(records.filter((r) => r['kind'] === 'delta-stack') as unknown as StackRow[]);
}

function stackText(stacks: readonly StackSummary[]): string {
  if (stacks.length === 0) return '';
  return `\nstacking (the edits of n people at once — summed, routed by scope, composed or one LoRA; ES over members, retention and drawdown over groups)\n${'condition'.padEnd(24)}${'edits'.padStart(6)}${['ES %', 'retention %', 'drawdown (nats)'].map((h) => h.padStart(27)).join('')}\n${stacks
    .map(
      (x) =>
        `${x.condition.padEnd(24)}${String(x.size).padStart(6)}${[cell(x.es), cell(x.retention), cell(x.drawdown, 1, 3)].map((c) => c.padStart(27)).join('')}`,
    )
    .join('\n')}\n`;
}

/**
 * Per condition: the mean over seeds per context, then mean ± t-CI over contexts (as the evaluation computes it);
 * `seal` is the last round's policy.
 */
export function tableFromRecords(
  records: readonly Record<string, unknown>[],
): Record<string, ConditionResult> {
  const acc = new Map<string, Map<string, { seen: number[]; heldOut: number[] }>>();
  for (const r of records) {
    if (r['kind'] !== 'eval') continue;
    const byContext = acc.get(r['condition'] as string) ?? new Map();
    const values = byContext.get(r['context'] as string) ?? { seen: [], heldOut: [] };
    values.seen.push(r['accuracy'] as number);
    if (typeof r['heldOutAccuracy'] === 'number') values.heldOut.push(r['heldOutAccuracy']);
    byContext.set(r['context'] as string, values);
    acc.set(r['condition'] as string, byContext);
  }
  const mean = (v: readonly number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const out: Record<string, ConditionResult> = {};
  for (const [name, byContext] of acc) {
    const perContext = Object.fromEntries([...byContext].map(([c, v]) => [c, mean(v.seen)]));
    const heldOut = Object.fromEntries(
      [...byContext].filter(([, v]) => v.heldOut.length > 0).map(([c, v]) => [c, mean(v.heldOut)]),
    );
    out[name] = {
      ...meanCi(Object.values(perContext)),
      perContext,
      seeds: [...byContext.values()][0]!.seen.length,
      ...(Object.keys(heldOut).length === 0
        ? {}
        : { heldOut: { ...meanCi(Object.values(heldOut)), perContext: heldOut } }),
    };
  }
  const lastRound = Math.max(
    0,
    ...Object.keys(out).map((k) => Number(/^seal_round_(\d+)$/.exec(k)?.[1] ?? 0)),
  );
  if (lastRound > 0) out['seal'] = out[`seal_round_${lastRound}`]!;
  return out;
}

function tableText(title: string, results: Record<string, ConditionResult>): string {
  const heldOut = sealPairs(results, 'heldOut');
  return `${title}\n${formatTable(results)}\n\npaired over people (seen wordings):\n${formatPaired(sealPairs(results, 'seen'))}\n${Object.keys(heldOut).length === 0 ? '' : `\npaired over people (held-out wordings):\n${formatPaired(heldOut)}\n`}`;
}

/** The RL runs of a headline directory (`run-0`, `run-1`, …), in order. */
export function headlineRuns(dir: string): string[] {
  return readdirSync(dir)
    .filter((d) => /^run-\d+$/.test(d))
    .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)));
}

/**
 * Per run, the table from the shared baselines' rows and the run's own rows (SEAL and the length-matched row); then,
 * across runs, each paired difference's mean over runs with a t interval over runs (between-run variance).
 */
export function headlineFromRecords(dir: string): {
  runs: Record<string, ConditionResult>[];
  acrossRuns: Record<string, Record<string, MeanCi>>;
} {
  const base = new RunDir(join(dir, 'baselines')).records();
  const runs = headlineRuns(dir).map((r) =>
    tableFromRecords([...base, ...new RunDir(join(dir, r)).records()]),
  );
  const across = (pick: (t: Record<string, ConditionResult>) => number | undefined) =>
    meanCi(runs.map(pick).filter((x): x is number => x !== undefined));
  const keys = Object.keys(runs[0] === undefined ? {} : sealPairs(runs[0], 'seen'));
  return {
    runs,
    acrossRuns: {
      seal: {
        seen: across((t) => t['seal']?.mean),
        heldOut: across((t) => t['seal']?.heldOut?.mean),
      },
      paired: Object.fromEntries(keys.map((k) => [k, across((t) => sealPairs(t, 'seen')[k]?.mean)])),
      pairedHeldOut: Object.fromEntries(
        keys.map((k) => [k, across((t) => sealPairs(t, 'heldOut')[k]?.mean)]),
      ),
    },
  };
}

/**
 * Per RL round, from the `selfedit` rows: the mean reward of all sampled self-edits, and the mean over contexts of
 * the best one (what ReST-EM keeps) — how far the policy's average sample is from what it is distilled on.
 */
export function distillation(
  records: readonly Record<string, unknown>[],
): { round: number; k: number; meanSample: number; meanBest: number }[] {
  const by = new Map<number, Map<string, number[]>>();
  for (const r of records) {
    if (r['kind'] !== 'selfedit') continue;
    const round = by.get(r['round'] as number) ?? new Map<string, number[]>();
    const xs = round.get(r['context'] as string) ?? [];
    xs.push(r['reward'] as number);
    round.set(r['context'] as string, xs);
    by.set(r['round'] as number, round);
  }
  const mean = (v: readonly number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  return [...by]
    .sort((a, b) => a[0] - b[0])
    .map(([round, contexts]) => {
      const groups = [...contexts.values()];
      return {
        round,
        k: groups[0]?.length ?? 0,
        meanSample: mean(groups.map(mean)),
        meanBest: mean(groups.map((g) => Math.max(...g))),
      };
    });
}

/** A delta-mode seed group: sub-directories `<optimizer>-s<seed>`, each one run of experiment:delta. */
const SEED_RUN = /^([a-z]+)-s(\d+)$/;

/** The seed runs of a directory (sub-directories `<optimizer>-s<seed>` holding results), sorted by name. */
function seedRuns(dir: string): string[] {
  if (!existsSync(dir) || existsSync(join(dir, 'results.jsonl'))) return [];
  return readdirSync(dir)
    .filter((d) => SEED_RUN.test(d) && existsSync(join(dir, d, 'results.jsonl')))
    .sort();
}

export function isDeltaSeedGroup(dir: string): boolean {
  return seedRuns(dir).length > 0;
}

export interface DeltaSeedTable {
  /** The condition's label: an optimizer (`direct`, `ppo`, …) or its mode writes (`<optimizer>_mode`). */
  readonly condition: string;
  /** Each seed's table of the generator's condition `delta_<optimizer>` (`<optimizer>_mode`: its mode writes). */
  readonly seeds: readonly { readonly seed: number; readonly scores: EditScores }[];
  /** Per metric, each person's value averaged over the seeds, then mean and t interval over people. */
  readonly overSeeds: Readonly<Record<'es' | 'ps' | 'ns' | 'retention' | 'drawdown', MeanCi>>;
  /** Against the first optimizer (the reference, e.g. the direct gradient), paired over people, seeds averaged. */
  readonly pairedToReference?: Readonly<Record<'es' | 'retention', MeanCi>>;
}

const SEED_METRICS = ['es', 'ps', 'ns', 'retention', 'drawdown'] as const;

/** The mean of the values given for each key (a person, a group), in the order the keys first appear. */
function meanPerKey(pairs: Iterable<readonly [string, number]>): Map<string, number> {
  const sum = new Map<string, { s: number; n: number }>();
  for (const [k, v] of pairs) {
    const x = sum.get(k) ?? { s: 0, n: 0 };
    sum.set(k, { s: x.s + v, n: x.n + 1 });
  }
  return new Map([...sum].map(([k, x]) => [k, x.s / x.n]));
}

/** The order of a seed group's tables: the direct gradient (the reference) first, each optimiser's mode writes after it. */
export const SEED_TABLE_ORDER = [
  'direct',
  'direct_mode',
  'ppo',
  'ppo_mode',
  'reinforce',
  'reinforce_mode',
] as const;

/**
 * The multi-seed editing table of a seed group: per optimizer (in `order`, the first the reference), each seed's
 * table and the table over seeds (each person's value averaged over the seeds, so the interval is over people), and
 * the paired difference to the reference over the people both measured.
 */
export function deltaSeedTables(dir: string, order: readonly string[]): DeltaSeedTable[] {
  // Each run's generator condition, and its writes at the gate's mode (`delta_<optimizer>_mode`) where measured.
  const runs = seedRuns(dir)
    .map((d) => ({ d, m: SEED_RUN.exec(d) }))
    .flatMap(({ d, m }) => {
      const optimizer = m![1]!;
      const table = deltaFromRecords(new RunDir(join(dir, d)).records())[0];
      return [optimizer, `${optimizer}_mode`].map((label) => ({
        condition: label,
        seed: Number(m![2]),
        scores: table?.scores[`delta_${label}`],
      }));
    })
    .filter((r): r is { condition: string; seed: number; scores: EditScores } => r.scores !== undefined);
  const conditions = [...new Set(runs.map((r) => r.condition))].sort(
    (a, b) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99),
  );
  const averaged = (label: string, m: (typeof SEED_METRICS)[number]): Record<string, number> =>
    Object.fromEntries(
      meanPerKey(
        runs
          .filter((r) => r.condition === label)
          .flatMap((r) => r.scores.perContext.map((row): [string, number] => [row.id, row[m]])),
      ),
    );
  const reference = conditions[0];
  return conditions.map((condition) => {
    const seeds = runs
      .filter((r) => r.condition === condition)
      .sort((a, b) => a.seed - b.seed)
      .map(({ seed, scores }) => ({ seed, scores }));
    const overSeeds = Object.fromEntries(
      SEED_METRICS.map((m) => [m, meanCi(Object.values(averaged(condition, m)))]),
    ) as DeltaSeedTable['overSeeds'];
    if (reference === undefined || condition === reference) return { condition, seeds, overSeeds };
    const pairedToReference = {
      es: pairedDifference(averaged(condition, 'es'), averaged(reference, 'es')),
      retention: pairedDifference(averaged(condition, 'retention'), averaged(reference, 'retention')),
    };
    return { condition, seeds, overSeeds, pairedToReference };
  });
}

/**
 * The stacking table of a seed group: per condition and size, each member's ES averaged over the seeds that stacked
 * it, then mean and t interval over members; retention and drawdown per group averaged over seeds, interval over
 * groups (the groups are the same people in every seed: consecutive blocks of the evaluated list).
 */
export function stackSeedSummary(dir: string): (StackSummary & { readonly seeds: number })[] {
  const all = seedRuns(dir).flatMap((d) =>
    new RunDir(join(dir, d))
      .records()
      .filter((r) => r['kind'] === 'delta-stack')
      // The seed number, not the run: a seed's LoRA rows may come from any of its optimisers' runs.
      .map((r) => ({ seed: Number(SEED_RUN.exec(d)![2]), row: r as unknown as StackRow })),
  );
  // One row per (seed, condition, size, group): a condition two runs of one seed both stacked counts once.
  const seen = new Set<string>();
  const rows = all.filter((r) => {
    const k = `${r.seed}\u0000${r.row.condition}\u0000${r.row.size}\u0000${r.row.group}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  const out: (StackSummary & { readonly seeds: number })[] = [];
  const keys = [...new Set(rows.map((r) => `${r.row.condition}\u0000${r.row.size}`))];
  for (const key of keys) {
    const same = rows.filter((r) => `${r.row.condition}\u0000${r.row.size}` === key);
    const avg = (pairs: readonly [string, number][]) => [
      ...meanPerKey(pairs.filter(([, v]) => !Number.isNaN(v))).values(),
    ];
    const first = same[0]!.row;
    out.push({
      condition: first.condition,
      size: first.size,
      seeds: new Set(same.map((r) => r.seed)).size,
      es: meanCi(avg(same.flatMap((r) => r.row.members.map((m): [string, number] => [m.id, m.es])))),
      retention: meanCi(avg(same.map((r): [string, number] => [String(r.row.group), r.row.retention]))),
      drawdown: meanCi(avg(same.map((r): [string, number] => [String(r.row.group), r.row.drawdown]))),
    });
  }
  return out;
}

function seedGroupText(dir: string): string {
  const tables = deltaSeedTables(dir, SEED_TABLE_ORDER);
  const row = (label: string, get: (m: (typeof SEED_METRICS)[number]) => MeanCi, n: number) =>
    `${label.padEnd(28)}${SEED_METRICS.map((m) => (m === 'drawdown' ? cell(get(m), 1, 3) : cell(get(m))))
      .map((c) => c.padStart(25))
      .join('')}  ${n}`;
  const lines = tables.flatMap((t) => [
    ...t.seeds.map((s) => row(`delta_${t.condition} seed ${s.seed}`, (m) => s.scores[m], s.scores.es.n)),
    row(`delta_${t.condition} over ${t.seeds.length} seeds`, (m) => t.overSeeds[m], t.overSeeds.es.n),
  ]);
  const paired = tables
    .filter((t) => t.pairedToReference !== undefined)
    .map(
      (t) =>
        `  ${`delta_${t.condition}_vs_delta_${tables[0]!.condition}`.padEnd(40)} ES ${cell(t.pairedToReference!.es).padEnd(24)} retention ${cell(t.pairedToReference!.retention)}  n ${t.pairedToReference!.es.n}`,
    );
  const head = `${dir}: delta mode over seeds (each person's value averaged over the seeds; 95% t interval over people)`;
  const columns = `${'condition'.padEnd(28)}${['ES %', 'PS %', 'NS %', 'retention %', 'drawdown (nats)'].map((h) => h.padStart(25)).join('')}   n`;
  const pairedBlock =
    paired.length === 0 ? [] : ['paired over people, seeds averaged (points, 95% t interval):', ...paired];
  const stacks = stackSeedSummary(dir);
  const stackBlock =
    stacks.length === 0
      ? []
      : [
          "stacking over seeds (each member's ES averaged over the seeds that stacked it, 95% t interval over members; retention and drawdown per group averaged, interval over groups)",
          `${'condition'.padEnd(24)}${'edits'.padStart(6)}${'seeds'.padStart(6)}${['ES %', 'retention %', 'drawdown (nats)'].map((h) => h.padStart(27)).join('')}`,
          ...stacks.map(
            (x) =>
              `${x.condition.padEnd(24)}${String(x.size).padStart(6)}${String(x.seeds).padStart(6)}${[cell(x.es), cell(x.retention), cell(x.drawdown, 1, 3)].map((c) => c.padStart(27)).join('')}`,
          ),
        ];
  return `${[head, columns, ...lines, ...pairedBlock, ...stackBlock].join('\n')}\n`;
}

/** A grid table directory (`experiment:grids`): its per-condition rows in `table/`. */
const isGridTable = (dir: string) => existsSync(join(dir, 'table', 'in_context.jsonl'));

/** The conditions of a grid table in the table's order: baselines, the RL runs by number, the oracle, the rest. */
function gridConditions(dir: string): string[] {
  const names = readdirSync(join(dir, 'table'))
    .filter((f) => f.endsWith('.jsonl'))
    .map((f) => f.slice(0, -'.jsonl'.length));
  const order = (k: string) =>
    isSealRun(k)
      ? 10 + Number(k.slice('seal_run'.length))
      : (({ in_context: 0, base_recipes: 1, best_fixed: 2, oracle: 1e6 } as Record<string, number>)[k] ??
        2e6);
  return names.sort((a, b) => order(a) - order(b) || a.localeCompare(b));
}

/** A grid table rebuilt from its committed rows (one per condition, seed and task). */
export function gridFromDir(dir: string): GridTable {
  const rows = Object.fromEntries(
    gridConditions(dir).map((k) => [k, readGridRows(join(dir, 'table', `${k}.jsonl`))]),
  );
  // The tasks in the table's order: in-context learning has one row per task.
  const tasks = (rows['in_context'] ?? []).map((r) => r.task);
  return gridTable(rows, tasks);
}

function gridText(dir: string): string {
  const t = gridFromDir(dir);
  const n = t.results['in_context']?.n ?? 0;
  const seeds = Math.max(...Object.values(t.results).map((r) => r.seeds));
  return gridTableText(t, `${dir}, ${n} tasks × ${seeds} seeds`);
}

/** The text `npm run results` prints for one directory: a run's table, or a headline's per-run tables and summary. */
export function rebuild(dir: string): string {
  if (isGridTable(dir)) return gridText(dir);
  // A delta-mode seed group (runs `<optimizer>-s<seed>`): the table over seeds, then each run's own tables.
  if (isDeltaSeedGroup(dir))
    return [seedGroupText(dir), ...seedRuns(dir).map((d) => rebuild(join(dir, d)))].join('\n');
  // A delta-mode experiment directory: its editing tables (a demo run's delta rows go with its own table).
  const records = existsSync(join(dir, 'baselines')) ? [] : new RunDir(dir).records();
  if (records.some((r) => r['kind'] === 'delta-eval') && !records.some((r) => r['kind'] === 'eval'))
    return `${deltaText(dir, deltaFromRecords(records))}${stackText(stacksFromRecords(records))}`;
  // A stacking-only directory (experiment:delta-stack): its stacking table.
  if (records.length > 0 && records.every((r) => r['kind'] === 'delta-stack'))
    return `${join(dir, 'results.jsonl')}${stackText(stacksFromRecords(records))}`;
  if (!existsSync(join(dir, 'baselines')))
    return tableText(join(dir, 'results.jsonl'), tableFromRecords(new RunDir(dir).records()));
  const h = headlineFromRecords(dir);
  const names = headlineRuns(dir);
  const perRun = h.runs
    .map((t, i) => {
      const rounds = distillation(new RunDir(join(dir, names[i]!)).records())
        .map(
          (r) =>
            `  round ${r.round}: mean sample reward ${r.meanSample.toFixed(3)}, best of ${r.k} per context ${r.meanBest.toFixed(3)}`,
        )
        .join('\n');
      return `${tableText(`${join(dir, names[i]!)} (+ baselines)`, t)}\nRL rounds (${names[i]!}, the training contexts' self-edits):\n${rounds}\n`;
    })
    .join('\n');
  // One run has no between-run interval (meanCi returns [mean, mean]); say so instead of printing a zero width.
  const rows = (r: Record<string, MeanCi>) =>
    Object.entries(r).map(
      ([k, v]) =>
        `  ${k.padEnd(32)} ${(100 * v.mean).toFixed(1).padStart(6)}  ${v.n < 2 ? 'no interval (one run)' : `[${(100 * v.ci95[0]).toFixed(1)}, ${(100 * v.ci95[1]).toFixed(1)}]`}  runs ${v.n}`,
    );
  return `${perRun}\nacross ${h.runs.length} RL runs (mean of the per-run values; 95% t interval over runs):\n${[
    '  SEAL accuracy (seen, held-out wordings):',
    ...rows(h.acrossRuns['seal']!),
    '  paired differences, seen wordings (points):',
    ...rows(h.acrossRuns['paired']!),
    '  paired differences, held-out wordings (points):',
    ...rows(h.acrossRuns['pairedHeldOut']!),
  ].join('\n')}\n`;
}

const USAGE =
  'npm run results [-- RUN_DIR …]   tables and paired differences rebuilt from committed per-context rows';
const invokedAs = process.argv[1] === undefined ? '' : resolve(process.argv[1]);
if (invokedAs === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const unknown = args.find((a) => a.startsWith('-'));
  if (unknown !== undefined) {
    process.stderr.write(`unknown option ${unknown}\n${USAGE}\n`);
    process.exit(2);
  }
  for (const dir of args.length > 0 ? args : README_RUNS) process.stdout.write(`${rebuild(dir)}\n`);
}
