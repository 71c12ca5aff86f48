// Issue #15, session 17: how much of ReST-EM's "best of k" reward is the inner loop's luck (the winner's curse)?
// For the RL rounds of a committed people-world run, each context's kept self-edit (the top one by the run's own
// score, as ReST-EM ranked it) and one uniformly drawn sample of the same context are trained again by the inner
// loop with S fresh seeds, and their recorded rewards are set beside the re-measured ones. A kept self-edit that
// only won by a lucky inner loop scores lower again; a random one should not move (its control).
// Run from the repository root after `npm run build`:
//   node experiments/results/session17/winners-curse.mjs RUN_DIR ROUND [SEEDS=2] [WORKERS=1] > OUT.json
// RUN_DIR: a headline run directory holding config.json and results.jsonl (e.g.
// experiments/results/session16/val/ctx64/run-0). Only rl people are read (never test people).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initEngine } from '../../../dist/engine/index.js';
import { resolveModelDir } from '../../../dist/app/config.js';
import { innerPool } from '../../../dist/app/cli/commands/common.js';
import { loadPeopleProblem } from '../../../dist/seal/domains/people.js';
import { OuterConfigSchema } from '../../../dist/seal/outer/outer.js';
import { rankRound, runPlans } from '../../../dist/seal/outer/rollout.js';
import { pairedDifference, meanCi } from '../../../dist/seal/eval/stats.js';
import { deriveSeed, Rng } from '../../../dist/util/rng.js';

const [runDir, roundArg, seedsArg = '2', workersArg = '1'] = process.argv.slice(2);
if (runDir === undefined || roundArg === undefined) {
  process.stderr.write('usage: winners-curse.mjs RUN_DIR ROUND [SEEDS] [WORKERS]\n');
  process.exit(2);
}
const round = Number(roundArg);
const nSeeds = Number(seedsArg);
const stored = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8'));
const outer = OuterConfigSchema.parse({ kind: 'rest-em', ...stored.config.outer });
const rows = readFileSync(join(runDir, 'results.jsonl'), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l))
  .filter((r) => r.kind === 'selfedit' && r.round === round);
if (rows.length === 0) throw new Error(`${runDir}: no self-edit rows for round ${round}`);
const byContext = new Map();
for (const r of rows) {
  const g = byContext.get(r.context) ?? [];
  g.push(r);
  byContext.set(r.context, g);
}
const ids = [...byContext.keys()];
const groups = ids.map((id) => byContext.get(id).sort((a, b) => a.sample - b.sample));
// The run's own ranking (its score and, when set, its length weight), as ReST-EM ranked that round.
const { scores } = rankRound(groups, outer);

await initEngine('auto');
const modelDir = resolveModelDir(stored.config.headline?.model ?? 'default');
const pp = await loadPeopleProblem(modelDir, 0, 'self-qa', 400);
const contextOf = new Map(pp.problem.rlContexts.map((c) => [c.id, c]));
const pool = await innerPool(modelDir, pp.problem.env, Number(workersArg));
const problem = { ...pp.problem, ...(pool === undefined ? {} : { executor: pool }) };

const rng = new Rng(deriveSeed('winners-curse-pick', round));
const picks = groups.map((g, ci) => {
  const s = scores[ci];
  let top = 0;
  for (let i = 1; i < g.length; i++) if (s[i] > s[top]) top = i;
  return { context: ids[ci], kept: g[top], random: g[rng.int(g.length)], best: Math.max(...g.map((x) => x.reward)) };
});
const planned = [];
for (const [ci, p] of picks.entries()) {
  const context = contextOf.get(p.context);
  if (context === undefined) throw new Error(`context ${p.context} is not an rl person of this model`);
  for (const which of ['kept', 'random'])
    for (let s = 0; s < nSeeds; s++)
      planned.push({
        which,
        ci,
        context,
        plan: problem.domain.plan(p[which].completion, context, outer),
        seed: deriveSeed('winners-curse', round, ci, s, which === 'kept' ? 0 : 1) % 1_000_000,
      });
}
process.stderr.write(`round ${round}: ${picks.length} contexts × 2 self-edits × ${nSeeds} seeds = ${planned.length} inner loops\n`);
const results = await runPlans(problem, planned);
await pool?.close?.();
const again = { kept: picks.map(() => 0), random: picks.map(() => 0) };
planned.forEach((j, i) => {
  again[j.which][j.ci] += results[i].accuracy / nSeeds;
});
const recorded = { kept: picks.map((p) => p.kept.reward), random: picks.map((p) => p.random.reward) };
const pct = (m) => ({ mean: 100 * m.mean, ci95: m.ci95.map((x) => 100 * x) });
const out = {
  runDir,
  round,
  seeds: nSeeds,
  contexts: picks.length,
  score: outer.score,
  meanSampleReward: 100 * (rows.reduce((a, r) => a + r.reward, 0) / rows.length),
  bestOfK: 100 * (picks.reduce((a, p) => a + p.best, 0) / picks.length),
  kept: { recorded: pct(meanCi(recorded.kept)), again: pct(meanCi(again.kept)), again_minus_recorded: pct(pairedDifference(again.kept, recorded.kept)) },
  random: { recorded: pct(meanCi(recorded.random)), again: pct(meanCi(again.random)), again_minus_recorded: pct(pairedDifference(again.random, recorded.random)) },
  rows: picks.map((p, ci) => ({
    context: p.context,
    keptSample: p.kept.sample,
    keptRecorded: recorded.kept[ci],
    keptAgain: again.kept[ci],
    randomSample: p.random.sample,
    randomRecorded: recorded.random[ci],
    randomAgain: again.random[ci],
  })),
};
process.stdout.write(`${JSON.stringify(out, null, 1)}\n`);
process.exit(0);
