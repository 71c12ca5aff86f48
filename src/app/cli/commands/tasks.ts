/**
 * `seal tasks`: a grid model's held-out tasks as ARC task files, so that `seal adapt --domain grids` and `seal solve`
 * can be run on the world's own tasks (the ones the tables measure) as on any ARC task.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { readGridWorldConfig } from '../../../seal/domains/grids-model.js';
import { writeArcTask } from '../../../tasks/grids/arc.js';
import { generateGridWorld, HELD_OUT_SPLITS } from '../../../tasks/grids/world.js';
import { checkOutputDir, writeDirAtomic } from '../../../util/fs.js';
import type { Command } from '../args.js';
import { log } from './common.js';
import { GridTaskOptions, resolveGridModelDir } from './grids-common.js';

const schema = z.object({
  out: z
    .string()
    .describe(
      'Output directory: one ARC task file per task (<id>.json) and grid_tasks.json (id, split, family, rule)',
    ),
  model: GridTaskOptions.model,
  split: z
    .enum(HELD_OUT_SPLITS)
    .default('val')
    .describe(
      'Which held-out split: rl (SEAL trains on it), val (choices are made on it) or test (the final tables only)',
    ),
  count: z.number().int().min(1).optional().describe('The first N tasks of the split (default: all of it)'),
  overwrite: z.boolean().default(false).describe('Replace the files of an existing tasks directory'),
});

export const tasksCommand: Command<typeof schema> = {
  name: 'tasks',
  summary: "Write a grid model's held-out tasks (rl, val or test split) as ARC task files.",
  schema,
  examples: ['seal tasks --out tasks-val', 'seal tasks --split rl --count 8 --out tasks-rl'],
  async run(o) {
    // The output is checked before any work (writeDirAtomic checks it again when it writes).
    checkOutputDir(o.out, 'grid-tasks', o.overwrite);
    const modelDir = resolveGridModelDir(o.model);
    // The held-out splits only: the same tasks the tables use, without drawing the pretraining split.
    const world = generateGridWorld(readGridWorldConfig(modelDir), { heldOutOnly: true });
    const tasks = world.splits[o.split].slice(0, o.count);
    await writeDirAtomic(o.out, o.overwrite, 'grid-tasks', async (tmp) => {
      for (const t of tasks) await writeArcTask(join(tmp, `${t.id}.json`), t);
      const index = tasks.map((t) => ({ id: t.id, split: t.split, family: t.family, rule: t.rule }));
      await writeFile(join(tmp, 'grid_tasks.json'), `${JSON.stringify(index, null, 2)}\n`);
    });
    log(`wrote ${tasks.length} ${o.split} tasks of ${modelDir} to ${o.out} (index: grid_tasks.json)`);
  },
};
