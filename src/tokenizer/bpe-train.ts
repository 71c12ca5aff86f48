/**
 * A small deterministic GPT-2-style byte-level BPE trainer that emits a Hugging Face `tokenizer.json`.
 *
 * Words are pre-tokenized once with GPT-2's regex and counted; merges then run over word types weighted by count,
 * with pair counts updated incrementally (only words containing the merged pair are touched) and the best pair
 * taken from a lazily invalidated heap. Ties go to the lexicographically smallest pair, so output is reproducible.
 */
import { fail } from '../errors.js';

/** GPT-2's pre-tokenization pattern (identical to the ByteLevel pre-tokenizer of @huggingface/tokenizers). */
export const GPT2_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/**
 * GPT-2 bytes_to_unicode: printable Latin-1 bytes map to themselves, the other 68 to U+0100.. in byte order, so
 * every byte becomes a visible character (space is `Ġ`, newline `Ċ`). Index = byte; the order of `BYTE_ORDER`
 * (printable ones first) is also GPT-2's id order for the 256 base tokens.
 */
export const BYTE_ORDER: readonly number[] = (() => {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  for (let b = 0; b < 256; b++) if (!bs.includes(b)) bs.push(b);
  return bs;
})();
export const BYTE_TO_UNICODE: readonly string[] = (() => {
  const out = new Array<string>(256);
  let n = 0;
  BYTE_ORDER.forEach((b, i) => {
    out[b] = String.fromCharCode(i < 188 ? b : 256 + n++);
  });
  return out;
})();

export interface BpeTrainOptions {
  /** Total vocabulary size including the 256 byte tokens and the special tokens. */
  vocabSize: number;
  /** Added special tokens, e.g. `['<|endoftext|>', '<|pad|>']`. Default `['<|endoftext|>']`. */
  specialTokens?: readonly string[];
  /** Put specials at ids 0..k-1 (`start`) or at the top of the vocabulary like GPT-2 (`end`, default). */
  specialTokensAt?: 'start' | 'end';
  /** Pairs seen fewer times than this are never merged (default 2), so training may stop below `vocabSize`. */
  minFrequency?: number;
}

export interface BpeTrainResult {
  /** A tokenizer.json object: serialize with `serializeTokenizerJson` or pass to `saveTokenizerDir`. */
  json: Record<string, unknown>;
  /** Actual vocabulary size (smaller than requested when the corpus runs out of pairs). */
  vocabSize: number;
  merges: number;
  specialIds: Record<string, number>;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Pre-tokenized words in byte-level form, with counts. Specials are cut out first so they are never learned. */
export function countWords(texts: readonly string[], specialTokens: readonly string[]): Map<string, number> {
  const raw = new Map<string, number>();
  const splitter =
    specialTokens.length > 0 ? new RegExp(specialTokens.map(escapeRegExp).join('|'), 'g') : undefined;
  for (const text of texts) {
    for (const chunk of splitter ? text.split(splitter) : [text]) {
      for (const m of chunk.matchAll(GPT2_PATTERN)) raw.set(m[0], (raw.get(m[0]) ?? 0) + 1);
    }
  }
  const enc = new TextEncoder();
  const words = new Map<string, number>();
  for (const [w, c] of raw) {
    let s = '';
    for (const b of enc.encode(w)) s += BYTE_TO_UNICODE[b];
    words.set(s, (words.get(s) ?? 0) + c);
  }
  return words;
}

/** Pair keys pack two symbol ids into one exact double (ids < 2^21). */
const SHIFT = 2 ** 21;

export function trainByteLevelBpe(texts: readonly string[], options: BpeTrainOptions): BpeTrainResult {
  const specials = [...(options.specialTokens ?? ['<|endoftext|>'])];
  const at = options.specialTokensAt ?? 'end';
  const minFrequency = Math.max(1, options.minFrequency ?? 2);
  const target = options.vocabSize;
  if (new Set(specials).size !== specials.length || specials.some((s) => s.length === 0)) {
    fail(`special tokens must be distinct and non-empty: ${JSON.stringify(specials)}`);
  }
  if (!Number.isInteger(target) || target < 256 + specials.length || target >= SHIFT) {
    fail(`BPE vocab size ${target} must be an integer in [${256 + specials.length}, ${SHIFT})`);
  }

  // Symbol ids during training: 0..255 = bytes in GPT-2 order, then merges. Final ids are shifted for specials.
  const symbols: string[] = BYTE_ORDER.map((b) => BYTE_TO_UNICODE[b] as string);
  const symbolId = new Map<string, number>(symbols.map((s, i) => [s, i]));
  const wordCounts = countWords(texts, specials);
  // Sorted so that word order (and hence every later iteration order) does not depend on input order.
  const entries = [...wordCounts].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const words: number[][] = entries.map(([w]) => Array.from(w, (ch) => symbolId.get(ch) as number));
  const counts: number[] = entries.map(([, c]) => c);

  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, number[]>();
  words.forEach((w, wi) => {
    const n = counts[wi] as number;
    for (let i = 0; i + 1 < w.length; i++) {
      const k = (w[i] as number) * SHIFT + (w[i + 1] as number);
      pairCount.set(k, (pairCount.get(k) ?? 0) + n);
      const list = pairWords.get(k);
      if (list === undefined) pairWords.set(k, [wi]);
      else if (list[list.length - 1] !== wi) list.push(wi);
    }
  });

  const heap = new CountHeap(symbols);
  for (const [k, c] of pairCount) heap.push(c, k);

  const merges: [string, string][] = [];
  const merged = new Set<number>();
  const visited = new Int32Array(words.length).fill(-1);
  let step = 0;
  while (symbols.length + specials.length < target) {
    const top = heap.pop();
    if (top === undefined) break;
    const [count, key] = top;
    if (pairCount.get(key) !== count) continue; // stale entry; the current count has its own entry
    if (count < minFrequency) break;
    const a = Math.floor(key / SHIFT);
    const b = key - a * SHIFT;
    const text = (symbols[a] as string) + symbols[b];
    let c = symbolId.get(text);
    if (c === undefined) {
      c = symbols.length;
      symbols.push(text);
      symbolId.set(text, c);
    }
    // A pair can reappear when another merge rebuilt an existing symbol; apply it again but record it once.
    if (!merged.has(key)) {
      merged.add(key);
      merges.push([symbols[a] as string, symbols[b] as string]);
    }
    const delta = new Map<number, number>();
    const bump = (k: number, d: number): void => {
      delta.set(k, (delta.get(k) ?? 0) + d);
    };
    for (const wi of pairWords.get(key) ?? []) {
      if (visited[wi] === step) continue;
      visited[wi] = step;
      const w = words[wi] as number[];
      const n = counts[wi] as number;
      const out: number[] = [];
      let hit = false;
      for (let i = 0; i < w.length; i++) {
        if (i + 1 < w.length && w[i] === a && w[i + 1] === b) {
          out.push(c);
          i++;
          hit = true;
        } else out.push(w[i] as number);
      }
      if (!hit) continue; // this word lost the pair to an earlier merge; its list entry was stale
      for (let i = 0; i + 1 < w.length; i++) bump((w[i] as number) * SHIFT + (w[i + 1] as number), -n);
      for (let i = 0; i + 1 < out.length; i++) {
        const x = out[i] as number;
        const y = out[i + 1] as number;
        const k = x * SHIFT + y;
        bump(k, n);
        // Only pairs touching the new symbol can be new to this word; the others already list it.
        if (x === c || y === c) {
          const list = pairWords.get(k);
          if (list === undefined) pairWords.set(k, [wi]);
          else if (list[list.length - 1] !== wi) list.push(wi);
        }
      }
      words[wi] = out;
    }
    for (const [k, d] of delta) {
      if (d === 0) continue;
      const v = (pairCount.get(k) ?? 0) + d;
      if (v > 0) {
        pairCount.set(k, v);
        heap.push(v, k);
      } else {
        pairCount.delete(k);
        pairWords.delete(k);
      }
    }
    step++;
  }

  const offset = at === 'start' ? specials.length : 0;
  const vocab: Record<string, number> = {};
  const specialIds: Record<string, number> = {};
  const addSpecials = (base: number): void => {
    specials.forEach((s, i) => {
      vocab[s] = base + i;
      specialIds[s] = base + i;
    });
  };
  if (at === 'start') addSpecials(0);
  symbols.forEach((s, i) => {
    vocab[s] = i + offset;
  });
  if (at === 'end') addSpecials(symbols.length);
  const vocabSize = symbols.length + specials.length;

  const json: Record<string, unknown> = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((content) => ({
      id: specialIds[content],
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      // "a b" strings: read by every tokenizers version (Rust < 0.20 rejects the newer [a, b] arrays); byte-level
      // symbols never contain a space, so the split is unambiguous.
      merges: merges.map(([x, y]) => `${x} ${y}`),
    },
  };
  return { json, vocabSize, merges: merges.length, specialIds };
}

/** Max-heap of [count, pairKey]: highest count first, then the lexicographically smallest (left, right) pair. */
class CountHeap {
  private readonly counts: number[] = [];
  private readonly keys: number[] = [];

  constructor(private readonly symbols: readonly string[]) {}

  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.keys.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  pop(): [number, number] | undefined {
    const n = this.keys.length;
    if (n === 0) return undefined;
    const top: [number, number] = [this.counts[0] as number, this.keys[0] as number];
    this.swap(0, n - 1);
    this.counts.pop();
    this.keys.pop();
    const m = n - 1;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < m && this.before(l, best)) best = l;
      if (r < m && this.before(r, best)) best = r;
      if (best === i) break;
      this.swap(i, best);
      i = best;
    }
    return top;
  }

  private before(i: number, j: number): boolean {
    const ci = this.counts[i] as number;
    const cj = this.counts[j] as number;
    if (ci !== cj) return ci > cj;
    const ki = this.keys[i] as number;
    const kj = this.keys[j] as number;
    if (ki === kj) return false;
    const ai = Math.floor(ki / SHIFT);
    const aj = Math.floor(kj / SHIFT);
    const sa = this.symbols[ai] as string;
    const sb = this.symbols[aj] as string;
    if (sa !== sb) return sa < sb;
    return (this.symbols[ki - ai * SHIFT] as string) < (this.symbols[kj - aj * SHIFT] as string);
  }

  private swap(i: number, j: number): void {
    const c = this.counts[i] as number;
    this.counts[i] = this.counts[j] as number;
    this.counts[j] = c;
    const k = this.keys[i] as number;
    this.keys[i] = this.keys[j] as number;
    this.keys[j] = k;
  }
}
