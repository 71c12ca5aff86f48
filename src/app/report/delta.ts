/**
 * The report of a delta-mode experiment directory (`experiment:delta --out DIR`): one self-contained HTML file with
 * the editing table of every trained generator (ES / PS / NS / retention / drawdown / ‖ΔW‖² / time per edit, mean
 * and 95% CI over people), the magnitude–success–locality trade-off curve (one point per edit-magnitude weight,
 * from `--magnitudes`), and the stacking table and chart (`--stack`). Built from results.jsonl alone.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SealError } from '../../errors.js';
import type { EditScores } from '../../seal/delta/eval.js';
import { type StackRow, summariseStacks } from '../../seal/delta/stack.js';
import { RunDir } from '../../util/run-dir.js';
import { chartJsSource, esc, scriptJson } from './html.js';

interface EvalRecord {
  readonly optimizer: string;
  readonly magnitudeWeight?: number;
  readonly trainS: number;
  readonly scores: Record<string, EditScores>;
}

/** One point per trained direct-gradient generator: its magnitude weight and what its edits did. */
export interface TradeoffPoint {
  readonly weight: number;
  readonly magnitude: number;
  readonly es: number;
  readonly retention: number;
  readonly drawdown: number;
}

export function tradeoffPoints(evals: readonly EvalRecord[]): TradeoffPoint[] {
  return evals
    .filter((e) => e.optimizer === 'direct' && e.magnitudeWeight !== undefined)
    .map((e) => {
      const s = e.scores['delta_direct']!;
      return {
        weight: e.magnitudeWeight!,
        magnitude: s.magnitude?.mean ?? Number.NaN,
        es: s.es.mean,
        retention: s.retention.mean,
        drawdown: s.drawdown.mean,
      };
    })
    .sort((a, b) => a.weight - b.weight);
}

const pct = (x: number) => (Number.isFinite(x) ? (100 * x).toFixed(1) : '–');
const ci = (s: { mean: number; ci95: readonly [number, number] } | undefined, scale = 100, digits = 1) =>
  s === undefined || !Number.isFinite(s.mean)
    ? '–'
    : `${(scale * s.mean).toFixed(digits)} [${(scale * s.ci95[0]).toFixed(digits)}, ${(scale * s.ci95[1]).toFixed(digits)}]`;

export function buildDeltaReport(dir: string): string {
  if (!existsSync(join(dir, 'results.jsonl')))
    throw new SealError('no results.jsonl: is this a delta-mode experiment directory?', dir);
  const records = new RunDir(dir).records();
  const evals = records.filter((r) => r['kind'] === 'delta-eval') as unknown as EvalRecord[];
  const stack = records.filter((r) => r['kind'] === 'delta-stack') as unknown as StackRow[];
  const tables = evals
    .map((e) => {
      const label = `${e.optimizer}${e.magnitudeWeight === undefined ? '' : ` (magnitude weight ${e.magnitudeWeight})`}`;
      const rows = Object.entries(e.scores)
        .map(
          ([k, s]) =>
            `<tr><td>${esc(k)}</td><td>${ci(s.es)}</td><td>${ci(s.ps)}</td><td>${ci(s.ns)}</td><td>${ci(s.retention)}</td><td>${ci(s.drawdown, 1, 3)}</td><td>${s.magnitude === undefined || s.magnitude.n === 0 ? '–' : s.magnitude.mean.toFixed(2)}</td><td>${s.editMs.toFixed(0)}</td><td>${s.es.n}</td></tr>`,
        )
        .join('\n');
      return `<h2>${esc(label)}, trained in ${e.trainS.toFixed(0)} s</h2>
<table class="edits"><tr><th>condition</th><th>ES %</th><th>PS %</th><th>NS %</th><th>retention %</th><th>drawdown (nats)</th><th>‖ΔW‖²</th><th>ms per edit</th><th>people</th></tr>
${rows}</table>`;
    })
    .join('\n');
  const tradeoff = tradeoffPoints(evals);
  const stackTable = summariseStacks(stack);
  const stackHtml =
    stackTable.length === 0
      ? ''
      : `<h2>Stacked edits</h2>
<table id="stack"><tr><th>condition</th><th>edits at once</th><th>ES % (over members)</th><th>retention % (over groups)</th><th>drawdown (nats)</th></tr>
${stackTable.map((s) => `<tr><td>${esc(s.condition)}</td><td>${s.size}</td><td>${ci(s.es)}</td><td>${ci(s.retention)}</td><td>${ci(s.drawdown, 1, 3)}</td></tr>`).join('\n')}</table>
<p>The edits of n people at once: the generator's ΔW summed (its plain name), or kept side by side and routed by
scope (<code>_routed</code>: each question or text answered under the one edit whose passage explains its tokens best
against ordinary documents, seal/delta/route.ts); LoRA / text self-edits: one adapter trained on the n people's
passages, or self-edits and passages, together. Every member's questions are asked under the stack.</p>`;
  const data = {
    tradeoff,
    stack: stackTable.map((s) => ({
      condition: s.condition,
      size: s.size,
      es: s.es.mean,
      retention: s.retention.mean,
    })),
  };
  const charts = [
    tradeoff.length > 0 ? 'chart-tradeoff' : '',
    stackTable.length > 0 ? 'chart-stack' : '',
  ].filter((c) => c !== '');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Delta mode ${esc(dir)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:24px auto;padding:0 16px;color:#222}
table{border-collapse:collapse;margin-bottom:12px}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}td:first-child,th:first-child{text-align:left}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:24px}.chart{position:relative;height:320px}
</style></head><body>
<h1>Delta mode: weight-delta self-edits</h1>
<p>ES: no-context accuracy on the edited person's questions; PS: the same facts in held-out wordings; NS: other new
people's answers left unchanged; retention: of the questions about people the model knows (pretraining people) that
the base answers right, the share still right under the edit; drawdown: change of cross-entropy on held-out text
(biographies of people no split contains); ‖ΔW‖²: the edit's squared Frobenius norm summed over modules. Mean and
95% CI over people. <code>_shuffled</code>: the generator fed another person's passage.</p>
${tables}
${stackHtml}
${tradeoff.length === 0 ? '' : `<h2>Magnitude–success–locality trade-off</h2><p id="tradeoff">${tradeoff.map((t) => `weight ${t.weight}: ‖ΔW‖² ${t.magnitude.toFixed(2)}, ES ${pct(t.es)}%, retention ${pct(t.retention)}%, drawdown ${t.drawdown.toFixed(3)}`).join('; ')}</p>`}
<div class="charts">${charts.map((c) => `<div class="chart"><canvas id="${c}"></canvas></div>`).join('')}</div>
<script>${chartJsSource()}</script>
<script>
const data = ${scriptJson(data)};
const pct = (x) => (x == null || Number.isNaN(x) ? null : 100 * x);
if (data.tradeoff.length > 0) {
  new Chart(document.getElementById('chart-tradeoff'), {
    type: 'line',
    data: { labels: data.tradeoff.map((t) => t.magnitude.toFixed(2)), datasets: [
      { label: 'ES (%)', data: data.tradeoff.map((t) => pct(t.es)), borderColor: '#06c', yAxisID: 'y' },
      { label: 'retention (%)', data: data.tradeoff.map((t) => pct(t.retention)), borderColor: '#6a6', yAxisID: 'y' },
      { label: 'drawdown (nats)', data: data.tradeoff.map((t) => t.drawdown), borderColor: '#c60', yAxisID: 'y1' },
    ] },
    options: { maintainAspectRatio: false, animation: false,
      plugins: { title: { display: true, text: 'Trade-off: one point per magnitude weight (x: mean ‖ΔW‖² of the edits)' } },
      scales: { y: { min: 0, max: 100, position: 'left' }, y1: { position: 'right', grid: { drawOnChartArea: false } } } },
  });
}
if (data.stack.length > 0) {
  const sizes = [...new Set(data.stack.map((s) => s.size))];
  const conds = [...new Set(data.stack.map((s) => s.condition))];
  const colours = ['#06c', '#c60', '#6a6', '#a3a'];
  new Chart(document.getElementById('chart-stack'), {
    type: 'line',
    data: { labels: sizes, datasets: conds.flatMap((c, i) => [
      { label: c + ' ES (%)', data: sizes.map((n) => pct((data.stack.find((s) => s.condition === c && s.size === n) || {}).es)), borderColor: colours[i % 4] },
      { label: c + ' retention (%)', data: sizes.map((n) => pct((data.stack.find((s) => s.condition === c && s.size === n) || {}).retention)), borderColor: colours[i % 4], borderDash: [5, 4] },
    ]) },
    options: { maintainAspectRatio: false, animation: false,
      plugins: { title: { display: true, text: 'Stacked edits: ES and retention as the stack grows' } },
      scales: { x: { title: { display: true, text: 'edits applied at once' } }, y: { min: 0, max: 100 } } },
  });
}
window.__chartsRendered = Chart.instances ? Object.keys(Chart.instances).length : 0;
</script>
</body></html>
`;
}
