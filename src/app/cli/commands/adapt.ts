import { readFileSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { initEngine } from '../../../engine/index.js';
import { SealError } from '../../../errors.js';
import { LoraConfigSchema, loraTargets } from '../../../lora/config.js';
import { loadAdapter, saveAdapter } from '../../../lora/io.js';
import { loadModel } from '../../../model/io/load.js';
import { checksum } from '../../../model/params.js';
import { editToAdapter, loadEditGenerator } from '../../../seal/delta/io.js';
import { editFor } from '../../../seal/delta/train.js';
import { InnerLoopFlags, innerLoopConfig, trainAdapter } from '../../../seal/inner/inner-loop.js';
import { sampleSelfEdits } from '../../../seal/selfedit/generate.js';
import { selfEditSequences } from '../../../seal/selfedit/parse.js';
import { loadTokenizer } from '../../../tokenizer/load.js';
import { checkOutputDir } from '../../../util/fs.js';
import { resolveModelDir } from '../../config.js';
import { type Command, UsageError } from '../args.js';
import { adaptGrids } from './adapt-grids.js';
import { BackendOption, log } from './common.js';
import { FormatOption, PeoplePromptOption, selfEditPromptFor } from './formats.js';

const schema = z.object({
  domain: z
    .enum(['people', 'grids'])
    .default('people')
    .describe('people: adapt to a document (--passage); grids: test-time training on a grid task (--task)'),
  model: z
    .string()
    .default('default')
    .describe(
      'Base model: a Hugging Face directory with tokenizer.json ("default" = the bundled people model)',
    ),
  passage: z.string().optional().describe('Text file with the new document (people; required there)'),
  task: z
    .string()
    .optional()
    .describe('--domain grids: ARC task file ({train, test}), or a Kaggle challenges file with --id'),
  id: z.string().optional().describe('--domain grids: task id in a Kaggle challenges file'),
  solutions: z.string().optional().describe('--domain grids: Kaggle solutions file for --task/--id'),
  recipe: z
    .string()
    .optional()
    .describe('--domain grids: recipe file to train with (default: the model writes the recipe)'),
  out: z.string().describe('Output adapter directory (PEFT format) + selfedit.txt (grids: recipe.json)'),
  title: z.string().optional().describe('Title of the document (default: its first line)'),
  policy: z
    .string()
    .optional()
    .describe('Generator adapter from `seal train` (default: the base model writes the self-edit)'),
  mode: z
    .enum(['text', 'delta'])
    .default('text')
    .describe(
      'text: the model writes a self-edit and an inner loop trains the adapter; delta: one EditGenerator forward pass',
    ),
  generator: z
    .string()
    .optional()
    .describe('EditGenerator directory for --mode delta (e.g. RUN_DIR/edit-generator from `seal demo`)'),
  format: FormatOption,
  prompt: PeoplePromptOption,
  temperature: z.number().min(0).default(1).describe('Self-edit sampling temperature'),
  topP: z.number().gt(0).max(1).default(0.95).describe('Self-edit nucleus sampling'),
  maxNewTokens: z.number().int().min(1).default(200).describe('Maximum self-edit length'),
  appendPassage: z.boolean().default(true).describe('Also train the adapter on the passage itself'),
  ...InnerLoopFlags,
  seed: z.number().int().min(0).default(0).describe('Seed for sampling and training'),
  overwrite: z.boolean().default(false).describe('Replace an existing adapter directory'),
  backend: BackendOption,
});

export const adaptCommand: Command<typeof schema> = {
  name: 'adapt',
  summary:
    'Adapt a model to a new document: it writes a self-edit, trains a PEFT LoRA adapter on it, saves the adapter.',
  schema,
  examples: [
    'seal adapt --model assets/models/people-default --passage bio.txt --out adapters/bio',
    'seal adapt --domain grids --model runs/pretrain-grids/model --task task.json --out adapters/task',
    'seal adapt --model assets/models/people-default --passage bio.txt --mode delta --generator runs/people-demo-0-…/edit-generator --out adapters/bio-delta',
  ],
  async run(o) {
    if (o.domain === 'grids') {
      await adaptGrids(o);
      return;
    }
    for (const [flag, v] of [
      ['--task', o.task],
      ['--id', o.id],
      ['--solutions', o.solutions],
      ['--recipe', o.recipe],
    ] as const)
      if (v !== undefined) throw new UsageError(`${flag} is a grid option: add --domain grids`);
    if (o.passage === undefined)
      throw new UsageError('--passage is required (or --domain grids with --task)');
    // Everything that can be checked without the model is checked before any work: the output, the passage.
    checkOutputDir(o.out, 'adapter', o.overwrite);
    if (o.mode === 'delta' && o.generator === undefined)
      throw new UsageError('--mode delta needs --generator DIR');
    const passage = readPassage(o.passage);
    const passageFile = o.passage;
    await initEngine(o.backend);
    const title = o.title ?? passage.split(/[\n.]/)[0]!.split(' ').slice(0, 3).join(' ');
    const modelDir = resolveModelDir(o.model);
    const { model } = await loadModel(modelDir);
    const tok = loadTokenizer(modelDir, { vocabSize: model.config.vocabSize });
    if (o.mode === 'text') {
      loraTargets(
        model.config,
        { r: o.rank, targetModules: LoraConfigSchema.parse({}).targetModules },
        '--rank',
      );
      // The self-edit prompt holds the passage: it must leave the model room to write.
      const promptTokens = tok.encode(selfEditPromptFor(o.format, title, passage, o.prompt), {
        addBos: true,
      }).length;
      const room = model.config.maxSeqLen - promptTokens;
      if (room < 16)
        throw new SealError(
          `passage too long for the model: the self-edit prompt is ${promptTokens} tokens and the model's context ${model.config.maxSeqLen} (at least 16 must remain for the self-edit); shorten it or split it into several documents`,
          passageFile,
        );
      if (room < o.maxNewTokens)
        log(
          `note: the model's context leaves room for a self-edit of ${room} tokens, not --max-new-tokens ${o.maxNewTokens}`,
        );
    }
    const before = checksum(model.params);
    const policy = o.policy === undefined ? undefined : await loadAdapter(o.policy, model);
    if (o.mode === 'delta') {
      const gen = await loadEditGenerator(model, o.generator!);
      const t1 = performance.now();
      const { edit, dispose } = editFor({ model, tok }, gen, `${title}\n${passage}`);
      const adapter = editToAdapter(gen, edit);
      const ms = performance.now() - t1;
      dispose();
      gen.dispose();
      await saveAdapter(adapter, model, o.out, {
        baseModel: o.model,
        overwrite: o.overwrite,
        metadata: { seal_mode: 'delta', seal_generator: o.generator! },
      });
      if (checksum(model.params) !== before) throw new Error('base model changed');
      log(`wrote ${o.out} from one EditGenerator forward pass (${ms.toFixed(1)} ms)`);
      return;
    }
    const t0 = performance.now();
    const context = { id: 'doc', title, passage, questions: [] };
    const sampled = sampleSelfEdits(
      model,
      tok,
      [context],
      (c) => selfEditPromptFor(o.format, c.title, c.passage, o.prompt),
      {
        k: 1,
        temperature: o.temperature,
        topP: o.topP,
        maxNewTokens: o.maxNewTokens,
        seed: o.seed,
        ...(policy === undefined ? {} : { deltas: [policy] }),
      },
    );
    const edit = sampled[0]?.[0];
    if (edit === undefined) throw new Error('no self-edit sampled');
    const seqs = selfEditSequences(edit.completion, context, {
      appendPassage: o.appendPassage,
    });
    if (edit.completion.trim() === '' || seqs.length === 0)
      throw new SealError(
        `the model wrote an empty self-edit (${edit.tokens} tokens${edit.finish === 'length' ? ', cut at the length limit' : ''}): no adapter written; try another --seed or --policy`,
        passageFile,
      );
    log(`self-edit (${seqs.length} sequences):\n${edit.completion}\n`);
    const cfg = innerLoopConfig(o);
    const task = { answerPrompt: () => '', answerStop: [], scorer: { name: 'none', score: () => 0 } };
    const { adapter, finalLoss } = trainAdapter({ model, tok, task }, seqs, cfg, o.seed);
    if (adapter === undefined)
      throw new SealError('adapter training diverged (loss is NaN/Inf); try a lower --lr');
    await saveAdapter(adapter, model, o.out, {
      baseModel: o.model,
      overwrite: o.overwrite,
      metadata: { seal_seed: String(o.seed) },
    });
    await writeFile(join(o.out, 'selfedit.txt'), `${edit.completion}\n`);
    if (checksum(model.params) !== before) throw new Error('base model changed');
    log(`wrote ${o.out} (loss ${finalLoss.toFixed(4)}, ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  },
};

/** Passages are documents, not corpora: anything past this many bytes cannot fit any supported model's context. */
const MAX_PASSAGE_BYTES = 1 << 20;

function readPassage(file: string): string {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(file);
  } catch (e) {
    throw new SealError(`cannot read passage: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, file);
  }
  if (!st.isFile()) throw new SealError('passage: expected a text file', file);
  if (st.size > MAX_PASSAGE_BYTES)
    throw new SealError(
      `passage is ${(st.size / 1e6).toFixed(1)} MB; a passage is one document (at most ${MAX_PASSAGE_BYTES / 2 ** 20} MB, and it must fit the model's context)`,
      file,
    );
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new SealError(`cannot read passage: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, file);
  }
  const passage = text.trim();
  if (passage === '') throw new SealError('passage is empty', file);
  return passage;
}
