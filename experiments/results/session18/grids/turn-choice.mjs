// Issue #16, session 18: how often a grid RL run's sampled recipes turn gravity tasks the right way (gravity_left 270,
// up 180, right 90: the turn that makes them pretraining's gravity_down), per round, with the mean reward of those
// samples. Run from the repository root after `npm run build`:
//   node experiments/results/session18/grids/turn-choice.mjs RUN_DIR/results.jsonl
import { readFileSync } from 'node:fs';
import { generateGridWorld } from '../../../../dist/tasks/grids/world.js';
import { parseRecipe } from '../../../../dist/tasks/grids/recipe.js';
const file = process.argv[2];
const w = generateGridWorld({ heldOut: 'turns' }, { heldOutOnly: true });
const fam = new Map([...w.splits.rl, ...w.splits.val].map((t) => [t.id, t.family]));
const right = (f) => (f.startsWith('gravity_left') ? 270 : f.startsWith('gravity_up') ? 180 : f.startsWith('gravity_right') ? 90 : null);
const by = {};
for (const l of readFileSync(file, 'utf8').split('\n')) {
  if (!l) continue;
  const e = JSON.parse(l);
  if (e.kind !== 'selfedit') continue;
  const f = fam.get(e.context); const r = right(f); if (r === null) continue;
  const p = parseRecipe(e.completion);
  const k = e.round; by[k] ??= { n: 0, right: 0, reward: 0 };
  by[k].n++; if (p.ok && (p.recipe.turn ?? 0) === r) by[k].right++; by[k].reward += e.reward;
}
for (const [k, v] of Object.entries(by)) console.log(`round ${k}: gravity samples ${v.n}, right turn ${(100 * v.right / v.n).toFixed(1)}%, mean reward ${(v.reward / v.n).toFixed(3)}`);
