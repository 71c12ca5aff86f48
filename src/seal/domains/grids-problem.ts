/**
 * The grid world as a SEAL problem: a grid model directory (from `seal pretrain --domain grids`) carries its world
 * config, from which the same splits are regenerated. RL contexts are the `rl` split (held-out families), the
 * per-round monitor reads the `val` split (never `test`), the domain is the recipe self-edit (grids.ts), and the
 * inner loop answers with the grids task spec (solve prompt, exact grid match).
 */
import { loadModel } from '../../model/io/load.js';
import { WORLD_MAX_SIDE } from '../../tasks/grids/families.js';
import { gridContext } from '../../tasks/grids/task.js';
import { type GridWorld, generateGridWorld } from '../../tasks/grids/world.js';
import { loadTokenizer } from '../../tokenizer/load.js';
import type { InnerEnv } from '../inner/inner-loop.js';
import { TaskSpecSchema, taskFromSpec } from '../inner/task-spec.js';
import type { SealProblem } from '../outer/rollout.js';
import { gridDomain } from './grids.js';
import { readGridWorldConfig } from './grids-model.js';

export interface GridProblem {
  readonly problem: SealProblem;
  readonly world: GridWorld;
}

/** The task spec of the grid world's inner loops (workers rebuild the same task from it). */
export const GRID_WORLD_TASK_SPEC = TaskSpecSchema.parse({ kind: 'grids', maxSide: WORLD_MAX_SIDE });

export async function loadGridProblem(modelDir: string, heldOutCount: number): Promise<GridProblem> {
  // The held-out splits only: the same tasks without drawing the pretraining split.
  const world = generateGridWorld(readGridWorldConfig(modelDir), { heldOutOnly: true });
  const { model } = await loadModel(modelDir);
  const tok = loadTokenizer(modelDir, { vocabSize: model.config.vocabSize });
  const env: InnerEnv = { model, tok, task: taskFromSpec(GRID_WORLD_TASK_SPEC) };
  return {
    world,
    problem: {
      env,
      rlContexts: world.splits.rl.map(gridContext),
      heldOut: world.splits.val.slice(0, heldOutCount).map(gridContext),
      domain: gridDomain,
    },
  };
}
