import { z } from 'zod';
import { writeWorld } from '../../../tasks/people/task.js';
import { generateWorld, WorldConfigSchema } from '../../../tasks/people/world.js';
import { checkOutputDir } from '../../../util/fs.js';
import type { Command } from '../args.js';
import { log } from './common.js';

// The world's own fields and limits (one definition, in WorldConfigSchema): a bad value is a usage error here,
// before anything is generated.
const W = WorldConfigSchema.shape;
const schema = z.object({
  out: z.string().describe('Output directory (world.json + contexts-<split>.jsonl)'),
  seed: W.seed,
  pretrainPeople: W.pretrainPeople,
  rlPeople: W.rlPeople,
  evalPeople: W.evalPeople,
  biosPerPerson: W.biosPerPerson,
  qaFraction: W.qaFraction,
  overwrite: z.boolean().default(false).describe('Replace the files of an existing world directory'),
});

export const worldCommand: Command<typeof schema> = {
  name: 'world',
  summary: 'Generate the synthetic people world (bioS biographies, questions, pretrain/rl/eval splits).',
  schema,
  examples: ['seal world --seed 1 --out worlds/default'],
  async run(o) {
    checkOutputDir(o.out, 'world', o.overwrite);
    const world = generateWorld({
      seed: o.seed,
      pretrainPeople: o.pretrainPeople,
      rlPeople: o.rlPeople,
      evalPeople: o.evalPeople,
      biosPerPerson: o.biosPerPerson,
      qaFraction: o.qaFraction,
    });
    const files = await writeWorld(o.out, world, { overwrite: o.overwrite });
    log(
      `wrote ${files.length} files to ${o.out}: ${world.people.length} people (${o.pretrainPeople} pretrain / ${o.rlPeople} rl / ${o.evalPeople} eval)`,
    );
  },
};
