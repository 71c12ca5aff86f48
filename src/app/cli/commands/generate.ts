import { z } from 'zod';
import { initEngine } from '../../../engine/index.js';
import { SealError } from '../../../errors.js';
import { generate } from '../../../model/generate.js';
import { loadModel } from '../../../model/io/load.js';
import { loadTokenizer } from '../../../tokenizer/load.js';
import type { Tokenizer } from '../../../tokenizer/types.js';
import type { Command } from '../args.js';
import { BackendOption, log } from './common.js';

const schema = z.object({
  model: z.string().describe('Model: a Hugging Face directory or a llama2.c .bin checkpoint'),
  tokenizer: z
    .string()
    .optional()
    .describe(
      'Tokenizer: tokenizer.json, its directory, or a llama2.c tokenizer .bin (default: the model directory)',
    ),
  prompt: z.string().optional().describe('Text to continue (default: start from BOS)'),
  maxNewTokens: z.number().int().min(1).default(256).describe('Maximum number of tokens to generate'),
  temperature: z
    .number()
    .min(0)
    .optional()
    .describe('Sampling temperature, 0 = greedy (default: generation_config.json, else 1)'),
  topP: z
    .number()
    .gt(0)
    .max(1)
    .optional()
    .describe('Nucleus sampling: keep the most likely tokens up to this total probability'),
  topK: z.number().int().min(0).optional().describe('Keep only the K most likely tokens (0 = off)'),
  seed: z.number().int().min(0).default(0).describe('Seed of the sampling RNG'),
  stop: z.array(z.string()).optional().describe('Stop when this text is produced (not printed)'),
  cache: z
    .boolean()
    .default(true)
    .describe('Use the KV cache (--no-cache re-runs the whole sequence each step)'),
  backend: BackendOption,
});

export const generateCommand: Command<typeof schema> = {
  name: 'generate',
  summary: 'Generate text. Prints only the continuation to stdout (no prompt, no BOS); logs go to stderr.',
  schema,
  examples: [
    'seal generate --model stories260K.bin --tokenizer tok512.bin --max-new-tokens 200 --temperature 0',
    'seal generate --model ./my-hf-model --prompt "Once upon a time" --temperature 0.8 --top-p 0.95 --seed 1',
  ],
  async run(o) {
    await initEngine(o.backend);
    // The model first: a missing or broken model is the error to report, not the tokenizer it would need.
    const { model, generation } = await loadModel(o.model);
    const tokPath = o.tokenizer ?? (o.model.endsWith('.bin') ? undefined : o.model);
    if (tokPath === undefined)
      throw new SealError('a llama2.c checkpoint needs --tokenizer (its tokenizer .bin)', o.model);
    const tok = loadTokenizer(tokPath, {
      vocabSize: model.config.vocabSize,
      ...(tokPath.endsWith('.bin')
        ? {}
        : {
            ...(model.config.bosId === undefined ? {} : { bosId: model.config.bosId }),
            ...(model.config.eosId === undefined ? {} : { eosId: model.config.eosId }),
          }),
    });
    const prompt = promptIds(tok, o.prompt);
    const room = model.config.maxSeqLen - prompt.length;
    if (room <= 0)
      throw new SealError(
        `--prompt: ${prompt.length} tokens do not fit the model's context of ${model.config.maxSeqLen} tokens: shorten it`,
      );
    if (room < o.maxNewTokens)
      log(
        `note: the prompt is ${prompt.length} tokens; the model's context (${model.config.maxSeqLen}) leaves room for ${room} new tokens, not ${o.maxNewTokens}`,
      );
    const t0 = performance.now();
    const stream = new StreamPrinter(tok, prompt, o.stop ?? []);
    const result = generate(model, [prompt], {
      maxNewTokens: o.maxNewTokens,
      temperature: o.temperature ?? generation.temperature ?? 1,
      topP: o.topP ?? generation.topP,
      topK: o.topK ?? generation.topK,
      seed: o.seed,
      eosId: generation.eosId ?? model.config.eosId ?? tok.eosId,
      useCache: o.cache,
      tokenizer: tok,
      ...(o.stop === undefined ? {} : { stop: o.stop }),
      onToken: (_, id) => stream.push(id),
    });
    stream.finish();
    const n = result.tokens[0]?.length ?? 0;
    const s = (performance.now() - t0) / 1000;
    log(`[${n} tokens in ${s.toFixed(2)} s, ${(n / s).toFixed(1)} tok/s, finish: ${result.finish[0]}]`);
  },
};

function promptIds(tok: Tokenizer, prompt: string | undefined): number[] {
  if (prompt === undefined || prompt === '') {
    if (tok.bosId === undefined) throw new SealError('the tokenizer has no BOS token: pass --prompt');
    return [tok.bosId];
  }
  return tok.encode(prompt, { addBos: true });
}

/**
 * Prints the continuation as it grows. The continuation is decode(prompt + new) minus decode(prompt), which keeps
 * tokenizer-specific spacing right (e.g. llama2.c drops a leading space only right after BOS). Text that may still
 * change — an incomplete UTF-8 sequence, or a possible start of a stop string — is held back until known.
 */
class StreamPrinter {
  private readonly ids: number[];
  private readonly promptText: string;
  private printed = 0;
  private readonly holdBack: number;

  constructor(
    private readonly tok: Tokenizer,
    prompt: readonly number[],
    private readonly stops: readonly string[],
  ) {
    this.ids = [...prompt];
    this.promptText = tok.decode(prompt);
    this.holdBack = Math.max(0, ...stops.map((s) => s.length - 1));
  }

  private continuation(): string {
    const full = this.tok.decode(this.ids);
    return full.startsWith(this.promptText) ? full.slice(this.promptText.length) : full;
  }

  push(id: number): void {
    this.ids.push(id);
    let text = this.continuation();
    while (text.endsWith('\uFFFD')) text = text.slice(0, -1);
    const upto = text.length - this.holdBack;
    if (upto > this.printed) {
      process.stdout.write(text.slice(this.printed, upto));
      this.printed = upto;
    }
  }

  finish(): void {
    let text = this.continuation();
    for (const s of this.stops) {
      const i = text.indexOf(s);
      if (i >= 0) text = text.slice(0, i);
    }
    if (text.length > this.printed) process.stdout.write(text.slice(this.printed));
  }
}
