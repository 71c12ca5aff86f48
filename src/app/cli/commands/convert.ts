import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { initEngine } from '../../../engine/index.js';
import { SealError } from '../../../errors.js';
import { saveHfModel } from '../../../model/io/hf.js';
import { loadModel } from '../../../model/io/load.js';
import { parseLlama2cTokenizer } from '../../../tokenizer/llama2c.js';
import { llama2cTokenizerConfig, llama2cToTokenizerJson } from '../../../tokenizer/llama2c-to-hf.js';
import { checkOutputDir } from '../../../util/fs.js';
import type { Command } from '../args.js';
import { log } from './common.js';

const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'] as const;

const schema = z.object({
  from: z
    .string()
    .describe('Source model: a llama2.c .bin checkpoint (or a Hugging Face directory to re-save)'),
  tokenizer: z.string().optional().describe('llama2.c tokenizer .bin to convert to tokenizer.json'),
  out: z.string().describe('Output Hugging Face directory (config.json, model.safetensors, tokenizer.json)'),
  dtype: z.enum(['F32', 'F16', 'BF16']).default('F32').describe('Storage type of the weights'),
  overwrite: z.boolean().default(false).describe('Replace a non-empty output directory'),
});

export const convertCommand: Command<typeof schema> = {
  name: 'convert',
  summary: 'Convert a llama2.c checkpoint (+ tokenizer) to a Hugging Face LlamaForCausalLM directory.',
  schema,
  examples: ['seal convert --from stories260K.bin --tokenizer tok512.bin --out ./stories260K-hf'],
  async run(o) {
    checkOutputDir(o.out, 'model', o.overwrite);
    await initEngine('auto');
    const { model } = await loadModel(o.from);
    const extraFiles: Record<string, string> = {};
    // Re-saving a Hugging Face directory (another dtype, or in place) keeps its tokenizer files: they are read now,
    // before the output — possibly the same directory — is replaced.
    if (o.tokenizer === undefined && statSync(o.from).isDirectory())
      for (const name of TOKENIZER_FILES) {
        const f = join(o.from, name);
        if (existsSync(f)) extraFiles[name] = readFileSync(f, 'utf8');
      }
    if (o.tokenizer !== undefined) {
      if (!o.tokenizer.endsWith('.bin'))
        throw new SealError('--tokenizer: expected a llama2.c tokenizer .bin', o.tokenizer);
      let buf: Buffer;
      try {
        buf = readFileSync(o.tokenizer);
      } catch (e) {
        throw new SealError(`cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, o.tokenizer);
      }
      const data = parseLlama2cTokenizer(buf, o.tokenizer, model.config.vocabSize);
      extraFiles['tokenizer.json'] = `${JSON.stringify(llama2cToTokenizerJson(data), null, 2)}\n`;
      extraFiles['tokenizer_config.json'] =
        `${JSON.stringify({ ...llama2cTokenizerConfig(), model_max_length: model.config.maxSeqLen }, null, 2)}\n`;
    }
    await saveHfModel(model, o.out, { dtype: o.dtype, overwrite: o.overwrite, extraFiles });
    log(
      `wrote ${o.out} (${model.config.modelType}, ${model.numParams.toLocaleString('en-US')} parameters, ${o.dtype})`,
    );
  },
};
