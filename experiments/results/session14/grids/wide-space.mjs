// Issue #16, session 14: would a wider recipe space leave room for a per-task choice? Sweeps 32 more recipes (8
// copies, lr 1e-2, 16 epochs) on the 32 val tasks with the table's inner loop and seed 0, and reads them with the
// 64-recipe sweep of val32-solved: best fixed and oracle over each space. Val only. Run from the repository root
// after `npm run build`: node experiments/results/session14/grids/wide-space.mjs > wide-space.txt
import { readFileSync, writeFileSync } from 'node:fs';
import { innerPool } from '../../../../dist/app/cli/commands/common.js';
import { resolveGridModelDir } from '../../../../dist/app/cli/commands/grids-common.js';
import { initEngine } from '../../../../dist/engine/index.js';
import { GRID_WORLD_TASK_SPEC, loadGridProblem } from '../../../../dist/seal/domains/grids-problem.js';
import { bestFixedIndex, oracleScores, sweepRecipes } from '../../../../dist/seal/eval/grids.js';
import { InnerLoopConfigSchema } from '../../../../dist/seal/inner/inner-loop.js';
import { formatRecipe, recipeSpace } from '../../../../dist/tasks/grids/recipe.js';

const here = new URL('.', import.meta.url).pathname;
await initEngine('auto');
const modelDir = resolveGridModelDir('default');
const { problem } = await loadGridProblem(modelDir, 32);
const inner = InnerLoopConfigSchema.parse({
  seqLen: problem.env.model.config.maxSeqLen,
  lora: { r: 16, alpha: 32 },
  batchSize: 16,
});
const base = JSON.parse(readFileSync(`${here}val32-solved/fixed/sweep.json`, 'utf8'));
const known = new Set(base.recipes);
const wide = recipeSpace({
  augment: [[], ['rot', 'flip'], ['colour'], ['rot', 'flip', 'colour']],
  copies: [4, 8],
  leaveOneOut: [true],
  lr: [3e-3, 1e-2],
  epochs: [8, 16],
  loss: ['outputs'],
}).filter((r) => !known.has(formatRecipe(r)));
const pool = await innerPool(modelDir, problem.env, 2, GRID_WORLD_TASK_SPEC);
const p = pool === undefined ? problem : { ...problem, executor: pool };
const scores = await sweepRecipes(p, problem.heldOut, wide, inner, 0, { label: 'wide sweep' });
await pool?.close();
const n = problem.heldOut.length;
const pct = (xs) => ((100 * xs.reduce((a, b) => a + b, 0)) / n).toFixed(1);
const report = (label, recipes, sc) => {
  const b = bestFixedIndex(sc);
  return `${label}: ${recipes.length} recipes; best fixed ${pct(sc[b])}% (${recipes[b].trim().replaceAll('\n', '; ')}); oracle ${pct(oracleScores(sc))}%`;
};
const all = [...base.recipes, ...wide.map(formatRecipe)];
const lines = [
  report('the 64-recipe space', base.recipes, base.scores),
  report('the 32 added recipes', wide.map(formatRecipe), scores),
  report('both', all, [...base.scores, ...scores]),
];
writeFileSync(`${here}wide-space.json`, `${JSON.stringify({ tasks: base.tasks, recipes: wide.map(formatRecipe), scores })}\n`);
console.log(lines.join('\n'));
