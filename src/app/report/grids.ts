/**
 * The grid domain's report: one self-contained HTML page (no script, no network) built from a grid table directory
 * (`npm run experiment:grids`, `seal demo --domain grids`): what each row is, the results table with CIs, SEAL's
 * paired differences, each RL run's rounds, and a few tasks drawn as coloured grids — demonstrations, the test input,
 * the expected output and what each condition's adapted model answered.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SealError } from '../../errors.js';
import { readGridRows } from '../../seal/eval/grids.js';
import { type Grid, parseGrid } from '../../tasks/grids/grid.js';
import { esc } from './html.js';

/** The ARC palette (colours 0–9), as the ARC viewer draws them. */
export const ARC_COLOURS = [
  '#000000',
  '#0074D9',
  '#FF4136',
  '#2ECC40',
  '#FFDC00',
  '#AAAAAA',
  '#F012BE',
  '#FF851B',
  '#7FDBFF',
  '#870C25',
] as const;

/** A drawn task as the table directory keeps it (`table/tasks.json`). */
export interface DrawnTask {
  readonly id: string;
  readonly family: string;
  readonly rule: string;
  readonly train: readonly { readonly input: Grid; readonly output: Grid }[];
  readonly test: { readonly input: Grid; readonly output: Grid };
}

interface Interval {
  readonly mean: number;
  readonly ci95: readonly [number, number];
  readonly n: number;
}

interface GridSummary {
  readonly split: string;
  readonly tasks: number;
  readonly bestFixed: string;
  readonly results: Record<string, Interval & { seeds: number; rejected: number }>;
  readonly paired: Record<string, Record<string, Interval>>;
  readonly runs: readonly {
    run: number;
    selectedRound: number;
    rounds: readonly { round: number; meanReward: number; heldOutAccuracy: number; kept: number }[];
  }[];
  readonly acrossRuns: { seal: Interval };
  readonly elapsed_s?: number;
}

/** One grid as a table of coloured cells (`title` on hover gives the colour index). */
export function gridHtml(grid: Grid, label = ''): string {
  const rows = grid
    .map(
      (row) =>
        `<tr>${row.map((c) => `<td style="background:${ARC_COLOURS[c] ?? '#fff'}" title="${c}"></td>`).join('')}</tr>`,
    )
    .join('');
  return `<figure><table class="g">${rows}</table>${label === '' ? '' : `<figcaption>${label}</figcaption>`}</figure>`;
}

/** A model's answer: drawn when it parses as a grid, else its text. */
function answerHtml(answer: string | undefined, label: string): string {
  if (answer === undefined)
    return `<figure><div class="none">no answer</div><figcaption>${label}</figcaption></figure>`;
  const p = parseGrid(answer);
  return p.ok
    ? gridHtml(p.grid, label)
    : `<figure><pre class="bad">${esc(answer.slice(0, 120))}</pre><figcaption>${label} (not a grid)</figcaption></figure>`;
}

const pct = (x: number) => (100 * x).toFixed(1);
const interval = (m: Interval) => `${pct(m.mean)} [${pct(m.ci95[0])}, ${pct(m.ci95[1])}]`;

const ROW_MEANING: Record<string, string> = {
  in_context:
    'the frozen base model answers the test input with the demonstrations in its context, no training',
  base_recipes:
    'test-time training with a recipe the base model wrote for the task (sampled as in RL), then answering in context',
  best_fixed:
    'test-time training with the single recipe that solved the most val tasks (one recipe for every task)',
  oracle:
    'the task counts as solved when any recipe of the swept space solves it (the ceiling of choosing recipes)',
};

function rowMeaning(name: string): string {
  if (name.startsWith('seal_run'))
    return `SEAL: test-time training with a recipe written by RL run ${name.slice('seal_run'.length)}'s policy (the round with the best val monitor)`;
  return ROW_MEANING[name] ?? '';
}

export function buildGridReport(dir: string, opts: { readonly drawTasks?: number } = {}): string {
  const tableDir = join(dir, 'table');
  const summaryFile = join(tableDir, 'grids.json');
  if (!existsSync(summaryFile))
    throw new SealError('no table/grids.json: is this a finished grid table directory?', dir);
  const s = JSON.parse(readFileSync(summaryFile, 'utf8')) as GridSummary;
  const tasksFile = join(tableDir, 'tasks.json');
  const drawn = existsSync(tasksFile) ? (JSON.parse(readFileSync(tasksFile, 'utf8')) as DrawnTask[]) : [];
  const names = Object.keys(s.results);
  const rows = Object.fromEntries(names.map((n) => [n, readGridRows(join(tableDir, `${n}.jsonl`))]));
  const shown = names.filter((n) => n !== 'oracle');

  const table = names
    .map((n) => {
      const r = s.results[n]!;
      return `<tr><td>${esc(n)}</td><td>${interval(r)}</td><td>${r.n}</td><td>${r.seeds}</td><td>${pct(r.rejected)}</td><td class="what">${esc(rowMeaning(n))}</td></tr>`;
    })
    .join('\n');
  const paired = Object.values(s.paired)
    .flatMap((ps) =>
      Object.entries(ps).map(([k, v]) => `<tr><td>${esc(k)}</td><td>${interval(v)}</td><td>${v.n}</td></tr>`),
    )
    .join('\n');
  const runs = s.runs
    .map(
      (r) =>
        `<h3>RL run ${r.run} (evaluated: round ${r.selectedRound})</h3><table><tr><th>round</th><th>mean reward %</th><th>tasks kept</th><th>val monitor %</th></tr>${r.rounds
          .map(
            (x) =>
              `<tr><td>${x.round}</td><td>${pct(x.meanReward)}</td><td>${x.kept}</td><td>${pct(x.heldOutAccuracy)}</td></tr>`,
          )
          .join('')}</table>`,
    )
    .join('\n');
  const tasks = drawn
    .slice(0, opts.drawTasks ?? 6)
    .map((t) => {
      const answers = shown
        .map((n) => {
          const row = rows[n]?.find((r) => r.task === t.id && r.seed === 0);
          const mark = row === undefined ? '' : row.score === 1 ? ' ✓' : ' ✗';
          return answerHtml(row?.answer, `${esc(n)}${mark}`);
        })
        .join('');
      const sealRow = rows[shown.find((n) => n.startsWith('seal_run')) ?? '']?.find(
        (r) => r.task === t.id && r.seed === 0,
      );
      return `<section class="task"><h3>${esc(t.id)} — ${esc(t.rule)}</h3>
<div class="pairs">${t.train.map((p, i) => `<div class="pair">${gridHtml(p.input, `demo ${i + 1} in`)}${gridHtml(p.output, 'out')}</div>`).join('')}</div>
<div class="pairs"><div class="pair">${gridHtml(t.test.input, 'test input')}${gridHtml(t.test.output, 'expected')}</div>${answers}</div>
${sealRow?.recipe === undefined ? '' : `<p>SEAL's recipe: <code>${esc(sealRow.recipe.replaceAll('\n', '; '))}</code></p>`}</section>`;
    })
    .join('\n');

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SEAL grids: ${esc(s.split)} tasks</title>
<style>
body{font:14px system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}
td.what{color:#555;font-size:12px}
table.g{border-collapse:collapse;margin:0}table.g td{width:14px;height:14px;padding:0;border:1px solid #444}
figure{display:inline-block;margin:4px 10px 4px 0;vertical-align:top}figcaption{font-size:11px;color:#555;text-align:center}
.pair{display:inline-block;border:1px dashed #bbb;padding:2px 4px;margin:2px 8px 2px 0}
pre.bad{max-width:140px;white-space:pre-wrap;font-size:10px;background:#fee;margin:0}div.none{font-size:11px;color:#999}
section.task{border-top:1px solid #ddd;margin-top:1em}
</style></head><body>
<h1>SEAL on grid puzzles: ${s.tasks} ${esc(s.split)} tasks (held-out families)</h1>
<p>Each task is a few demonstration pairs of a transformation family the base model never saw in pretraining. Every
row adapts the same frozen base model to the task and then answers the test input in context; a task counts as
solved when the answer is the expected grid exactly. Rows: ${names.map((n) => `<b>${esc(n)}</b>: ${esc(rowMeaning(n))}`).join('; ')}.
Means are over tasks of their mean over evaluation seeds, with 95% t intervals over tasks; SEAL's differences are
paired over the same tasks and seeds.${s.elapsed_s === undefined ? '' : ` Wall time ${Math.round(s.elapsed_s)} s.`}</p>
<h2>Results</h2>
<table><tr><th>condition</th><th>solved % [95% CI]</th><th>tasks</th><th>seeds</th><th>rejected recipes %</th><th>what it is</th></tr>
${table}</table>
<p>Best fixed recipe (chosen on val): <code>${esc(s.bestFixed.trim().replaceAll('\n', '; '))}</code>. SEAL across runs:
${interval(s.acrossRuns.seal)} (interval over runs).</p>
<h2>SEAL − other (points, paired)</h2>
<table><tr><th>difference</th><th>mean [95% CI]</th><th>tasks</th></tr>${paired}</table>
<h2>RL runs</h2>
${runs}
<h2>Tasks (seed 0)</h2>
${tasks === '' ? '<p>no drawn tasks (table/tasks.json missing)</p>' : tasks}
</body></html>
`;
}
