// Which known people's answers a delta-mode edit changes, and to what: the first 12 changes and the counts.
// Usage (from the repository root): node experiments/results/session10/delta/leak.mjs GENERATOR_DIR
import { initEngine } from '../../../../dist/engine/index.js';
import { loadPeopleProblem, knownPeople } from '../../../../dist/seal/domains/people.js';
import { loadEditGenerator } from '../../../../dist/seal/delta/io.js';
import { editFor } from '../../../../dist/seal/delta/train.js';
import { answerQuestions } from '../../../../dist/seal/inner/qa-eval.js';
await initEngine('auto');
const pp = await loadPeopleProblem('assets/models/people-default', 0);
const env = pp.problem.env;
const gen = await loadEditGenerator(env.model, process.argv[2]);
const val = pp.task.splits['val'].slice(0, 8);
const known = knownPeople(pp.world, 'eval').slice(0, 8);
const base = answerQuestions(env.model, env.tok, env.task, known);
let changed = 0, toEdited = 0, total = 0;
for (const c of val) {
  const { edit, dispose } = editFor(env, gen, `${c.title}\n${c.passage}`);
  const own = new Map(answerQuestions(env.model, env.tok, env.task, [c], { deltas: [edit] }).map(a => [a.kind, a.golds[0]]));
  const ans = answerQuestions(env.model, env.tok, env.task, known, { deltas: [edit] });
  ans.forEach((a, i) => {
    total++;
    if (a.prediction !== base[i].prediction) {
      changed++;
      if (a.prediction === own.get(a.kind)) toEdited++;
      if (changed <= 12) console.log(a.kind, '|', base[i].prediction, '->', a.prediction, '| edited:', own.get(a.kind));
    }
  });
  dispose();
}
console.log({ total, changed, toEdited });
