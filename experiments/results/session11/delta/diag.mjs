// Usage (from the repository root): node experiments/results/session11/delta/diag.mjs GENERATOR_DIR
// Retention of a saved generator's edits (16 val people) on the train half vs the eval half of the known people,
// (the locality term trains on the train half; the retention measure reads the eval half)
import { initEngine } from '../../../../dist/engine/index.js';
import { loadPeopleProblem, knownPeople } from '../../../../dist/seal/domains/people.js';
import { loadEditGenerator } from '../../../../dist/seal/delta/io.js';
import { editFor } from '../../../../dist/seal/delta/train.js';
import { answerQuestions } from '../../../../dist/seal/inner/qa-eval.js';
await initEngine('auto');
const pp = await loadPeopleProblem('assets/models/people-default', 0);
const env = pp.problem.env;
const gen = await loadEditGenerator(env.model, process.argv[2]);
const val = pp.task.splits['val'].slice(0, 16);
for (const part of ['train', 'eval']) {
  const known = knownPeople(pp.world, part);
  const base = answerQuestions(env.model, env.tok, env.task, known);
  let kept = 0, asked = 0;
  val.forEach((c, i) => {
    const picks = [0, 1, 2, 3].map((j) => (i * 4 + j) % known.length);
    const { edit, dispose } = editFor(env, gen, `${c.title}\n${c.passage}`);
    const ans = answerQuestions(env.model, env.tok, env.task, picks.map((p) => known[p]), { deltas: [edit] });
    const b = picks.flatMap((p) => base.filter((a) => a.contextId === known[p].id));
    ans.forEach((a, k) => { if (b[k].score > 0) { asked++; if (a.score > 0) kept++; } });
    dispose();
  });
  console.log(part, { asked, kept, retention: kept / asked });
}
