import { join } from 'node:path';
import { z } from 'zod';
import { engineInfo } from '../../engine/index.js';
import { SealError } from '../../errors.js';
import type { ModelConfig } from '../../model/config.js';
import { loadModel } from '../../model/io/load.js';
import { Transformer } from '../../model/model.js';
import type { GridPair } from '../../tasks/grids/grid.js';
import {
  formatRecipe,
  namedRecipeSpace,
  pairsToSegments,
  RECIPE_SPACE_NAMES,
  recipeAnswerText,
  recipePrompt,
  recipeSpaceSizes,
} from '../../tasks/grids/recipe.js';
import {
  type GridWorld,
  GridWorldConfigSchema,
  generateGridWorld,
  type WorldTask,
} from '../../tasks/grids/world.js';
import { charTokenizerConfig } from '../../tokenizer/char.js';
import { serializeTokenizerJson } from '../../tokenizer/hf.js';
import { loadTokenizer } from '../../tokenizer/load.js';
import type { Tokenizer } from '../../tokenizer/types.js';
import { type Example, packMaskedDocuments } from '../../train/data.js';
import { TrainConfigSchema, trainLoop } from '../../train/loop.js';
import { Rng } from '../../util/rng.js';
import { type LossSegment, trainingExample } from '../inner/inner-loop.js';
import {
  GRID_MODEL_ALPHABET,
  GRID_WORLD_FILE,
  gridTokenizer,
  isGridModelDir,
  solveTasks,
  writeRecipes,
} from './grids-model.js';
import { pretrainBytes } from './people-pretrain.js';
import { lossEma, smallLlamaConfig, writePretrainOutput } from './pretrain-model.js';

/** tfjs-wasm addresses at most 4 GiB; leave room for the corpus and the allocator (as the people model does). */
const TRAIN_MEMORY_LIMIT = 3 * 2 ** 30;

/** A partial nested config is merged over its defaults field by field (as the people pretraining config does). */
function withDefaults<S extends z.ZodType>(defaults: Record<string, unknown>, schema: S) {
  return z.preprocess(
    (v) => (v === undefined ? defaults : typeof v === 'object' && v !== null ? { ...defaults, ...v } : v),
    schema,
  );
}

export const GridPretrainConfigSchema = z
  .strictObject({
    world: withDefaults({ pretrainTasks: 100_000 }, GridWorldConfigSchema).describe(
      'The grid world (seed and split sizes); the base model is pretrained on its pretrain split only',
    ),
    loss: z
      .enum(['outputs', 'all'])
      .default('outputs')
      .describe('Pretraining loss on the output grids only (inputs are random) or on every token'),
    recipeDemos: z
      .number()
      .int()
      .min(0)
      .default(5000)
      .describe(
        'Recipe-writing demonstrations (a pretraining task and a recipe drawn uniformly from the recipe space)',
      ),
    recipeSpace: z
      .enum(RECIPE_SPACE_NAMES)
      .default('default')
      .describe(
        `The recipes the demonstrations draw from, so the recipes the model writes (tasks/grids/recipe.ts RECIPE_SPACES: ${recipeSpaceSizes()} recipes; wide adds more copies, lr 1e-2 and 16 epochs); the grid table sweeps the same space for its oracle and best fixed recipe`,
      ),
    init: z
      .string()
      .min(1)
      .optional()
      .describe(
        'A grid model directory whose weights start the training (continued pretraining, e.g. to teach a new recipe space); its architecture must equal `model` and its tokenizer the grid tokenizer. Absent: random weights (model.seed)',
      ),
    model: z
      .strictObject({
        dim: z.number().int().min(8).default(128).describe('Hidden size'),
        nLayers: z.number().int().min(1).default(4).describe('Transformer blocks'),
        nHeads: z.number().int().min(1).default(4).describe('Attention heads'),
        hiddenDim: z.number().int().min(8).default(352).describe('SwiGLU inner size'),
        maxSeqLen: z.number().int().min(16).default(512).describe('Context length (a world task is ≤ 512)'),
        seed: z.number().int().min(0).default(0).describe('Seed of the weight initialisation'),
      })
      .default({ dim: 128, nLayers: 4, nHeads: 4, hiddenDim: 352, maxSeqLen: 512, seed: 0 }),
    train: withDefaults(
      {
        steps: 24_000,
        batchSize: 8,
        seqLen: 512,
        lr: 3e-3,
        schedule: { kind: 'cosine', warmupSteps: 100, minLrRatio: 0.1 },
        checkpointEvery: 250,
      },
      TrainConfigSchema,
    ),
    evalTasks: z
      .number()
      .int()
      .min(0)
      .default(64)
      .describe(
        'Tasks per family group for the report (fresh pretraining-family tasks; held-out: the val split)',
      ),
  })
  .superRefine((c, ctx) => {
    const m = c.model;
    if (m.dim % m.nHeads !== 0 || (m.dim / m.nHeads) % 2 !== 0)
      ctx.addIssue({
        code: 'custom',
        path: ['model', 'dim'],
        message: `${m.dim} must be a multiple of 2 × nHeads (${2 * m.nHeads}): each head needs an even size for RoPE`,
      });
    if (c.train.seqLen > m.maxSeqLen)
      ctx.addIssue({
        code: 'custom',
        path: ['train', 'seqLen'],
        message: `${c.train.seqLen} exceeds the model's context model.maxSeqLen (${m.maxSeqLen})`,
      });
    // The same up-front memory check as the people model (a character vocabulary is under 64 tokens).
    const bytes = pretrainBytes({ model: c.model, vocabSize: 64, train: c.train });
    if (bytes > TRAIN_MEMORY_LIMIT)
      ctx.addIssue({
        code: 'custom',
        path: ['model'],
        message: `this model and a batch of ${c.train.batchSize}×${c.train.seqLen} need ~${(bytes / 2 ** 30).toFixed(1)} GiB to train, more than the engine's ${TRAIN_MEMORY_LIMIT / 2 ** 30} GiB heap: use a smaller model or batch`,
      });
  });
export type GridPretrainConfig = z.output<typeof GridPretrainConfigSchema>;

/** The pretraining documents: solve documents of every pretraining task, then the recipe demonstrations. */
export function gridPretrainDocuments(
  world: GridWorld,
  cfg: Pick<GridPretrainConfig, 'loss' | 'recipeDemos' | 'recipeSpace'>,
  rng: Rng,
): (readonly LossSegment[])[] {
  const tasks = world.splits.pretrain;
  const docs: (readonly LossSegment[])[] = tasks.map((t) =>
    pairsToSegments([...t.train, ...(t.test as readonly GridPair[])], cfg.loss),
  );
  const space = namedRecipeSpace(cfg.recipeSpace);
  for (let i = 0; i < cfg.recipeDemos && tasks.length > 0; i++) {
    const t = tasks[i % tasks.length]!;
    docs.push([
      { text: recipePrompt(t), train: false },
      { text: recipeAnswerText(rng.pick(space)), train: true },
    ]);
  }
  return docs;
}

/** The training windows of the documents, in a seeded order (each document once, none cut). */
export function packGridDocuments(
  tok: Tokenizer,
  docs: readonly (readonly LossSegment[])[],
  seqLen: number,
  rng: Rng,
): { examples: Example[]; dropped: number } {
  const eos = tok.eosId;
  if (eos === undefined) throw new Error('grid pretraining needs a tokenizer with EOS');
  const order = rng.shuffle(docs.map((_, i) => i));
  // trainingExample gives BOS, the segments, EOS: drop the BOS (the previous document's EOS stands in for it).
  const encoded = order.map((i) => {
    const e = trainingExample(tok, docs[i]!);
    return { ids: e.ids.slice(1), targetMask: (e.targetMask ?? []).slice(1) };
  });
  return packMaskedDocuments(encoded, seqLen, eos);
}

/** Offset of the world seed of the report's fresh pretraining-family tasks. */
const EVAL_WORLD_OFFSET = 7_919;

/** Fresh pretraining-family tasks (none of them in the world) for measuring in-context accuracy. */
export function pretrainFamilyEvalTasks(world: GridWorld, count: number): WorldTask[] {
  if (count <= 0) return [];
  const taken = new Set(Object.values(world.splits).flatMap((s) => s.map((t) => t.hash)));
  const fresh = generateGridWorld({
    ...world.config,
    seed: world.config.seed + EVAL_WORLD_OFFSET,
    pretrainTasks: count + 32,
    rlTasks: 0,
    valTasks: 0,
    testTasks: 0,
  });
  return fresh.splits.pretrain.filter((t) => !taken.has(t.hash)).slice(0, count);
}

export interface FamilyAccuracy {
  readonly accuracy: number;
  readonly n: number;
  readonly perFamily: Readonly<Record<string, number>>;
}

/** In-context accuracy of `tasks`, overall and per family. */
export function familyAccuracy(
  model: Transformer,
  tok: Tokenizer,
  tasks: readonly WorldTask[],
): FamilyAccuracy {
  const solved = solveTasks(model, tok, tasks);
  const sums = new Map<string, { s: number; n: number }>();
  tasks.forEach((t, i) => {
    const e = sums.get(t.family) ?? { s: 0, n: 0 };
    sums.set(t.family, { s: e.s + solved[i]!.score, n: e.n + 1 });
  });
  const perFamily: Record<string, number> = {};
  for (const [f, { s, n }] of [...sums].sort()) perFamily[f] = s / n;
  const total = solved.reduce((s, r) => s + r.score, 0);
  return { accuracy: tasks.length === 0 ? 0 : total / tasks.length, n: tasks.length, perFamily };
}

export interface GridPretrainReport {
  readonly params: number;
  readonly documents: number;
  readonly windows: number;
  readonly droppedDocuments: number;
  readonly tokens: number;
  readonly steps: number;
  readonly wallS: number;
  readonly finalLoss: number;
  readonly lossEma: number;
  /** In-context accuracy (no adaptation): fresh pretraining-family tasks vs the held-out families' val split. */
  readonly icl: { readonly pretrainFamilies: FamilyAccuracy; readonly heldOutFamilies: FamilyAccuracy };
  /** Recipes sampled (T = 1, top-p 0.95) on the val split: how many parse, and how many distinct ones. */
  readonly recipes: {
    readonly n: number;
    readonly wellFormed: number;
    readonly distinct: number;
    readonly samples: readonly string[];
  };
}

/** The fields of a model config that must match for a grid model to continue as another's starting weights. */
const SHAPE_FIELDS = ['vocabSize', 'dim', 'nLayers', 'nHeads', 'nKvHeads', 'hiddenDim', 'maxSeqLen'] as const;

/**
 * The weights of a grid model directory as the start of a pretraining run: refused (naming the directory and the
 * field) unless it is a grid model whose shape equals `config` and whose tokenizer encodes the grid
 * alphabet exactly as `tok` does.
 */
async function initialWeights(dir: string, config: ModelConfig, tok: Tokenizer): Promise<Transformer> {
  if (!isGridModelDir(dir))
    throw new SealError('init: not a grid model directory (no seal_grid_world.json)', dir);
  const { model } = await loadModel(dir);
  try {
    const theirs = loadTokenizer(dir, { vocabSize: model.config.vocabSize });
    if (theirs.encode(GRID_MODEL_ALPHABET).join() !== tok.encode(GRID_MODEL_ALPHABET).join())
      throw new SealError('init: its tokenizer is not the grid tokenizer', dir);
    for (const f of SHAPE_FIELDS)
      if (model.config[f] !== config[f])
        throw new SealError(`init: ${f} is ${model.config[f]}, the config's model has ${config[f]}`, dir);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

export async function pretrainGridModel(
  cfg: GridPretrainConfig,
  outDir: string,
  opts: { readonly quiet?: boolean; readonly shouldStop?: () => boolean; readonly command?: string } = {},
): Promise<GridPretrainReport | undefined> {
  const t0 = performance.now();
  const log = (m: string) => {
    if (opts.quiet !== true) process.stderr.write(`${m}\n`);
  };
  const { tok, json } = gridTokenizer();
  const eos = tok.eosId as number;
  const config = smallLlamaConfig(cfg.model, tok.vocabSize, eos, 'grid pretrain config');
  // The starting weights first: a bad init directory fails before the world is drawn (~40 s for 100,000 tasks).
  const model =
    cfg.init === undefined
      ? Transformer.init(config, cfg.model.seed)
      : await initialWeights(cfg.init, config, tok);
  const world = generateGridWorld(cfg.world);
  const docs = gridPretrainDocuments(world, cfg, new Rng(cfg.world.seed + 11));
  const { examples, dropped } = packGridDocuments(tok, docs, cfg.train.seqLen, new Rng(cfg.train.seed + 17));
  const tokens = examples.length * cfg.train.seqLen;
  log(
    `grid world: ${world.splits.pretrain.length} pretraining tasks + ${cfg.recipeDemos} recipe demonstrations = ${docs.length} documents (${dropped} too long); ${examples.length} windows × ${cfg.train.seqLen} (${tokens} tokens/epoch, ${((cfg.train.steps * cfg.train.batchSize) / Math.max(1, examples.length)).toFixed(2)} epochs); tokenizer ${tok.vocabSize} characters; model ${model.numParams.toLocaleString('en-US')} params; engine ${engineInfo().backend}${engineInfo().native.available ? '+native' : ''}`,
  );
  const result = await trainLoop(model, model.params, examples, cfg.train, {
    checkpointDir: join(outDir, 'checkpoint'),
    label: 'pretrain grids',
    ...(opts.command === undefined ? {} : { command: opts.command }),
    ...(opts.quiet === undefined ? {} : { quiet: opts.quiet }),
    ...(opts.shouldStop === undefined ? {} : { shouldStop: opts.shouldStop }),
  });
  if (result.stopped) {
    log(`stopped at step ${result.steps}; resume with the same command`);
    model.dispose();
    return undefined;
  }
  // The report reads fresh pretraining-family tasks and the val split, never the test split.
  const icl = {
    pretrainFamilies: familyAccuracy(model, tok, pretrainFamilyEvalTasks(world, cfg.evalTasks)),
    heldOutFamilies: familyAccuracy(model, tok, world.splits.val.slice(0, cfg.evalTasks)),
  };
  const recipeTasks = world.splits.val.slice(0, Math.max(1, Math.min(cfg.evalTasks, 32)));
  const written = writeRecipes(model, tok, recipeTasks, { seed: 1 });
  const ok = written.flatMap((w) => (w.parsed.ok ? [formatRecipe(w.parsed.recipe)] : []));
  const report: GridPretrainReport = {
    params: model.numParams,
    documents: docs.length,
    windows: examples.length,
    droppedDocuments: dropped,
    tokens,
    steps: result.steps,
    wallS: (performance.now() - t0) / 1000,
    finalLoss: result.finalLoss,
    lossEma: lossEma(result.losses),
    icl,
    recipes: {
      n: written.length,
      wellFormed: ok.length,
      distinct: new Set(ok).size,
      samples: written.slice(0, 3).map((w) => w.text),
    },
  };
  await writePretrainOutput(model, outDir, {
    name: 'seal-grids',
    command: opts.command ?? 'seal pretrain --domain grids',
    stages: result.stages,
    config: cfg,
    extraFiles: {
      'tokenizer.json': serializeTokenizerJson(json),
      'tokenizer_config.json': `${JSON.stringify(charTokenizerConfig(config.maxSeqLen), null, 2)}\n`,
      [GRID_WORLD_FILE]: `${JSON.stringify(world.config, null, 2)}\n`,
    },
    report,
    manifestReport: { ...report, recipes: { ...report.recipes, samples: undefined } },
  });
  model.dispose();
  return report;
}

/** One line of the report, for the command's output. */
export function gridReportLine(r: GridPretrainReport): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  return `params ${r.params}, ${r.steps} steps, ${r.wallS.toFixed(0)} s, loss ${r.lossEma.toFixed(4)}; in-context accuracy: pretraining families ${pct(r.icl.pretrainFamilies.accuracy)} (${r.icl.pretrainFamilies.n} tasks), held-out families ${pct(r.icl.heldOutFamilies.accuracy)} (${r.icl.heldOutFamilies.n} val tasks); recipes well-formed ${r.recipes.wellFormed}/${r.recipes.n} (${r.recipes.distinct} distinct)`;
}
