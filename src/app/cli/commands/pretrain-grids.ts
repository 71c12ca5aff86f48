/**
 * `seal pretrain --domain grids`: the grid base model (src/seal/domains/grids-pretrain.ts) from a config file and
 * flags, validated once; the same output layout as the people model (model/, checkpoint/, report.json).
 */
import { z } from 'zod';
import { initEngine } from '../../../engine/index.js';
import { SealError } from '../../../errors.js';
import {
  type GridPretrainConfig,
  GridPretrainConfigSchema,
  gridReportLine,
  pretrainGridModel,
} from '../../../seal/domains/grids-pretrain.js';
import { RECIPE_SPACE_NAMES, type RecipeSpaceName } from '../../../tasks/grids/recipe.js';
import { HELD_OUT_SET_NAMES, type HeldOutSetName } from '../../../tasks/grids/world.js';
import { validate } from '../../../util/json.js';
import { readJsonConfig, UsageError } from '../args.js';
import { type BackendOption, log } from './common.js';

/** --help quotes the defaults from their one source, the config schema. */
const G = GridPretrainConfigSchema.parse({});

/** Flags only the grid world has. */
export const GridPretrainFlags = {
  pretrainTasks: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe(`--domain grids: pretraining-family tasks (default ${G.world.pretrainTasks})`),
  recipeDemos: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe(`--domain grids: recipe-writing demonstrations (default ${G.recipeDemos})`),
  recipeSpace: z
    .enum(RECIPE_SPACE_NAMES)
    .optional()
    .describe(
      `--domain grids: the recipes the demonstrations draw from, ${RECIPE_SPACE_NAMES.join(' | ')} (default ${G.recipeSpace})`,
    ),
  evalTasks: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe(`--domain grids: tasks per family group in the report (default ${G.evalTasks})`),
  heldOut: z
    .enum(HELD_OUT_SET_NAMES)
    .optional()
    .describe(
      `--domain grids: the held-out family set of the rl / val / test splits, ${HELD_OUT_SET_NAMES.join(' | ')} (default ${G.world.heldOut}; turns: gravity in three new directions, where the recipe's turn matters)`,
    ),
  init: z
    .string()
    .optional()
    .describe(
      "--domain grids: start from this grid model's weights (continued pretraining; same shape and tokenizer), e.g. --init assets/models/grids-default",
    ),
} as const;

export const GRID_FLAG_NAMES: Readonly<Record<keyof typeof GridPretrainFlags, string>> = {
  pretrainTasks: '--pretrain-tasks',
  recipeDemos: '--recipe-demos',
  recipeSpace: '--recipe-space',
  evalTasks: '--eval-tasks',
  heldOut: '--held-out',
  init: '--init',
};

/** Flags only the people world has. */
const PEOPLE_FLAG_NAMES = {
  pretrainPeople: '--pretrain-people',
  vocabSize: '--vocab-size',
  copyDemos: '--copy-demos',
  evalPeople: '--eval-people',
} as const;

export interface GridPretrainOptions {
  readonly out: string;
  readonly config?: string | undefined;
  readonly steps?: number | undefined;
  readonly worldSeed?: number | undefined;
  readonly dim?: number | undefined;
  readonly layers?: number | undefined;
  readonly batchSize?: number | undefined;
  readonly lr?: number | undefined;
  readonly pretrainTasks?: number | undefined;
  readonly recipeDemos?: number | undefined;
  readonly recipeSpace?: RecipeSpaceName | undefined;
  readonly evalTasks?: number | undefined;
  readonly heldOut?: HeldOutSetName | undefined;
  readonly init?: string | undefined;
  readonly pretrainPeople?: number | undefined;
  readonly vocabSize?: number | undefined;
  readonly copyDemos?: number | undefined;
  readonly evalPeople?: number | undefined;
  readonly json: boolean;
  readonly backend: z.infer<typeof BackendOption>;
}

/** Flags override the config file; the merged config is validated once, naming the field. */
export function gridPretrainConfig(o: GridPretrainOptions): GridPretrainConfig {
  for (const [flag, name] of Object.entries(PEOPLE_FLAG_NAMES))
    if (o[flag as keyof typeof PEOPLE_FLAG_NAMES] !== undefined)
      throw new UsageError(`${name} is a people-world option (not for --domain grids)`);
  const c = readJsonConfig(GridPretrainConfigSchema, o.config);
  const merged = {
    ...c,
    world: {
      ...c.world,
      ...(o.pretrainTasks === undefined ? {} : { pretrainTasks: o.pretrainTasks }),
      ...(o.worldSeed === undefined ? {} : { seed: o.worldSeed }),
      ...(o.heldOut === undefined ? {} : { heldOut: o.heldOut }),
    },
    model: {
      ...c.model,
      ...(o.dim === undefined ? {} : { dim: o.dim }),
      ...(o.layers === undefined ? {} : { nLayers: o.layers }),
    },
    train: {
      ...c.train,
      ...(o.steps === undefined ? {} : { steps: o.steps }),
      ...(o.batchSize === undefined ? {} : { batchSize: o.batchSize }),
      ...(o.lr === undefined ? {} : { lr: o.lr }),
    },
    ...(o.recipeDemos === undefined ? {} : { recipeDemos: o.recipeDemos }),
    ...(o.recipeSpace === undefined ? {} : { recipeSpace: o.recipeSpace }),
    ...(o.evalTasks === undefined ? {} : { evalTasks: o.evalTasks }),
    ...(o.init === undefined ? {} : { init: o.init }),
  };
  try {
    return validate(GridPretrainConfigSchema, merged, o.config ?? 'pretrain flags');
  } catch (e) {
    if (o.config === undefined && e instanceof SealError) throw new UsageError(e.message);
    throw e;
  }
}

/** Runs the grid pretraining (the output directory was checked by the caller); Ctrl-C saves a checkpoint. */
export async function pretrainGrids(o: GridPretrainOptions): Promise<void> {
  const cfg = gridPretrainConfig(o);
  await initEngine(o.backend);
  let stop = false;
  const onSig = () => {
    if (stop) process.exit(130);
    stop = true;
    log('\nstopping after this step (Ctrl-C again to abort without a checkpoint)…');
  };
  process.on('SIGINT', onSig);
  try {
    const report = await pretrainGridModel(cfg, o.out, {
      shouldStop: () => stop,
      command: `seal pretrain ${process.argv.slice(3).join(' ')}`,
    });
    if (report === undefined) {
      process.exitCode = 130;
      return;
    }
    log(gridReportLine(report));
    if (o.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } finally {
    process.off('SIGINT', onSig);
  }
}
