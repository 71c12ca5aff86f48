import { join } from 'node:path';
import { z } from 'zod';
import { engineInfo } from '../../engine/index.js';
import { generate } from '../../model/generate.js';
import { Transformer } from '../../model/model.js';
import { copyDemos, peopleSelfEditPrompt, selfEditDemos } from '../../tasks/people/selfedit.js';
import { peopleTask, pretrainDocuments } from '../../tasks/people/task.js';
import { answerPrompt, answerStop } from '../../tasks/people/text.js';
import { generateWorld, WorldConfigSchema } from '../../tasks/people/world.js';
import { exactMatchScorer } from '../../tasks/squad-score.js';
import type { Context } from '../../tasks/types.js';
import { trainByteLevelBpe } from '../../tokenizer/bpe-train.js';
import { HfTokenizer, serializeTokenizerJson } from '../../tokenizer/hf.js';
import type { Tokenizer } from '../../tokenizer/types.js';
import { packDocumentsAligned } from '../../train/data.js';
import { TrainConfigSchema, trainLoop } from '../../train/loop.js';
import { Rng } from '../../util/rng.js';
import { answerQuestions, meanScore } from '../inner/qa-eval.js';
import { lossEma, smallLlamaConfig, writePretrainOutput } from './pretrain-model.js';

export const EOS_TOKEN = '<|endoftext|>';

/**
 * A nested config whose own defaults differ from its schema's: a partial object (or none) is merged over `defaults`
 * field by field, so {"train": {"steps": 40}} keeps every other pretraining default instead of failing.
 */
function withDefaults<S extends z.ZodType>(defaults: Record<string, unknown>, schema: S) {
  return z.preprocess(
    (v) => (v === undefined ? defaults : typeof v === 'object' && v !== null ? { ...defaults, ...v } : v),
    schema,
  );
}

export const PretrainConfigSchema = z
  .strictObject({
    world: withDefaults({ pretrainPeople: 200, biosPerPerson: 10 }, WorldConfigSchema).describe(
      'The people world (seed and sizes); 200 pretraining people with 10 augmented biographies each by default',
    ),
    demosPerStyle: z
      .number()
      .int()
      .min(0)
      .default(1)
      .describe('Self-edit demonstrations per pretraining person and prompt style'),
    copyDemos: z
      .number()
      .int()
      .min(0)
      .default(6000)
      .describe(
        'Demonstrations about demo-only people (facts readable only from the passage: teaches copying)',
      ),
    qaWordings: z
      .enum(['all', 'canonical'])
      .default('all')
      .describe(
        "Wordings of the QA people's questions: all tiers (demo, reward, held-out: held-out wordings become answerable for known people) or only the canonical one (models before issue #15)",
      ),
    vocabSize: z
      .number()
      .int()
      .min(300)
      .default(6144)
      .describe('BPE vocabulary size (incl. 256 bytes and specials)'),
    model: z
      .strictObject({
        dim: z.number().int().min(8).default(128).describe('Hidden size'),
        nLayers: z.number().int().min(1).default(4).describe('Transformer blocks'),
        nHeads: z.number().int().min(1).default(4).describe('Attention heads'),
        hiddenDim: z.number().int().min(8).default(352).describe('SwiGLU inner size'),
        maxSeqLen: z.number().int().min(16).default(256).describe('Context length'),
        seed: z.number().int().min(0).default(0).describe('Seed of the weight initialisation'),
      })
      .default({ dim: 128, nLayers: 4, nHeads: 4, hiddenDim: 352, maxSeqLen: 256, seed: 0 }),
    train: withDefaults(
      {
        steps: 8000,
        batchSize: 8,
        seqLen: 256,
        lr: 3e-3,
        schedule: { kind: 'cosine', warmupSteps: 100, minLrRatio: 0.1 },
        checkpointEvery: 250,
      },
      TrainConfigSchema,
    ),
    evalPeople: z
      .number()
      .int()
      .min(0)
      .default(40)
      .describe('People per split evaluated by no-context QA at the end'),
  })
  .superRefine((c, ctx) => {
    const m = c.model;
    if (m.dim % m.nHeads !== 0 || (m.dim / m.nHeads) % 2 !== 0)
      ctx.addIssue({
        code: 'custom',
        path: ['model', 'dim'],
        message: `${m.dim} must be a multiple of 2 × nHeads (${2 * m.nHeads}): each of the ${m.nHeads} heads needs an even size for RoPE`,
      });
    if (c.train.seqLen > m.maxSeqLen)
      ctx.addIssue({
        code: 'custom',
        path: ['train', 'seqLen'],
        message: `${c.train.seqLen} exceeds the model's context model.maxSeqLen (${m.maxSeqLen})`,
      });
    const bytes = pretrainBytes(c);
    if (bytes > TRAIN_MEMORY_LIMIT)
      ctx.addIssue({
        code: 'custom',
        path: ['model'],
        message: `~${formatCount(pretrainParams(c))} parameters and a batch of ${c.train.batchSize}×${c.train.seqLen} need ~${formatCount(bytes / 2 ** 30)} GiB to train, more than the engine's ${TRAIN_MEMORY_LIMIT / 2 ** 30} GiB heap: use a smaller model or batch`,
      });
  });
export type PretrainConfig = z.infer<typeof PretrainConfigSchema>;

const formatCount = (n: number): string =>
  n >= 1e12
    ? n.toExponential(1)
    : n >= 1e9
      ? `${(n / 1e9).toFixed(1)}B`
      : n >= 1e6
        ? `${(n / 1e6).toFixed(1)}M`
        : n.toFixed(1);

/** tfjs-wasm addresses at most 4 GiB; leave room for the corpus, the tokenizer and the allocator. */
const TRAIN_MEMORY_LIMIT = 3 * 2 ** 30;

/** Parameters of the model a pretraining config builds (tied embeddings, SwiGLU, RMSNorm). */
export function pretrainParams(c: Pick<PretrainConfig, 'model' | 'vocabSize'>): number {
  const { dim, nLayers, hiddenDim } = c.model;
  return c.vocabSize * dim + nLayers * (4 * dim * dim + 3 * dim * hiddenDim + 2 * dim) + dim;
}

/**
 * Bytes needed to train it, estimated up front so an impossible config is refused before any allocation: weights,
 * gradients and two AdamW moments (4 × 4 bytes a parameter), plus activations of one batch (per token and layer
 * ~16 vectors of width dim and the SwiGLU's 3 of hiddenDim, and the logits over the vocabulary).
 */
export function pretrainBytes(c: Pick<PretrainConfig, 'model' | 'vocabSize' | 'train'>): number {
  const tokens = c.train.batchSize * c.train.seqLen;
  const perToken = c.model.nLayers * (16 * c.model.dim + 3 * c.model.hiddenDim) + 2 * c.vocabSize;
  return 16 * pretrainParams(c) + 4 * tokens * perToken;
}

export interface PretrainReport {
  readonly params: number;
  readonly tokens: number;
  readonly steps: number;
  readonly wallS: number;
  readonly finalLoss: number;
  readonly lossEma: number;
  readonly qa: {
    readonly pretrainQaTrained: number;
    readonly pretrainExtraction: number;
    /** Validation people (never the test split) before any adaptation. */
    readonly val: number;
    /** The same people asked in the held-out wordings. */
    readonly heldOutWordings: {
      readonly pretrainQaTrained: number;
      readonly pretrainExtraction: number;
      readonly val: number;
    };
    readonly n: Record<string, number>;
  };
  readonly samples: readonly {
    readonly contextId: string;
    readonly prompt: string;
    readonly selfEdit: string;
  }[];
}

export function buildTokenizer(
  texts: readonly string[],
  vocabSize: number,
): { tok: HfTokenizer; json: Record<string, unknown> } {
  const bpe = trainByteLevelBpe(texts, { vocabSize, specialTokens: [EOS_TOKEN], specialTokensAt: 'start' });
  const eos = bpe.specialIds[EOS_TOKEN] as number;
  const config = { bos_token: EOS_TOKEN, eos_token: EOS_TOKEN, clean_up_tokenization_spaces: false };
  return {
    tok: new HfTokenizer(bpe.json, config, 'people tokenizer', { bosId: eos, eosId: eos }),
    json: bpe.json,
  };
}

/** QA accuracy (exact match, no context) on a sample of contexts. */
export function qaAccuracy(model: Transformer, tok: Tokenizer, contexts: readonly Context[]): number {
  const task = {
    answerPrompt: (_: unknown, q: { question: string }) => answerPrompt(q.question),
    answerStop,
    scorer: exactMatchScorer,
  };
  return meanScore(answerQuestions(model, tok, task, contexts));
}

/** The contexts with their held-out-wording questions as the questions asked. */
const heldOutOnly = (contexts: readonly Context[]): Context[] =>
  contexts.map((c) => ({ ...c, questions: c.heldOutQuestions ?? [] }));

export async function pretrainPeopleModel(
  cfg: PretrainConfig,
  outDir: string,
  opts: { readonly quiet?: boolean; readonly shouldStop?: () => boolean; readonly command?: string } = {},
): Promise<PretrainReport | undefined> {
  const t0 = performance.now();
  const world = generateWorld(cfg.world);
  const docs = pretrainDocuments(world, new Rng(cfg.world.seed), {
    extraSources: [selfEditDemos({ perStyle: cfg.demosPerStyle }), copyDemos(cfg.copyDemos)],
    qaWordings: cfg.qaWordings,
  });
  const texts = docs.map((d) => d.text);
  const { tok, json } = buildTokenizer(texts, cfg.vocabSize);
  const eos = tok.eosId as number;
  const order = new Rng(cfg.train.seed + 17).shuffle(texts.map((_, i) => i));
  // Aligned packing: a self-edit demonstration must see its whole passage, or it teaches recitation, not copying.
  // Every document follows EOS (= BOS) and sits anywhere in its window, as prompts do at inference; with short QA
  // documents left as end-of-window filler the model learnt to answer only deep into a window (11.7% QA).
  const examples = packDocumentsAligned(
    order.map((i) => tok.encode(texts[i] as string)),
    cfg.train.seqLen,
    eos,
    { bos: true, rng: new Rng(cfg.train.seed + 29) },
  );
  const tokens = examples.length * cfg.train.seqLen;
  const config = smallLlamaConfig(cfg.model, tok.vocabSize, eos, 'pretrain config');
  const model = Transformer.init(config, cfg.model.seed);
  const log = (m: string) => {
    if (opts.quiet !== true) process.stderr.write(`${m}\n`);
  };
  log(
    `people world: ${docs.length} documents, ${texts.reduce((s, t) => s + t.length, 0)} chars; tokenizer ${tok.vocabSize} tokens; ${examples.length} sequences × ${cfg.train.seqLen} (${tokens} tokens/epoch); model ${model.numParams.toLocaleString('en-US')} params; engine ${engineInfo().backend}${engineInfo().native.available ? '+native' : ''}`,
  );
  const result = await trainLoop(model, model.params, examples, cfg.train, {
    checkpointDir: join(outDir, 'checkpoint'),
    label: 'pretrain',
    ...(opts.command === undefined ? {} : { command: opts.command }),
    ...(opts.quiet === undefined ? {} : { quiet: opts.quiet }),
    ...(opts.shouldStop === undefined ? {} : { shouldStop: opts.shouldStop }),
  });
  if (result.stopped) {
    log(`stopped at step ${result.steps}; resume with the same command`);
    model.dispose();
    return undefined;
  }
  const task = peopleTask(world);
  const qaSet = new Set(world.qaPeople);
  const pre = task.splits['pretrain'] ?? [];
  const n = cfg.evalPeople;
  const trained = pre.filter((c) => qaSet.has(c.id)).slice(0, n);
  const extraction = pre.filter((c) => !qaSet.has(c.id)).slice(0, n);
  // Validation people: the pretraining report never reads the test split.
  const evalCtx = (task.splits['val'] ?? []).slice(0, n);
  const qa = {
    pretrainQaTrained: qaAccuracy(model, tok, trained),
    pretrainExtraction: qaAccuracy(model, tok, extraction),
    val: qaAccuracy(model, tok, evalCtx),
    heldOutWordings: {
      pretrainQaTrained: qaAccuracy(model, tok, heldOutOnly(trained)),
      pretrainExtraction: qaAccuracy(model, tok, heldOutOnly(extraction)),
      val: qaAccuracy(model, tok, heldOutOnly(evalCtx)),
    },
    n: { pretrainQaTrained: trained.length, pretrainExtraction: extraction.length, val: evalCtx.length },
  };
  const sampleCtx = evalCtx.slice(0, 5);
  const prompts = sampleCtx.map((c) => peopleSelfEditPrompt(c.title, c.passage, 'implications'));
  const gen = generate(
    model,
    prompts.map((p) => tok.encode(p, { addBos: true })),
    { maxNewTokens: 160, temperature: 1, topP: 0.95, seed: 1, tokenizer: tok },
  );
  const samples = sampleCtx.map((c, i) => ({
    contextId: c.id,
    prompt: prompts[i] as string,
    selfEdit: gen.text?.[i] ?? '',
  }));
  const wallS = (performance.now() - t0) / 1000;
  const report: PretrainReport = {
    params: model.numParams,
    tokens,
    steps: result.steps,
    wallS,
    finalLoss: result.finalLoss,
    lossEma: lossEma(result.losses),
    qa,
    samples,
  };
  await writePretrainOutput(model, outDir, {
    name: 'seal-people-default',
    command: opts.command ?? 'seal pretrain',
    stages: result.stages,
    config: cfg,
    extraFiles: {
      'tokenizer.json': serializeTokenizerJson(json),
      'tokenizer_config.json': `${JSON.stringify({ bos_token: EOS_TOKEN, eos_token: EOS_TOKEN, clean_up_tokenization_spaces: false, model_max_length: config.maxSeqLen, tokenizer_class: 'PreTrainedTokenizerFast' }, null, 2)}\n`,
      'seal_world.json': `${JSON.stringify(cfg.world, null, 2)}\n`,
    },
    report,
    manifestReport: { ...report, samples: undefined },
  });
  model.dispose();
  return report;
}
