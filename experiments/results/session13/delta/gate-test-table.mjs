// Usage (from the repository root, after `npm run build`):
//   node experiments/results/session13/delta/gate-test-table.mjs DIR
// The test table of gate-test.sh from its committed per-person rows (DIR/{direct,ppo,reinforce}-s{0,1,2}/results.jsonl):
// per optimizer and seed, ES / PS / NS / retention / drawdown (mean over the 40 people); the mean over the three seeds
// with a 95% t interval over people (each person's value averaged over seeds); and the paired differences to the
// direct gradient (person by person, seeds averaged; and per seed), with exact t intervals (src/seal/eval/stats.ts).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { meanCi, pairedDifference } from '../../../../dist/seal/eval/stats.js';

const dir = process.argv[2];
const METRICS = ['es', 'ps', 'ns', 'retention', 'drawdown'];
const scoresOf = (run) => {
  const file = join(dir, run, 'results.jsonl');
  if (!existsSync(file)) return undefined;
  const ev = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).find((r) => r.kind === 'delta-eval');
  return ev?.scores;
};
const byId = (rows, m) => Object.fromEntries(rows.map((r) => [r.id, r[m]]));
const fmt = (x, m) => (m === 'drawdown' ? x.toFixed(3) : (100 * x).toFixed(1));
const ci = (c, m) => `${fmt(c.mean, m)} [${fmt(c.ci95[0], m)}, ${fmt(c.ci95[1], m)}]`;
const seeds = [0, 1, 2];
const table = {};
for (const opt of ['direct', 'ppo', 'reinforce']) {
  const bySeed = seeds.map((s) => scoresOf(`${opt}-s${s}`)?.[`delta_${opt}`]);
  const runs = bySeed.filter((x) => x !== undefined);
  if (runs.length === 0) continue;
  table[opt] = { runs, bySeed };
  for (const [i, r] of bySeed.entries())
    if (r !== undefined)
      console.log(`${opt} seed ${i}: ${METRICS.map((m) => `${m} ${ci(meanCi(r.perContext.map((p) => p[m])), m)}`).join('  ')}`);
  const avg = (m) => {
    const ids = runs[0].perContext.map((p) => p.id);
    return Object.fromEntries(ids.map((id) => [id, runs.reduce((s, r) => s + byId(r.perContext, m)[id], 0) / runs.length]));
  };
  console.log(`${opt} over ${runs.length} seeds: ${METRICS.map((m) => `${m} ${ci(meanCi(Object.values(avg(m))), m)}`).join('  ')}`);
  console.log(`${opt} seed means of ES: ${bySeed.map((r) => (r === undefined ? '—' : fmt(r.es.mean, 'es'))).join(' / ')}`);
  table[opt].avg = avg;
}
const base = scoresOf('direct-s0');
for (const c of ['passage', 'seal'])
  if (base?.[c] !== undefined)
    console.log(`${c} (seed 0): ${METRICS.map((m) => `${m} ${ci(meanCi(base[c].perContext.map((p) => p[m])), m)}`).join('  ')}`);
for (const opt of ['ppo', 'reinforce']) {
  if (table[opt] === undefined || table.direct === undefined) continue;
  for (const m of ['es', 'retention']) {
    const d = pairedDifference(table[opt].avg(m), table.direct.avg(m));
    const per = table[opt].bySeed.map((r, i) => {
      const d0 = table.direct.bySeed[i];
      return r === undefined || d0 === undefined ? '—' : ci(pairedDifference(byId(r.perContext, m), byId(d0.perContext, m)), m);
    });
    console.log(`${opt} − direct, ${m}: ${ci(d, m)} points (seeds averaged, n ${d.n}); per seed ${per.join(' / ')}`);
  }
}
