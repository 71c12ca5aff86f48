// Issue #15, session 17: what a self-edit's reward follows. For one RL round of a committed people-world run, every
// sampled self-edit's answers ("A: …" lines) are compared with the passage's six facts (the rule-based parser's
// answers): how many distinct facts it states correctly, how many answers are wrong, and the mean reward and length
// of the samples by number of facts; with a winners-curse.mjs output, the same for ReST-EM's kept self-edits.
// Run from the repository root after `npm run build`:
//   node experiments/results/session17/facts.mjs RUN_DIR ROUND [WINNERS_CURSE.json]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveModelDir } from '../../../dist/app/config.js';
import { initEngine } from '../../../dist/engine/index.js';
import { loadPeopleProblem } from '../../../dist/seal/domains/people.js';

const [runDir, roundArg, keptFile] = process.argv.slice(2);
if (runDir === undefined || roundArg === undefined) {
  process.stderr.write('usage: facts.mjs RUN_DIR ROUND [WINNERS_CURSE.json]\n');
  process.exit(2);
}
const stored = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8'));
await initEngine('wasm');
const pp = await loadPeopleProblem(resolveModelDir(stored.config.headline?.model ?? 'default'), 0, 'self-qa', 400);
const contextOf = new Map(pp.problem.rlContexts.map((c) => [c.id, c]));
const rows = readFileSync(join(runDir, 'results.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l))
  .filter((r) => r.kind === 'selfedit' && r.round === Number(roundArg));
const answers = (text) =>
  text
    .split('\n')
    .filter((l) => l.startsWith('A: '))
    .map((l) => l.slice(3).trim());
const features = (r) => {
  const context = contextOf.get(r.context);
  if (context === undefined) throw new Error(`context ${r.context} is not an rl person of this model`);
  const truth = answers(pp.ruleBasedShortSelfEdit(context));
  const said = answers(r.completion);
  return {
    qa: said.length,
    facts: new Set(said.filter((a) => truth.includes(a))).size,
    wrong: said.filter((a) => !truth.includes(a)).length,
    tokens: r.tokens,
    reward: r.reward,
  };
};
const mean = (xs) =>
  Object.fromEntries(Object.keys(xs[0]).map((k) => [k, +(xs.reduce((s, x) => s + x[k], 0) / xs.length).toFixed(3)]));
const all = rows.map(features);
const out = { runDir, round: Number(roundArg), samples: all.length, all: mean(all), byFacts: {} };
for (let f = 0; f <= 6; f++) {
  const s = all.filter((x) => x.facts === f);
  if (s.length > 0) out.byFacts[f] = { n: s.length, ...mean(s) };
}
if (keptFile !== undefined) {
  const kept = new Set(JSON.parse(readFileSync(keptFile, 'utf8')).rows.map((r) => `${r.context}/${r.keptSample}`));
  out.kept = mean(rows.filter((r) => kept.has(`${r.context}/${r.sample}`)).map(features));
}
process.stdout.write(`${JSON.stringify(out, null, 1)}\n`);
