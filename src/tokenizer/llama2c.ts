/**
 * llama2.c's `tokenizer.bin` (a SentencePiece BPE model exported by Karpathy's tokenizer.py), reproducing run.c's
 * `encode`/`decode` exactly so that ids and text match the reference C implementation byte for byte.
 *
 * Pieces are kept as "binary strings" (one char per byte, latin1) because run.c compares raw C strings: a piece
 * such as `é` is the two bytes C3 A9, and merges concatenate bytes, not code points.
 */
import { readFileSync } from 'node:fs';
import { TextDecoder } from 'node:util';
import { fail } from '../errors.js';
import type { Tokenizer } from './types.js';

export const LLAMA2C_UNK = 0;
export const LLAMA2C_BOS = 1;
export const LLAMA2C_EOS = 2;
/** Byte tokens `<0x00>`..`<0xFF>` occupy ids 3..258; run.c's byte fallback is `byte + 3`. */
const BYTE_OFFSET = 3;
/** run.c starts its best-merge search at -1e10, so a pair whose score is not above it is never merged. */
const MIN_SCORE = -1e10;
/** Guards against reading garbage as a length: no real piece is anywhere near this long. */
const MAX_PIECE_BYTES = 1 << 16;

export interface Llama2cTokenizerData {
  maxTokenLength: number;
  /** Pieces as binary strings (one char per byte). */
  pieces: string[];
  scores: Float32Array;
}

/** Parses tokenizer.bin. With `vocabSize`, exactly that many records are read (as run.c does); without it, to EOF. */
export function parseLlama2cTokenizer(
  buf: Uint8Array,
  file: string,
  vocabSize?: number,
): Llama2cTokenizerData {
  if (vocabSize !== undefined && (!Number.isInteger(vocabSize) || vocabSize < 3)) {
    fail(`vocab size ${vocabSize} is invalid for a llama2.c tokenizer (need an integer >= 3)`, file);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.byteLength < 4) fail(`file too short for a llama2.c tokenizer (${buf.byteLength} bytes)`, file);
  const maxTokenLength = view.getInt32(0, true);
  if (maxTokenLength <= 0 || maxTokenLength > MAX_PIECE_BYTES) {
    fail(`max_token_length ${maxTokenLength} is absurd; not a llama2.c tokenizer`, file);
  }
  const pieces: string[] = [];
  const scores: number[] = [];
  let off = 4;
  while (vocabSize === undefined ? off < buf.byteLength : pieces.length < vocabSize) {
    const i = pieces.length;
    if (off + 8 > buf.byteLength) {
      const want = vocabSize === undefined ? '' : ` of ${vocabSize}`;
      fail(`record ${i}${want} truncated at byte ${off} (file is ${buf.byteLength} bytes)`, file);
    }
    const score = view.getFloat32(off, true);
    const len = view.getInt32(off + 4, true);
    if (len < 0 || len > MAX_PIECE_BYTES)
      fail(`record ${i} has absurd length ${len} at byte ${off + 4}`, file);
    if (off + 8 + len > buf.byteLength) {
      fail(
        `record ${i} truncated: needs ${len} bytes at byte ${off + 8}, file is ${buf.byteLength} bytes`,
        file,
      );
    }
    pieces.push(Buffer.from(buf.buffer, buf.byteOffset + off + 8, len).toString('latin1'));
    scores.push(score);
    off += 8 + len;
  }
  if (pieces.length < 3)
    fail(`only ${pieces.length} records; a llama2.c tokenizer needs <unk>, <s>, </s>`, file);
  return { maxTokenLength, pieces, scores: Float32Array.from(scores) };
}

/** run.c parses any piece starting with `<0x` + hex via sscanf("<0x%02hhX>"), so mimic that loosely-anchored match. */
const BYTE_PIECE = /^<0x([0-9A-Fa-f]{1,2})/;

/**
 * C-locale `isprint || isspace`. run.c's safe_printf drops a single-byte piece failing this test (control codes,
 * backspace...), so llama2.c never prints them; decode drops them too so generated text matches llama2.c's output.
 */
function cPrintable(b: number): boolean {
  return (b >= 0x20 && b < 0x7f) || (b >= 0x09 && b <= 0x0d);
}

export class Llama2cTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosId = LLAMA2C_BOS;
  readonly eosId = LLAMA2C_EOS;
  readonly maxTokenLength: number;
  private readonly pieces: string[];
  private readonly scores: Float32Array;
  private readonly lookup = new Map<string, number>();
  /** Decoded bytes of each id after run.c's byte-token parsing (no BOS stripping). */
  private readonly bytesOf: Uint8Array[];
  private stream: TextDecoder | undefined;
  private lastId: number | undefined;

  constructor(
    data: Llama2cTokenizerData,
    /** Where the tokenizer came from, for messages. */
    readonly source = 'tokenizer.bin',
  ) {
    this.pieces = data.pieces;
    this.scores = data.scores;
    this.vocabSize = data.pieces.length;
    this.maxTokenLength = data.maxTokenLength;
    // run.c bsearches a qsorted copy, so which duplicate wins is unspecified there; take the lowest id.
    data.pieces.forEach((p, id) => {
      if (!this.lookup.has(p)) this.lookup.set(p, id);
    });
    this.bytesOf = data.pieces.map((p) => pieceBytes(p));
  }

  static fromFile(file: string, vocabSize?: number): Llama2cTokenizer {
    let buf: Buffer;
    try {
      buf = readFileSync(file);
    } catch (e) {
      fail(`cannot read llama2.c tokenizer: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, file);
    }
    return new Llama2cTokenizer(parseLlama2cTokenizer(buf, file, vocabSize), file);
  }

  /** The raw piece (binary string) of an id, e.g. `' the'` or `'<0x0A>'`. */
  piece(id: number): string {
    return this.pieces[this.checkId(id)] as string;
  }

  /**
   * run.c `encode(text, bos, eos)`: dummy-prefix " " when the text is non-empty, per-code-point lookup with byte
   * fallback, then repeatedly merge the adjacent pair with the highest-scoring concatenation (leftmost on ties).
   * run.c rescans all pairs each round (O(n^2)); this uses a heap ordered by (score desc, position asc), which picks
   * the same pair every round, so long texts stay fast.
   */
  encode(text: string, options?: { addBos?: boolean; addEos?: boolean }): number[] {
    const tokens: number[] = [];
    if (options?.addBos) tokens.push(LLAMA2C_BOS);
    const bytes = Buffer.from(text, 'utf8');
    if (bytes.length > 0) {
      // run.c pushes whatever str_lookup(" ") returns; a vocab without " " would give -1 there, use the byte instead.
      tokens.push(this.lookup.get(' ') ?? 0x20 + BYTE_OFFSET);
    }
    // Same grouping as run.c: a lead byte starts a new unit, continuation bytes join it (at most 4 bytes).
    let unit = '';
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i] as number;
      if ((c & 0xc0) !== 0x80) unit = '';
      unit += String.fromCharCode(c);
      const next = bytes[i + 1] ?? 0;
      if ((next & 0xc0) === 0x80 && unit.length < 4) continue;
      const id = this.lookup.get(unit);
      if (id !== undefined) tokens.push(id);
      else for (let k = 0; k < unit.length; k++) tokens.push(unit.charCodeAt(k) + BYTE_OFFSET);
      unit = '';
    }
    const merged = this.merge(tokens);
    if (options?.addEos) merged.push(LLAMA2C_EOS);
    return merged;
  }

  private merge(tokens: number[]): number[] {
    const n = tokens.length;
    if (n < 2) return tokens;
    const id = Int32Array.from(tokens);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    // Heap entries: [score, leftPos, rightPos, leftId, rightId, mergedId]; stale ones are skipped when popped.
    const heap = new PairHeap();
    const consider = (l: number): void => {
      const r = next[l] as number;
      if (r < 0) return;
      const m = this.lookup.get((this.pieces[id[l] as number] as string) + this.pieces[id[r] as number]);
      if (m === undefined) return;
      const s = this.scores[m] as number;
      if (s > MIN_SCORE) heap.push(s, l, r, id[l] as number, id[r] as number, m);
    };
    for (let i = 0; i + 1 < n; i++) consider(i);
    for (let top = heap.pop(); top !== undefined; top = heap.pop()) {
      const { l, r, idL, idR, m } = top;
      if (!alive[l] || !alive[r] || next[l] !== r || id[l] !== idL || id[r] !== idR) continue;
      id[l] = m;
      alive[r] = 0;
      const rr = next[r] as number;
      next[l] = rr;
      if (rr >= 0) prev[rr] = l;
      const pl = prev[l] as number;
      if (pl >= 0) consider(pl);
      consider(l);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i] as number) out.push(id[i] as number);
    return out;
  }

  /**
   * Bytes run.c would print for `token` after `prev`: the piece, minus one leading space right after BOS (and, here,
   * at the very start, where encode put its dummy prefix), byte tokens turned into their byte, and single
   * non-printable bytes dropped as safe_printf does. Deviation: safe_printf also drops single bytes >= 0x80 (isprint
   * is false for them in the C locale), which loses byte-fallback UTF-8; they are kept so Unicode round-trips.
   */
  private stepBytes(prev: number | undefined, token: number): Uint8Array {
    this.checkId(token);
    if (token === LLAMA2C_BOS || token === LLAMA2C_EOS) return EMPTY;
    let b = this.bytesOf[token] as Uint8Array;
    if (
      (prev === undefined || prev === LLAMA2C_BOS) &&
      b[0] === 0x20 &&
      !BYTE_PIECE.test(this.pieces[token] ?? '')
    ) {
      b = b.subarray(1);
    }
    if (b.length === 1 && !cPrintable(b[0] as number) && (b[0] as number) < 0x80) return EMPTY;
    return b;
  }

  /**
   * Full-sequence decode: BOS/EOS are skipped, bytes are concatenated and UTF-8 decoded once, so characters split
   * over byte tokens come out whole. The leading space of the first piece is stripped both after BOS (run.c) and
   * when the ids do not start with BOS (undoing encode's dummy prefix), so `decode(encode(s))` and
   * `decode(encode(s, {addBos: true}))` both equal `s`. Consequence: decoding a continuation on its own loses its
   * leading space; use `decodeStep` with the real previous id to stream a continuation.
   * Single control bytes (other than \t\n\v\f\r) are dropped, as llama2.c's safe_printf does.
   */
  decode(ids: readonly number[]): string {
    const parts: Uint8Array[] = [];
    let prev: number | undefined;
    for (const t of ids) {
      parts.push(this.stepBytes(prev, t));
      prev = t;
    }
    return new TextDecoder('utf-8', { ignoreBOM: true }).decode(Buffer.concat(parts));
  }

  /**
   * Streaming decode (run.c `decode` + safe_printf). Stateful: a UTF-8 character split over byte tokens is held back
   * and returned whole with its last byte. One stream at a time per instance: `prev === undefined`, or a `prev` that
   * is not the last id seen, starts a new stream (dropping held bytes). Concatenating the steps over
   * `[BOS, ...ids]` (prev = the previous id) equals `decode([BOS, ...ids])`.
   */
  decodeStep(prev: number | undefined, id: number): string {
    if (prev === undefined || this.stream === undefined || prev !== this.lastId) {
      this.stream = new TextDecoder('utf-8', { ignoreBOM: true });
    }
    const bytes = this.stepBytes(prev, id);
    this.lastId = id;
    return this.stream.decode(bytes, { stream: true });
  }

  private checkId(id: number): number {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      fail(`token id ${id} out of range [0, ${this.vocabSize})`, this.source);
    }
    return id;
  }
}

const EMPTY = new Uint8Array(0);

function pieceBytes(piece: string): Uint8Array {
  const m = BYTE_PIECE.exec(piece);
  // run.c returns a 1-char C string for the byte, so byte 0 prints nothing.
  if (m) {
    const b = Number.parseInt(m[1] as string, 16);
    return b === 0 ? EMPTY : Uint8Array.of(b);
  }
  // Pieces are C strings in run.c: anything after a NUL is invisible.
  const nul = piece.indexOf('\0');
  return Buffer.from(nul < 0 ? piece : piece.slice(0, nul), 'latin1');
}

interface PairTop {
  l: number;
  r: number;
  idL: number;
  idR: number;
  m: number;
}

/** Max-heap on score, then min on left position: the pair run.c's linear scan would pick. */
class PairHeap {
  private readonly score: number[] = [];
  private readonly rows: PairTop[] = [];

  push(s: number, l: number, r: number, idL: number, idR: number, m: number): void {
    this.score.push(s);
    this.rows.push({ l, r, idL, idR, m });
    let i = this.rows.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  pop(): PairTop | undefined {
    const n = this.rows.length;
    if (n === 0) return undefined;
    const top = this.rows[0];
    this.swap(0, n - 1);
    this.rows.pop();
    this.score.pop();
    let i = 0;
    for (;;) {
      const a = 2 * i + 1;
      const b = a + 1;
      let best = i;
      if (a < n - 1 && this.before(a, best)) best = a;
      if (b < n - 1 && this.before(b, best)) best = b;
      if (best === i) break;
      this.swap(i, best);
      i = best;
    }
    return top;
  }

  private before(i: number, j: number): boolean {
    const si = this.score[i] as number;
    const sj = this.score[j] as number;
    if (si !== sj) return si > sj;
    return (this.rows[i] as PairTop).l < (this.rows[j] as PairTop).l;
  }

  private swap(i: number, j: number): void {
    const s = this.score[i] as number;
    this.score[i] = this.score[j] as number;
    this.score[j] = s;
    const r = this.rows[i] as PairTop;
    this.rows[i] = this.rows[j] as PairTop;
    this.rows[j] = r;
  }
}
