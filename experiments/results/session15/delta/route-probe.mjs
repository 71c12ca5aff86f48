// Issue #18, session 15 — the scope router's probe (val only, no edit generator): can the base model's hidden states
// tell which of 16 val people a question is about? Per block: pooled embeddings (cosine, background mean removed) and
// the router's contrastive MaxSim (route.ts: a question token counts toward a passage only as far as that passage
// explains it better than any of 64 background people's documents; no edit when no score exceeds 1e-4). top1 = routed to the right person, on the
// people's own questions and on held-out wordings; then the best score's quantiles for own questions, held-out
// wordings, known people's questions (nobody edited) and held-out text, to see whether a threshold could tell
// "nobody" apart. Run from the repository root after `npm run build`:
//   node experiments/results/session15/delta/route-probe.mjs > experiments/results/session15/delta/route-probe.txt
import { initEngine } from '../../../../dist/engine/index.js';
import { tf } from '../../../../dist/engine/tf.js';
import { loadPeopleProblem, knownPeople, heldOutPassages, rlContexts } from '../../../../dist/seal/domains/people.js';
import { readContext } from '../../../../dist/seal/delta/embedding.js';
import { resolveModelDir } from '../../../../dist/app/config.js';
import { heldOutQuestions } from '../../../../dist/tasks/people/text.js';
await initEngine('auto');
const pp = await loadPeopleProblem(resolveModelDir('default'), 0);
const env = pp.problem.env;
const val = (pp.task.splits.val ?? []).slice(0, 16);
const known = knownPeople(pp.world, 'eval');
const people = new Map(pp.world.people.map((p) => [p.id, p]));
const bg = rlContexts(pp.world, pp.task, 64).slice(0, 64);
const nL = env.model.config.nLayers;
const KINDS = ['pool', 'maxsim', 'contrast'];
console.log('layers', nL, 'val', val.length, 'known', known.length);
// Every position but the first: BOS has the same state in every input (route.ts leaves it out too).
const H = (text, L) => { const v = readContext(env.model, env.tok, text, L); const a = v.hidden.arraySync(); v.hidden.dispose(); return a.slice(1); };
const sub = (a, b) => a.map((x, i) => x - b[i]);
const norm = (a) => { const n = Math.hypot(...a) || 1; return a.map((x) => x / n); };
const dot = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0);
const meanRows = (rows) => rows[0].map((_, j) => rows.reduce((s, r) => s + r[j], 0) / rows.length);
for (const L of [0, 1, 2, 3].filter((x, i, a) => a.indexOf(x) === i && x >= 0)) {
  // background: token mean over other people's passages and questions
  const bgRows = bg.flatMap((c) => [...H(`${c.title}\n${c.passage}`, L), ...c.questions.slice(0, 2).flatMap((q) => H(env.task.answerPrompt(c, q), L))]);
  const mu = meanRows(bgRows);
  const bgTok = bgRows.map((r) => norm(sub(r, mu)));
  const keysPool = val.map((c) => norm(sub(meanRows(H(`${c.title}\n${c.passage}`, L)), mu)));
  const keysTok = val.map((c) => H(`${c.title}\n${c.passage}`, L).map((r) => norm(sub(r, mu))));
  const score = (text) => {
    const rows = H(text, L);
    const q = norm(sub(meanRows(rows), mu));
    const pool = keysPool.map((k) => dot(k, q));
    const qt = rows.map((r) => norm(sub(r, mu)));
    const bgMax = qt.map((r) => Math.max(...bgTok.map((b) => dot(b, r))));
    const best = keysTok.map((kt) => qt.map((r) => Math.max(...kt.map((k) => dot(k, r)))));
    // plain MaxSim (mean over query tokens of the best passage token), and the router's contrastive score
    const maxsim = best.map((bt) => bt.reduce((a, b) => a + b, 0) / bt.length);
    const contrast = best.map((bt) => Math.max(...bt.map((x, t) => x - bgMax[t])));
    return { pool, maxsim, contrast };
  };
  const stats = Object.fromEntries(KINDS.map((k) => [k, { own: [], ownTop: 0, n: 0, para: [], paraTop: 0, np: 0, known: [], text: [] }]));
  val.forEach((c, i) => {
    for (const q of c.questions) { const s = score(env.task.answerPrompt(c, q)); for (const k of KINDS) { const arg = s[k].indexOf(Math.max(...s[k])); stats[k].own.push(Math.max(...s[k])); stats[k].ownTop += arg === i ? 1 : 0; stats[k].n++; } }
    for (const q of heldOutQuestions(people.get(c.id))) { const s = score(env.task.answerPrompt(c, q)); for (const k of KINDS) { const arg = s[k].indexOf(Math.max(...s[k])); stats[k].para.push(Math.max(...s[k])); stats[k].paraTop += arg === i ? 1 : 0; stats[k].np++; } }
  });
  for (const c of known.slice(0, 16)) for (const q of c.questions.slice(0, 3)) { const s = score(env.task.answerPrompt(c, q)); for (const k of KINDS) stats[k].known.push(Math.max(...s[k])); }
  for (const t of heldOutPassages(pp.world, 8)) { const s = score(t); for (const k of KINDS) stats[k].text.push(Math.max(...s[k])); }
  const q = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(p * (s.length - 1))].toFixed(3); };
  // The router sends a query to no edit when its best contrastive score is ≤ 1e-4 (route.ts ROUTE_MARGIN).
  const none = (xs) => xs.filter((x) => x <= 1e-4).length;
  const c = stats.contrast;
  console.log(`block ${L} contrast routed to no edit: own ${none(c.own)}/${c.own.length}, held-out wordings ${none(c.para)}/${c.para.length}, known people ${none(c.known)}/${c.known.length}, held-out texts ${none(c.text)}/${c.text.length}`);
  for (const k of KINDS) {
    const s = stats[k];
    console.log(`block ${L} ${k}: top1 own ${(s.ownTop / s.n).toFixed(3)} para ${(s.paraTop / s.np).toFixed(3)} | own max p5 ${q(s.own, 0.05)} min ${q(s.own, 0)} | para p5 ${q(s.para, 0.05)} min ${q(s.para,0)} | known p95 ${q(s.known, 0.95)} max ${q(s.known, 1)} | text max ${q(s.text, 1)}`);
  }
}
