import { z } from 'zod';
import { initEngine } from '../../../engine/index.js';
import { SealError } from '../../../errors.js';
import { loadAdapter } from '../../../lora/io.js';
import { generate } from '../../../model/generate.js';
import { loadModel } from '../../../model/io/load.js';
import { loadTokenizer } from '../../../tokenizer/load.js';
import { resolveModelDir } from '../../config.js';
import type { Command } from '../args.js';
import { BackendOption } from './common.js';
import { answerPromptFor, FormatOption } from './formats.js';

const schema = z.object({
  model: z
    .string()
    .default('default')
    .describe(
      'Base model: a Hugging Face directory with tokenizer.json ("default" = the bundled people model)',
    ),
  adapter: z.string().optional().describe('PEFT LoRA adapter to apply (e.g. from `seal adapt`)'),
  question: z.string().min(1).describe('The question, asked without the document'),
  title: z.string().default('').describe('Topic line for the squad format'),
  format: FormatOption,
  maxNewTokens: z.number().int().min(1).default(32).describe('Maximum answer length'),
  backend: BackendOption,
});

export const askCommand: Command<typeof schema> = {
  name: 'ask',
  summary:
    'Answer a question without the document (greedy), optionally through an adapter. Prints only the answer.',
  schema,
  examples: [
    'seal ask --model assets/models/people-default --adapter adapters/bio --question "Where was Ann Lee born?"',
  ],
  async run(o) {
    await initEngine(o.backend);
    const modelDir = resolveModelDir(o.model);
    const { model } = await loadModel(modelDir);
    const tok = loadTokenizer(modelDir, { vocabSize: model.config.vocabSize });
    const adapter = o.adapter === undefined ? undefined : await loadAdapter(o.adapter, model);
    const { prompt, stop } = answerPromptFor(o.format, o.title, o.question);
    const ids = tok.encode(prompt, { addBos: true });
    if (ids.length >= model.config.maxSeqLen)
      throw new SealError(
        `--question: the prompt is ${ids.length} tokens, the model's context ${model.config.maxSeqLen}: shorten it`,
      );
    const r = generate(model, [ids], {
      maxNewTokens: o.maxNewTokens,
      temperature: 0,
      stop,
      tokenizer: tok,
      ...(adapter === undefined ? {} : { deltas: [adapter] }),
    });
    process.stdout.write(`${(r.text?.[0] ?? '').trim()}\n`);
  },
};
