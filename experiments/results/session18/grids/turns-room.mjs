// Issue #16, session 18: how much room does a per-task recipe choice have in the turns world, and is it a choice (it
// holds on fresh inner-loop seeds) or luck? Val tasks only. The 64 recipes of the model's space are swept on the val
// tasks at evaluation seed 0 (the grid table's sweep: same inner settings, same seeds); the best fixed recipe is the
// one with the most seed-0 solves; each task's oracle recipe is its first seed-0 solver in space order (the table's
// tie rule). Both are trained again at seeds 1 and 2. Per family: the turns whose recipes solve it at seed 0.
// Run from the repository root after `npm run build`:
//   node experiments/results/session18/grids/turns-room.mjs MODEL_DIR [WORKERS=2] [TASKS=32] > turns-room.json
import { innerPool } from '../../../../dist/app/cli/commands/common.js';
import { resolveGridModelDir } from '../../../../dist/app/cli/commands/grids-common.js';
import { initEngine } from '../../../../dist/engine/index.js';
import { recipePlan } from '../../../../dist/seal/domains/grids.js';
import { readGridRecipeSpace } from '../../../../dist/seal/domains/grids-model.js';
import { GRID_WORLD_TASK_SPEC, loadGridProblem } from '../../../../dist/seal/domains/grids-problem.js';
import { bestFixedIndex, gridEvalInnerSeed, sweepRecipes } from '../../../../dist/seal/eval/grids.js';
import { InnerLoopConfigSchema } from '../../../../dist/seal/inner/inner-loop.js';
import { runPlans } from '../../../../dist/seal/outer/rollout.js';
import { formatRecipe, namedRecipeSpace } from '../../../../dist/tasks/grids/recipe.js';

const modelDir = resolveGridModelDir(process.argv[2] ?? 'default');
const workers = Number(process.argv[3] ?? '2');
const nTasks = Number(process.argv[4] ?? '32');
await initEngine('auto');
const { problem, world } = await loadGridProblem(modelDir, nTasks);
const tasks = world.splits.val.slice(0, nTasks);
const contexts = problem.heldOut;
const space = namedRecipeSpace(readGridRecipeSpace(modelDir));
// The grid table's inner settings (grids-table.ts: rank 16, alpha 32, batch 16).
const inner = InnerLoopConfigSchema.parse({
  seqLen: problem.env.model.config.maxSeqLen,
  lora: { r: 16, alpha: 32 },
  batchSize: 16,
});
const pool = await innerPool(modelDir, problem.env, workers, GRID_WORLD_TASK_SPEC);
const p = pool === undefined ? problem : { ...problem, executor: pool };
const t0 = performance.now();
const scores = await sweepRecipes(p, contexts, space, inner, 0, { label: 'sweep seed 0' });
const best = bestFixedIndex(scores);
const chosen = tasks.map((_, t) => space.findIndex((_, r) => scores[r][t] > 0));
const again = [];
for (let t = 0; t < tasks.length; t++) {
  for (const seed of [1, 2]) {
    again.push({ t, r: best, seed, why: 'best-fixed' });
    if (chosen[t] >= 0 && chosen[t] !== best) again.push({ t, r: chosen[t], seed, why: 'oracle' });
  }
}
const ran = await runPlans(
  p,
  again.map((j) => ({
    context: contexts[j.t],
    plan: recipePlan(space[j.r], contexts[j.t], { inner }),
    seed: gridEvalInnerSeed(j.seed, j.t),
  })),
);
await pool?.close();
const scoreAt = (t, r, seed) =>
  seed === 0 ? scores[r][t] : ran[again.findIndex((j) => j.t === t && j.r === r && j.seed === seed)].accuracy;
const pct = (xs) => +((100 * xs.reduce((a, b) => a + b, 0)) / Math.max(1, xs.length)).toFixed(1);
const families = [...new Set(tasks.map((t) => t.family))].sort();
const perFamily = Object.fromEntries(
  families.map((f) => {
    const idx = tasks.map((t, i) => (t.family === f ? i : -1)).filter((i) => i >= 0);
    const byTurn = {};
    for (const turn of [0, 90, 180, 270]) {
      const rs = space.map((r, i) => (r.turn === turn ? i : -1)).filter((i) => i >= 0);
      byTurn[turn] = pct(idx.map((t) => (rs.some((r) => scores[r][t] > 0) ? 1 : 0)));
    }
    return [
      f,
      {
        tasks: idx.length,
        solvedByAnyRecipeOfTurn: byTurn,
        bestFixedSeed0: pct(idx.map((t) => scores[best][t])),
      },
    ];
  }),
);
const perRecipe = space.map((r, i) => ({
  recipe: formatRecipe(r),
  solved: scores[i].reduce((a, b) => a + b, 0),
}));
process.stdout.write(
  `${JSON.stringify(
    {
      model: modelDir,
      tasks: tasks.map((t) => t.id),
      recipes: space.length,
      seconds: Math.round((performance.now() - t0) / 1000),
      bestFixed: formatRecipe(space[best]),
      summary: {
        bestFixed: [0, 1, 2].map((s) => pct(tasks.map((_, t) => scoreAt(t, best, s)))),
        oracleSeed0: pct(tasks.map((_, t) => (chosen[t] >= 0 ? 1 : 0))),
        oracleChosenOnSeed0: [1, 2].map((s) =>
          pct(tasks.map((_, t) => (chosen[t] >= 0 ? scoreAt(t, chosen[t], s) : 0))),
        ),
        meanRecipe: pct(scores.flat()),
      },
      perFamily,
      perRecipe,
      perTask: tasks.map((t, i) => ({
        task: t.id,
        family: t.family,
        rule: t.rule,
        solvers: space.filter((_, r) => scores[r][i] > 0).length,
        chosen: chosen[i] >= 0 ? formatRecipe(space[chosen[i]]) : null,
        chosenAgain: chosen[i] >= 0 ? [1, 2].map((s) => scoreAt(i, chosen[i], s)) : null,
        bestFixed: [0, 1, 2].map((s) => scoreAt(i, best, s)),
      })),
      scores,
    },
    null,
    1,
  )}\n`,
);
process.exit(0);
