// Usage (from the repository root, after `npm run build`):
//   node experiments/results/session13/delta/gate-ablation.mjs GENERATOR_DIR [people=16]
// How much of a gated generator's edit success and retention its learned write gate carries: the saved gate, every
// gate at 0.5 (g = b = 0, the gate's initialisation), every gate at 1 (b = 30). ES on the val people (their
// canonical questions), retention on 4 known people (eval half) per edit, as session 11's diag.mjs.
import { initEngine } from '../../../../dist/engine/index.js';
import { tf } from '../../../../dist/engine/tf.js';
import { loadPeopleProblem, knownPeople } from '../../../../dist/seal/domains/people.js';
import { loadEditGenerator } from '../../../../dist/seal/delta/io.js';
import { editFor } from '../../../../dist/seal/delta/train.js';
import { answerQuestions } from '../../../../dist/seal/inner/qa-eval.js';
await initEngine('auto');
const pp = await loadPeopleProblem('assets/models/people-default', 0);
const env = pp.problem.env;
const gen = await loadEditGenerator(env.model, process.argv[2]);
const n = Number(process.argv[3] ?? 16);
const val = pp.task.splits['val'].slice(0, n);
const known = knownPeople(pp.world, 'eval');
const base = answerQuestions(env.model, env.tok, env.task, known);
const saved = { g: gen.gate.g.clone(), b: gen.gate.b.clone() };
const settings = {
  learned: () => { gen.gate.g.assign(saved.g); gen.gate.b.assign(saved.b); },
  half: () => { gen.gate.g.assign(tf.zerosLike(saved.g)); gen.gate.b.assign(tf.zerosLike(saved.b)); },
  one: () => { gen.gate.g.assign(tf.zerosLike(saved.g)); gen.gate.b.assign(tf.fill([1], 30)); },
};
for (const [name, set] of Object.entries(settings)) {
  set();
  let es = 0, q = 0, kept = 0, asked = 0;
  val.forEach((c, i) => {
    const { edit, dispose } = editFor(env, gen, `${c.title}\n${c.passage}`);
    for (const a of answerQuestions(env.model, env.tok, env.task, [c], { deltas: [edit] })) { es += a.score; q++; }
    const picks = [0, 1, 2, 3].map((j) => (i * 4 + j) % known.length);
    const ans = answerQuestions(env.model, env.tok, env.task, picks.map((p) => known[p]), { deltas: [edit] });
    const b = picks.flatMap((p) => base.filter((a) => a.contextId === known[p].id));
    ans.forEach((a, k) => { if (b[k].score > 0) { asked++; if (a.score > 0) kept++; } });
    dispose();
  });
  console.log(JSON.stringify({ gate: name, es: es / q, retention: kept / asked, people: n }));
}
