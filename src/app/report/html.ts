/**
 * The run report: one self-contained HTML file (Chart.js inlined, no network) with the results table and CIs,
 * reward and held-out accuracy per round (reward-hacking alarms marked), self-edit length per round, example
 * self-edits before and after RL, and the resolved config. Built from the run directory alone.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { SealError } from '../../errors.js';
import { RunDir } from '../../util/run-dir.js';

interface Row {
  readonly mean: number;
  readonly ci95: readonly [number, number];
  readonly n: number;
}

export function esc(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

/** JSON safe to embed inside <script>: no closing tags or HTML comment openers survive. */
export function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c');
}

export function chartJsSource(): string {
  // The UMD builds are not in the packages' exports maps; find them next to each package's main entry.
  const require = createRequire(import.meta.url);
  const main = require.resolve('chart.js'); // …/chart.js/dist/chart.cjs
  const matrix = require.resolve('chartjs-chart-matrix'); // …/chartjs-chart-matrix/dist/chartjs-chart-matrix.cjs
  return [
    readFileSync(join(dirname(main), 'chart.umd.min.js'), 'utf8'),
    // The heat-map controller registers itself on the global Chart.
    readFileSync(join(dirname(matrix), 'chartjs-chart-matrix.min.js'), 'utf8').replace(
      /\/\/# sourceMappingURL=.*$/m,
      '',
    ),
  ].join('\n');
}

export function buildReport(runDir: string): string {
  const summaryFile = join(runDir, 'summary.json');
  if (!existsSync(summaryFile))
    throw new SealError('no summary.json: is this a finished run directory?', runDir);
  const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as {
    task: string;
    model: string;
    seeds: number[];
    elapsed_s: number;
    results: Record<string, Row & { heldOut?: Row }>;
    paired?: Record<string, Row>;
    pairedHeldOut?: Record<string, Row>;
    forgetting?: {
      condition: string;
      contexts: string[];
      matrix: number[][];
      justAfter: number;
      atEnd: number;
      drop: number;
    };
    delta?: {
      optimizer: string;
      trainS: number;
      table: Record<
        string,
        { es: number; ps: number; ns: number; retention?: number; drawdown: number; editMs: number }
      >;
    };
  };
  const config = existsSync(join(runDir, 'config.json'))
    ? readFileSync(join(runDir, 'config.json'), 'utf8')
    : '{}';
  const records = new RunDir(runDir).records();
  const rounds = records.filter((r) => r['kind'] === 'round') as {
    round: number;
    meanReward: number;
    heldOutAccuracy: number;
    meanSelfEditTokens: number;
    rewardHackingAlarm: boolean;
  }[];
  const heldOut0 = records.find((r) => r['kind'] === 'heldout' && r['round'] === 0)?.['accuracy'] as
    | number
    | undefined;
  const edits = records.filter((r) => r['kind'] === 'selfedit') as {
    round: number;
    context: string;
    reward: number;
    completion: string;
  }[];
  const lastRound = Math.max(0, ...edits.map((e) => e.round));
  const examples = (round: number) => edits.filter((e) => e.round === round).slice(0, 3);
  const pctCi = (r: Row | undefined) =>
    r === undefined
      ? '<td>-</td><td>-</td>'
      : `<td>${(100 * r.mean).toFixed(1)}</td><td>[${(100 * r.ci95[0]).toFixed(1)}, ${(100 * r.ci95[1]).toFixed(1)}]</td>`;
  const table = Object.entries(summary.results)
    .map(([k, r]) => `<tr><td>${esc(k)}</td>${pctCi(r)}${pctCi(r.heldOut)}<td>${r.n}</td></tr>`)
    .join('\n');
  const signed = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}`;
  const pairedRows = Object.keys(summary.paired ?? {})
    .map((k) => {
      const a = summary.paired?.[k];
      const b = summary.pairedHeldOut?.[k];
      const cell = (r: Row | undefined) =>
        r === undefined
          ? '<td>-</td><td>-</td>'
          : `<td>${signed(r.mean)}</td><td>[${(100 * r.ci95[0]).toFixed(1)}, ${(100 * r.ci95[1]).toFixed(1)}]</td>`;
      return `<tr><td>${esc(k)}</td>${cell(a)}${cell(b)}<td>${a?.n ?? b?.n ?? ''}</td></tr>`;
    })
    .join('\n');
  const exampleHtml = (title: string, xs: typeof edits) =>
    `<h3>${esc(title)}</h3>${xs.map((e) => `<div class="ex"><div class="meta">${esc(e.context)} · reward ${(100 * e.reward).toFixed(0)}%</div><pre>${esc(e.completion)}</pre></div>`).join('') || '<p>none</p>'}`;
  const alarms = rounds.filter((r) => r.rewardHackingAlarm).map((r) => r.round);
  const forgetting = summary.forgetting ?? null;
  const deltaTrain = records.filter((r) => r['kind'] === 'delta-train') as {
    step: number;
    reward: number;
    nll: number;
    magnitude: number;
  }[];
  const deltaTable =
    summary.delta === undefined
      ? ''
      : `<h2>Delta mode (EditGenerator, ${esc(summary.delta.optimizer)}, trained in ${summary.delta.trainS.toFixed(0)} s)</h2>
<table id="delta"><tr><th>condition</th><th>ES %</th><th>PS %</th><th>NS %</th><th>retention %</th><th>drawdown (nats)</th><th>time per edit (ms)</th></tr>
${Object.entries(summary.delta.table)
  .map(
    ([k, r]) =>
      `<tr><td>${esc(k)}</td><td>${(100 * r.es).toFixed(1)}</td><td>${(100 * r.ps).toFixed(1)}</td><td>${(100 * r.ns).toFixed(1)}</td><td>${r.retention === undefined ? '–' : (100 * r.retention).toFixed(1)}</td><td>${r.drawdown.toFixed(3)}</td><td>${r.editMs.toFixed(0)}</td></tr>`,
  )
  .join('\n')}</table>
<p>ES: accuracy on the passage's questions; PS: the same facts asked in other words; NS: other new people's answers left unchanged; retention: of the questions about people the model knows (pretraining people) that the base answers right, the share still right; drawdown: change of cross-entropy on held-out text (biographies of people no split contains). <code>_shuffled</code>: the generator fed another passage (a generator that ignores its input scores the same).</p>`;
  const data = {
    results: summary.results,
    rounds,
    heldOut0: heldOut0 ?? null,
    forgetting,
    deltaTrain,
  };
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SEAL run ${esc(runDir)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:24px auto;padding:0 16px;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}td:first-child,th:first-child{text-align:left}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:24px}.chart{position:relative;height:300px}
pre{white-space:pre-wrap;background:#f6f6f6;padding:8px;margin:4px 0}.ex .meta{color:#666;font-size:12px}.alarm{color:#b00;font-weight:bold}
</style></head><body>
<h1>SEAL — ${esc(summary.task)} with ${esc(summary.model)}</h1>
<p>Seeds ${summary.seeds.join(', ')} · ${summary.elapsed_s.toFixed(0)} s · no-context accuracy on held-out contexts, mean and 95% CI over contexts.</p>
${alarms.length > 0 ? `<p class="alarm">Reward-hacking alarm in round(s) ${alarms.join(', ')}: RL reward rose while accuracy on validation people fell significantly (one-sided paired t test at 5%).</p>` : ''}
<table id="results"><tr><th>condition</th><th>seen wordings %</th><th>95% CI</th><th>held-out wordings %</th><th>95% CI</th><th>n</th></tr>
${table}</table>
<p id="rows">Each row trains a fresh LoRA adapter on the frozen base for one held-out person and then asks the
person's six facts without the passage, in the wordings the generator's demonstrations and the RL reward use
(<em>seen</em>) and in wordings that neither ever uses (<em>held-out</em>). <code>base</code>: no adapter.
<code>passage</code>: the passage alone. Every other row trains on the passage plus a self-edit:
<code>base_selfedits</code>, one self-QA self-edit sampled from the base model; <code>static_augmentation</code>, two
samples of a fixed prompt (SEAL's "implications"); <code>rule_based_qa</code>, a parser of the passage writing every
fact as QA in the seen wordings (an upper reference, not a competitor), and <code>rule_based_qa_one</code>, the same
with one pair per fact (about SEAL's length: what a perfect self-edit of that length reaches); <code>seal_round_N</code> / <code>seal</code>,
one self-edit from the generator after N rounds of RL; <code>base_selfedits_matched</code>, whole base
self-edits concatenated to SEAL's mean length (in expectation: randomised rounding at the target) (RL lengthens self-edits; this row asks whether length alone explains
the gain); <code>cpt_*</code>, all passages in one adapter (continued pretraining); <code>delta_*</code>, delta mode's
edit success. Differences below are SEAL minus each row, paired over the same people and seeds.</p>
${pairedRows === '' ? '' : `<table id="paired"><tr><th>difference</th><th>seen (points)</th><th>95% CI</th><th>held-out (points)</th><th>95% CI</th><th>n</th></tr>\n${pairedRows}</table>`}
<div class="charts">
<div class="chart"><canvas id="chart-results"></canvas></div>
<div class="chart"><canvas id="chart-rounds"></canvas></div>
<div class="chart"><canvas id="chart-length"></canvas></div>
${forgetting === null ? '' : '<div class="chart"><canvas id="chart-forgetting"></canvas></div>'}
${deltaTrain.length === 0 ? '' : '<div class="chart"><canvas id="chart-delta"></canvas></div>'}
</div>
${deltaTable}
${
  forgetting === null
    ? ''
    : `<p id="forgetting">Forgetting (${esc(forgetting.condition)} self-edits, ${forgetting.contexts.length} passages edited one after another into one adapter): accuracy on a passage just after its edit ${(100 * forgetting.justAfter).toFixed(1)}%, after all edits ${(100 * forgetting.atEnd).toFixed(1)}% (mean drop ${(100 * forgetting.drop).toFixed(1)} points).</p>`
}
<h2>Example self-edits</h2>
${exampleHtml('Round 1 (before RL updates)', examples(1))}
${exampleHtml(`Round ${lastRound} (after ${Math.max(0, lastRound - 1)} update(s))`, lastRound > 1 ? examples(lastRound) : [])}
<h2>Config</h2><pre id="config">${esc(config)}</pre>
<script>${chartJsSource()}</script>
<script>
const data = ${scriptJson(data)};
const names = Object.keys(data.results);
const pct = (x) => (x == null || Number.isNaN(x) ? null : 100 * x);
new Chart(document.getElementById('chart-results'), {
  data: { labels: names, datasets: [
    { type: 'bar', label: '95% CI', data: names.map((n) => [pct(data.results[n].ci95[0]), pct(data.results[n].ci95[1])]), backgroundColor: 'rgba(54,120,200,0.35)' },
    { type: 'scatter', label: 'mean', data: names.map((n, i) => ({ x: n, y: pct(data.results[n].mean) })), backgroundColor: '#123', pointRadius: 5 },
  ] },
  options: { maintainAspectRatio: false, animation: false, plugins: { title: { display: true, text: 'Held-out accuracy (%)' } }, scales: { y: { min: 0, max: 100 } } },
});
const rl = data.rounds.map((r) => 'round ' + r.round);
new Chart(document.getElementById('chart-rounds'), {
  type: 'line',
  data: { labels: rl, datasets: [
    { label: 'RL reward (%)', data: data.rounds.map((r) => pct(r.meanReward)), borderColor: '#c60' },
    { label: 'held-out accuracy (%)', data: data.rounds.map((r) => pct(r.heldOutAccuracy)), borderColor: '#06c',
      pointBackgroundColor: data.rounds.map((r) => (r.rewardHackingAlarm ? '#d00' : '#06c')), pointRadius: data.rounds.map((r) => (r.rewardHackingAlarm ? 8 : 3)) },
  ] },
  options: { maintainAspectRatio: false, animation: false, plugins: { title: { display: true, text: 'Reward and held-out accuracy per round (red = alarm)' } }, scales: { y: { min: 0, max: 100 } } },
});
new Chart(document.getElementById('chart-length'), {
  type: 'bar',
  data: { labels: rl, datasets: [{ label: 'mean self-edit length (tokens)', data: data.rounds.map((r) => r.meanSelfEditTokens), backgroundColor: '#6a6' }] },
  options: { maintainAspectRatio: false, animation: false, plugins: { title: { display: true, text: 'Self-edit length per round' } } },
});
if (data.forgetting) {
  const f = data.forgetting;
  const n = f.contexts.length;
  const cells = f.matrix.flatMap((row, i) => row.map((v, j) => ({ x: 'passage ' + (j + 1), y: 'after edit ' + (i + 1), v })));
  new Chart(document.getElementById('chart-forgetting'), {
    type: 'matrix',
    data: { datasets: [{ label: 'accuracy', data: cells,
      backgroundColor: (c) => 'rgba(30,90,200,' + (0.08 + 0.92 * (c.raw ? c.raw.v : 0)).toFixed(3) + ')',
      borderColor: '#fff', borderWidth: 1,
      width: ({ chart }) => (chart.chartArea || {}).width / n - 1,
      height: ({ chart }) => (chart.chartArea || {}).height / n - 1 }] },
    options: { maintainAspectRatio: false, animation: false,
      plugins: { legend: { display: false }, title: { display: true, text: 'Forgetting matrix: accuracy on passage j after edit i' },
        tooltip: { callbacks: { label: (c) => c.raw.y + ', ' + c.raw.x + ': ' + (100 * c.raw.v).toFixed(0) + '%' } } },
      scales: { x: { type: 'category', labels: f.contexts.map((_, j) => 'passage ' + (j + 1)), offset: true, grid: { display: false } },
        // Labels last-first: this y axis draws its first label at the bottom, and edit 1 belongs on the top row.
        y: { type: 'category', labels: f.matrix.map((_, i) => 'after edit ' + (n - i)), offset: true, grid: { display: false } } } },
  });
}
if (data.deltaTrain.length > 0) {
  new Chart(document.getElementById('chart-delta'), {
    type: 'line',
    data: { labels: data.deltaTrain.map((l) => l.step), datasets: [
      { label: 'reward', data: data.deltaTrain.map((l) => l.reward), borderColor: '#c60', yAxisID: 'y' },
      { label: 'edit magnitude ‖ΔW‖²', data: data.deltaTrain.map((l) => l.magnitude), borderColor: '#6a6', yAxisID: 'y1' },
    ] },
    options: { maintainAspectRatio: false, animation: false,
      plugins: { title: { display: true, text: 'EditGenerator training: reward and edit magnitude per update' } },
      scales: { y: { position: 'left' }, y1: { position: 'right', grid: { drawOnChartArea: false } } } },
  });
}
window.__chartsRendered = Chart.instances ? Object.keys(Chart.instances).length : 0;
</script>
</body></html>
`;
}
