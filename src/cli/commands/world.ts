import { z } from 'zod';
import { writeWorld } from '../../tasks/people/task.js';
import { generateWorld } from '../../tasks/people/world.js';
import type { Command } from '../args.js';
import { log } from './common.js';

const schema = z.object({
  out: z.string().describe('Output directory (world.json + contexts-<split>.jsonl)'),
  seed: z.number().int().min(0).default(1).describe('World seed: same seed, same bytes'),
  pretrainPeople: z.number().int().min(1).default(400).describe('People in the pretraining split'),
  rlPeople: z.number().int().min(1).default(40).describe('People whose passages the outer RL loop trains on'),
  evalPeople: z
    .number()
    .int()
    .min(1)
    .default(40)
    .describe('Held-out people (never pretrained on, never in RL)'),
  biosPerPerson: z.number().int().min(1).default(5).describe('Augmented biographies per pretraining person'),
  qaFraction: z
    .number()
    .min(0)
    .max(1)
    .default(0.5)
    .describe('Fraction of pretraining people with QA pairs in the corpus'),
  overwrite: z.boolean().default(false).describe('Replace the files of an existing world directory'),
});

export const worldCommand: Command<typeof schema> = {
  name: 'world',
  summary: 'Generate the synthetic people world (bioS biographies, questions, pretrain/rl/eval splits).',
  schema,
  examples: ['seal world --seed 1 --out worlds/default'],
  async run(o) {
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
