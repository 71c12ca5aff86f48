/**
 * Hugging Face `tokenizer.json` tokenizers via @huggingface/tokenizers (pure JS), plus writing a tokenizer directory.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Tokenizer as HfLibTokenizer } from '@huggingface/tokenizers';
import { fail, SealError } from '../errors.js';
import type { Tokenizer } from './types.js';

/** The subset of tokenizer_config.json this project reads and writes; other keys pass through untouched. */
export interface HfTokenizerConfig {
  bos_token?: string | { content: string } | null;
  eos_token?: string | { content: string } | null;
  pad_token?: string | { content: string } | null;
  unk_token?: string | { content: string } | null;
  clean_up_tokenization_spaces?: boolean;
  model_max_length?: number;
  tokenizer_class?: string;
  [key: string]: unknown;
}

export interface HfTokenizerOptions {
  /** Rows of the model's embedding; must be >= the tokenizer's size (models often pad it). */
  vocabSize?: number;
  /** From the model's config.json; override whatever the tokenizer files say. */
  bosId?: number;
  eosId?: number;
}

const SUPPORTED_MODELS = new Set(['BPE', 'WordPiece', 'Unigram']);
const WELL_KNOWN_BOS = ['<s>', '<|begin_of_text|>', '<bos>', '<|startoftext|>'];
const WELL_KNOWN_EOS = ['<|endoftext|>', '</s>', '<|im_end|>', '<|end_of_text|>', '<eos>', '<|eot_id|>'];
/** Keys the JS library indexes without checking; absent ones in hand-written files become null/[]. */
const NULLABLE_KEYS = ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder'] as const;
/** When the streaming window grows past this many ids it restarts from a few ids of context (keeps steps O(1)). */
const STREAM_WINDOW = 64;
const STREAM_CONTEXT = 4;

interface AddedTokenJson {
  id: number;
  content: string;
  special?: boolean;
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    fail(`cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, file);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    fail(`invalid JSON: ${(e as Error).message}`, file);
  }
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function tokenContent(t: unknown): string | undefined {
  if (typeof t === 'string') return t;
  if (isObject(t) && typeof t['content'] === 'string') return t['content'];
  return undefined;
}

export class HfTokenizer implements Tokenizer {
  readonly vocabSize: number;
  /** The tokenizer.json path, for messages. */
  readonly source: string;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  /** Ids the library marks special (skipped by decode). */
  readonly specialIds: ReadonlySet<number>;
  private readonly lib: HfLibTokenizer;
  private readonly cleanUpSpaces: boolean;
  private streamIds: number[] = [];
  private streamText = '';

  /**
   * @param json parsed tokenizer.json; @param config parsed tokenizer_config.json (may be {}).
   * @param source the file, for messages.
   */
  constructor(json: unknown, config: HfTokenizerConfig, source: string, opts: HfTokenizerOptions = {}) {
    if (!isObject(json)) fail('tokenizer.json must be a JSON object', source);
    const model = json['model'];
    if (!isObject(model)) fail('no "model" object; not a Hugging Face tokenizer.json', source);
    // Old BPE files omit model.type; the library would then guess "Legacy", which is wrong for them.
    const type = model['type'] ?? (Array.isArray(model['merges']) ? 'BPE' : undefined);
    if (typeof type !== 'string' || !SUPPORTED_MODELS.has(type)) {
      fail(`unsupported model type ${JSON.stringify(type)} (supported: BPE, WordPiece, Unigram)`, source);
    }
    const added = json['added_tokens'] ?? [];
    if (!Array.isArray(added)) fail('"added_tokens" must be an array', source);
    const filled: Record<string, unknown> = { ...json, model: { ...model, type }, added_tokens: added };
    for (const k of NULLABLE_KEYS) filled[k] ??= null;
    // The library expects plain strings where tokenizer_config.json may hold {content: ...} objects.
    const libConfig: Record<string, unknown> = { ...config };
    for (const k of ['bos_token', 'eos_token', 'pad_token', 'unk_token']) {
      if (libConfig[k] !== undefined) libConfig[k] = tokenContent(libConfig[k]) ?? null;
    }
    try {
      this.lib = new HfLibTokenizer(filled, libConfig);
    } catch (e) {
      fail(`cannot build tokenizer: ${(e as Error).message}`, source);
    }
    this.source = source;
    this.cleanUpSpaces = config.clean_up_tokenization_spaces === true;

    const vocab = this.lib.get_vocab(true);
    let size = 0;
    for (const id of vocab.values()) size = Math.max(size, id + 1);
    if (opts.vocabSize !== undefined) {
      if (opts.vocabSize < size) fail(`model vocab size ${opts.vocabSize} < tokenizer's ${size} ids`, source);
      size = opts.vocabSize;
    }
    this.vocabSize = size;
    this.specialIds = new Set(
      (added as AddedTokenJson[]).filter((t) => isObject(t) && t.special === true).map((t) => t.id),
    );

    const pick = (name: 'bos_token' | 'eos_token', wellKnown: string[]): number | undefined => {
      // An explicit null (e.g. Qwen's bos_token) means "none"; only an absent key falls back to well-known names.
      if (config[name] === null) return undefined;
      const content = tokenContent(config[name]);
      if (content === undefined) {
        for (const n of wellKnown) {
          const id = this.lib.token_to_id(n);
          if (id !== undefined) return id;
        }
        return undefined;
      }
      const id = this.lib.token_to_id(content);
      if (id === undefined) fail(`${name} ${JSON.stringify(content)} is not in the vocabulary`, source);
      return id;
    };
    this.bosId = opts.bosId ?? pick('bos_token', WELL_KNOWN_BOS);
    this.eosId = opts.eosId ?? pick('eos_token', WELL_KNOWN_EOS);
    for (const [k, v] of [
      ['bosId', this.bosId],
      ['eosId', this.eosId],
    ] as const) {
      if (v !== undefined && (!Number.isInteger(v) || v < 0 || v >= size))
        fail(`${k} ${v} out of range`, source);
    }
  }

  /** Loads `dir/tokenizer.json` (+ tokenizer_config.json, special_tokens_map.json) or a tokenizer.json path. */
  static load(path: string, opts: HfTokenizerOptions = {}): HfTokenizer {
    let isDir: boolean;
    try {
      isDir = statSync(path).isDirectory();
    } catch {
      fail('no such file or directory', path);
    }
    const dir = isDir ? path : dirname(path);
    const file = isDir ? join(path, 'tokenizer.json') : path;
    if (isDir && !existsSync(file)) fail(`directory has no tokenizer.json`, path);
    const json = readJson(file);
    // special_tokens_map.json is older; tokenizer_config.json wins where both name a token.
    const config: HfTokenizerConfig = {};
    for (const name of ['special_tokens_map.json', 'tokenizer_config.json']) {
      const f = join(dir, name);
      // A lone file like foo.tokenizer.json only pairs with config files when it is the canonical name.
      if ((!isDir && basename(path) !== 'tokenizer.json') || !existsSync(f)) continue;
      const c = readJson(f);
      if (!isObject(c)) fail('must be a JSON object', f);
      Object.assign(config, c);
    }
    return new HfTokenizer(json, config, file, opts);
  }

  encode(text: string, options?: { addBos?: boolean }): number[] {
    // BOS is added here, not by the library's post-processor, so `addBos` means the same for every tokenizer.
    let ids: number[];
    try {
      ids = this.lib.encode(text, { add_special_tokens: false }).ids;
    } catch (e) {
      throw new SealError(`cannot encode text: ${(e as Error).message}`, this.source);
    }
    if (ids.some((id) => id === undefined || id === null)) {
      fail('text has characters the vocabulary cannot represent and there is no unk token', this.source);
    }
    if (options?.addBos && this.bosId !== undefined) ids.unshift(this.bosId);
    return ids;
  }

  /** Special tokens are skipped. Spaces are not "cleaned up" unless tokenizer_config.json asks, so text round-trips. */
  decode(ids: readonly number[]): string {
    if (ids.length === 0) return '';
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || this.lib.id_to_token(id) === undefined) {
        fail(`token id ${id} is not in the vocabulary`, this.source);
      }
    }
    return this.lib.decode([...ids], {
      skip_special_tokens: true,
      clean_up_tokenization_spaces: this.cleanUpSpaces,
    });
  }

  /**
   * Streaming decode by prefix difference over a window of recent ids (works for every decoder: byte-level,
   * Metaspace, WordPiece). Text ending in U+FFFD is an incomplete UTF-8 character and is held back until complete.
   * Stateful, one stream at a time per instance: `prev === undefined` starts a new stream, and a `prev` that is not
   * the last id seen starts one with `prev` as context (so a continuation keeps its leading space).
   */
  decodeStep(prev: number | undefined, id: number): string {
    if (prev === undefined) {
      this.streamIds = [];
      this.streamText = '';
    } else if (this.streamIds.at(-1) !== prev) {
      this.streamIds = [prev];
      this.streamText = this.decode(this.streamIds);
    }
    this.streamIds.push(id);
    const text = this.decode(this.streamIds);
    if (text.endsWith('\uFFFD')) return '';
    // A decoder may rewrite earlier text (e.g. space clean-up); what was emitted cannot be taken back, so emit
    // everything after the longest common prefix.
    let common = 0;
    const max = Math.min(text.length, this.streamText.length);
    while (common < max && text.charCodeAt(common) === this.streamText.charCodeAt(common)) common++;
    const out = text.slice(common);
    this.streamText = text;
    if (this.streamIds.length > STREAM_WINDOW) {
      this.streamIds = this.streamIds.slice(-STREAM_CONTEXT);
      this.streamText = this.decode(this.streamIds);
    }
    return out;
  }

  tokenToId(token: string): number | undefined {
    return this.lib.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.lib.id_to_token(id);
  }
}

/**
 * JSON text for a tokenizer.json with `model.vocab` written in id order (as the Rust library does). JSON.stringify
 * would hoist integer-like keys such as "0" or "12" to the front, which is valid but hard to read.
 */
export function serializeTokenizerJson(json: Record<string, unknown>): string {
  const model = json['model'];
  if (!isObject(model) || !isObject(model['vocab'])) return `${JSON.stringify(json, null, 2)}\n`;
  const vocab = Object.entries(model['vocab'] as Record<string, number>).sort((a, b) => a[1] - b[1]);
  const marker = `__vocab_${randomBytes(8).toString('hex')}__`;
  const text = JSON.stringify({ ...json, model: { ...model, vocab: marker } }, null, 2);
  const body = vocab.map(([k, v]) => `      ${JSON.stringify(k)}: ${v}`).join(',\n');
  return `${text.replace(JSON.stringify(marker), vocab.length === 0 ? '{}' : `{\n${body}\n    }`)}\n`;
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    fail(`cannot write: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, file);
  }
}

/** Writes `dir/tokenizer.json` and `dir/tokenizer_config.json` (each via temp file + rename). */
export function saveTokenizerDir(
  dir: string,
  tokenizerJson: Record<string, unknown> | string,
  config: HfTokenizerConfig,
): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    fail(`cannot create directory: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, dir);
  }
  const text = typeof tokenizerJson === 'string' ? tokenizerJson : serializeTokenizerJson(tokenizerJson);
  writeAtomic(join(dir, 'tokenizer.json'), text);
  writeAtomic(join(dir, 'tokenizer_config.json'), `${JSON.stringify(config, null, 2)}\n`);
}
