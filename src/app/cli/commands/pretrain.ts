import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { initEngine } from '../../../engine/index.js';
import { SealError } from '../../../errors.js';
import { GridPretrainConfigSchema } from '../../../seal/domains/grids-pretrain.js';
import {
  type PretrainConfig,
  PretrainConfigSchema,
  pretrainPeopleModel,
} from '../../../seal/domains/people-pretrain.js';
import { checkOutputDir } from '../../../util/fs.js';
import { validate } from '../../../util/json.js';
import type { Command } from '../args.js';
import { readJsonConfig, UsageError } from '../args.js';
import { BackendOption, log } from './common.js';
import { GRID_FLAG_NAMES, GridPretrainFlags, pretrainGrids } from './pretrain-grids.js';

/** --help quotes the pretraining defaults from their one source, the config schema. */
const D = PretrainConfigSchema.parse({});
const G = GridPretrainConfigSchema.parse({});
/** ` (default P)` of a flag both worlds read, with the grid world's default where it differs. */
const both = (people: number, grids: number) =>
  `(default ${people}${people === grids ? '' : `; --domain grids ${grids}`})`;

const schema = z.object({
  domain: z
    .enum(['people', 'grids'])
    .default('people')
    .describe('Which base model: the people world (knowledge) or the grid world (few-shot grid puzzles)'),
  out: z
    .string()
    .describe('Output directory: model/ (Hugging Face format + manifest), checkpoint/, report.json'),
  config: z
    .string()
    .optional()
    .describe('JSON file with a pretraining config (fields of --help below override it)'),
  steps: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe(`Training steps ${both(D.train.steps, G.train.steps)}`),
  pretrainPeople: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe(`People world: people in the pretraining split (default ${D.world.pretrainPeople})`),
  worldSeed: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe(`World seed ${both(D.world.seed, G.world.seed)}`),
  dim: z
    .number()
    .int()
    .min(8)
    .optional()
    .describe(`Model hidden size ${both(D.model.dim, G.model.dim)}`),
  layers: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe(`Transformer blocks ${both(D.model.nLayers, G.model.nLayers)}`),
  vocabSize: z
    .number()
    .int()
    .min(300)
    .optional()
    .describe(
      `People world: BPE vocabulary size (default ${D.vocabSize}: names become single tokens, which the model can copy)`,
    ),
  copyDemos: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe(`People world: self-edit demonstrations about demo-only people (default ${D.copyDemos})`),
  batchSize: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe(`Sequences per step ${both(D.train.batchSize, G.train.batchSize)}`),
  lr: z
    .number()
    .positive()
    .optional()
    .describe(`Peak learning rate ${both(D.train.lr, G.train.lr)}`),
  evalPeople: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe(`People world: people per split for the final QA evaluation (default ${D.evalPeople})`),
  ...GridPretrainFlags,
  resume: z.boolean().default(false).describe('Continue the run in --out from its last checkpoint'),
  json: z.boolean().default(false).describe('Print the final report as JSON on stdout'),
  backend: BackendOption,
});

export const pretrainCommand: Command<typeof schema> = {
  name: 'pretrain',
  summary:
    'Pretrain a base model on the people world or (--domain grids) the grid world (resumable; Ctrl-C saves a checkpoint).',
  schema,
  examples: [
    'seal pretrain --out runs/pretrain-default',
    'seal pretrain --out runs/pretrain-default --resume',
    'seal pretrain --domain grids --out runs/pretrain-grids',
  ],
  async run(o) {
    if (o.resume) {
      if (!existsSync(join(o.out, 'checkpoint', 'state.json')))
        throw new UsageError(
          `--resume: ${o.out} holds no pretraining checkpoint (checkpoint/state.json); drop --resume to start a new run there`,
        );
    } else if (existsSync(o.out) && statSync(o.out).isDirectory() && readdirSync(o.out).length > 0)
      throw new UsageError(
        `--out ${o.out} exists and is not empty: pass --resume to continue it, or choose another directory`,
      );
    else checkOutputDir(o.out, 'pretrain', false);
    if (o.domain === 'grids') {
      await pretrainGrids(o);
      return;
    }
    for (const [flag, name] of Object.entries(GRID_FLAG_NAMES))
      if (o[flag as keyof typeof GridPretrainFlags] !== undefined)
        throw new UsageError(`${name} is a grid-world option: add --domain grids`);
    const c = readJsonConfig(PretrainConfigSchema, o.config);
    // Flags override the file; the merged config is validated once, naming the field (a flag or the file's).
    const merged = {
      ...c,
      world: {
        ...c.world,
        ...(o.pretrainPeople === undefined ? {} : { pretrainPeople: o.pretrainPeople }),
        ...(o.worldSeed === undefined ? {} : { seed: o.worldSeed }),
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
      ...(o.vocabSize === undefined ? {} : { vocabSize: o.vocabSize }),
      ...(o.copyDemos === undefined ? {} : { copyDemos: o.copyDemos }),
      ...(o.evalPeople === undefined ? {} : { evalPeople: o.evalPeople }),
    };
    let cfg: PretrainConfig;
    try {
      cfg = validate(PretrainConfigSchema, merged, o.config ?? 'pretrain flags');
    } catch (e) {
      // Without a file the bad value came from a flag: a usage error (exit 2).
      if (o.config === undefined && e instanceof SealError) throw new UsageError(e.message);
      throw e;
    }
    await initEngine(o.backend);
    let stop = false;
    const onSig = () => {
      if (stop) process.exit(130);
      stop = true;
      log('\nstopping after this step (Ctrl-C again to abort without a checkpoint)…');
    };
    process.on('SIGINT', onSig);
    try {
      const report = await pretrainPeopleModel(cfg, o.out, {
        shouldStop: () => stop,
        command: `seal pretrain ${process.argv.slice(3).join(' ')}`,
      });
      if (report === undefined) {
        process.exitCode = 130;
        return;
      }
      const line = `params ${report.params}, ${report.steps} steps, ${report.wallS.toFixed(0)} s, loss ${report.lossEma.toFixed(4)}; QA: pretrain (QA-trained) ${(100 * report.qa.pretrainQaTrained).toFixed(1)}%, pretrain (extraction) ${(100 * report.qa.pretrainExtraction).toFixed(1)}%, val people (no adaptation) ${(100 * report.qa.val).toFixed(1)}%; held-out wordings ${(100 * report.qa.heldOutWordings.pretrainQaTrained).toFixed(1)}% / ${(100 * report.qa.heldOutWordings.pretrainExtraction).toFixed(1)}% / ${(100 * report.qa.heldOutWordings.val).toFixed(1)}%`;
      log(line);
      if (o.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    } finally {
      process.off('SIGINT', onSig);
    }
  },
};
