/**
 * Configs of the app layer, shared by the CLI and the experiment scripts: the `seal train` config, the bundled
 * model's name, and run configs read back from disk for `--resume`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { assetPath } from '../assets.js';
import { OuterConfigSchema } from '../seal/outer/outer.js';
import { PEOPLE_SELF_EDIT_STYLES } from '../tasks/people/selfedit.js';
import { readJsonFile, validate } from '../util/json.js';
import { UsageError } from './cli/args.js';

const modelField = z
  .string()
  .default('default')
  .describe('Base model directory from `seal pretrain` ("default" = the bundled model of the domain)');

const PeopleTrainConfigSchema = z.strictObject({
  domain: z
    .literal('people')
    .describe('Knowledge incorporation in the people world (self-edits are training text)'),
  model: modelField,
  prompt: z
    .enum(PEOPLE_SELF_EDIT_STYLES)
    .default('self-qa')
    .describe('Self-edit prompt the generator learns (implications | rewrite | self-qa)'),
  rlPeople: z
    .number()
    .int()
    .min(0)
    .max(100_000)
    .default(400)
    .describe(
      "RL people: the world's rl split topped up with never-pretrained people from an auxiliary world",
    ),
  outer: OuterConfigSchema.prefault({ kind: 'rest-em' }),
});

const GridsTrainConfigSchema = z.strictObject({
  domain: z
    .literal('grids')
    .describe(
      "Few-shot grid puzzles (the self-edit is a test-time-training recipe; RL tasks: the world's rl split)",
    ),
  model: modelField,
  outer: OuterConfigSchema.prefault({ kind: 'rest-em' }),
});

/**
 * The `seal train` config: one branch per SEAL domain (`domain`, default `people`, so configs written before the
 * grid domain still read). Each branch is strict: a people-only field in a grids config is an error naming it.
 */
export const SealTrainConfigSchema = z.preprocess(
  (v) =>
    typeof v === 'object' && v !== null && !Array.isArray(v) && !('domain' in v)
      ? { ...v, domain: 'people' }
      : v,
  z.discriminatedUnion('domain', [PeopleTrainConfigSchema, GridsTrainConfigSchema]),
);
export type SealTrainConfig = z.infer<typeof SealTrainConfigSchema>;

export function resolveModelDir(model: string): string {
  return model === 'default' ? assetPath('models/people-default') : model;
}

/**
 * The saved `config.json` of a run directory (`{version, config}`), validated by `schema`: `--resume` must never
 * run on a config it cannot vouch for. Errors name the file and the field.
 */
export function readRunConfig<S extends z.ZodType>(
  schema: S,
  runDir: string,
): { version: string; config: z.infer<S> } {
  const file = join(runDir, 'config.json');
  if (!existsSync(runDir)) throw new UsageError(`--resume ${runDir}: no such run directory`);
  if (!existsSync(file))
    throw new UsageError(`--resume ${runDir}: not a run directory (no config.json there)`);
  const saved = readJsonFile(z.strictObject({ version: z.string(), config: z.unknown() }), file);
  return { version: saved.version, config: validate(schema, saved.config, file) };
}
