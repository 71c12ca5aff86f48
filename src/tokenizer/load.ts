/** Picks the tokenizer implementation from what is on disk. */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fail } from '../errors.js';
import { HfTokenizer } from './hf.js';
import { Llama2cTokenizer } from './llama2c.js';
import type { Tokenizer } from './types.js';

export interface LoadTokenizerOptions {
  /**
   * The model's vocabulary size. llama2.c: the number of records to read (run.c reads exactly this many); when
   * absent the file is read to EOF. Hugging Face: must be >= the tokenizer's ids and becomes `vocabSize`.
   */
  vocabSize?: number;
  /** BOS/EOS ids from the model's config.json; Hugging Face tokenizers only. */
  bosId?: number;
  eosId?: number;
}

/**
 * A directory with tokenizer.json or a `.json` file → Hugging Face tokenizer; a `.bin` file → llama2.c tokenizer.
 * Synchronous on purpose: it runs once at start-up and is then usable from any code path.
 */
export function loadTokenizer(path: string, opts: LoadTokenizerOptions = {}): Tokenizer {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch {
    return fail(
      'tokenizer not found (expected tokenizer.json, its directory, or a llama2.c tokenizer .bin)',
      path,
    );
  }
  const isDir = st.isDirectory();
  if (!isDir && st.size === 0) fail('tokenizer file is empty', path);
  const hfOpts = {
    ...(opts.vocabSize !== undefined ? { vocabSize: opts.vocabSize } : {}),
    ...(opts.bosId !== undefined ? { bosId: opts.bosId } : {}),
    ...(opts.eosId !== undefined ? { eosId: opts.eosId } : {}),
  };
  if (isDir) {
    const file = join(path, 'tokenizer.json');
    if (!existsSync(file)) fail('no tokenizer.json in this directory (pass --tokenizer FILE)', path);
    if (statSync(file).size === 0) fail('tokenizer file is empty', file);
    return HfTokenizer.load(path, hfOpts);
  }
  const lower = path.toLowerCase();
  if (lower.endsWith('.json')) return HfTokenizer.load(path, hfOpts);
  if (lower.endsWith('.bin')) {
    if (opts.bosId !== undefined || opts.eosId !== undefined) {
      fail('llama2.c tokenizers have fixed ids (BOS 1, EOS 2); bosId/eosId cannot be overridden', path);
    }
    return Llama2cTokenizer.fromFile(path, opts.vocabSize);
  }
  return fail(
    'unrecognised tokenizer file: expected a Hugging Face tokenizer.json (*.json) or a llama2.c tokenizer (*.bin)',
    path,
  );
}
