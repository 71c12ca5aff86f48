import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SealError } from '../src/errors.js';
import { pretrainDocuments } from '../src/tasks/people/task.js';
import { generateWorld } from '../src/tasks/people/world.js';
import { BYTE_TO_UNICODE, trainByteLevelBpe } from '../src/tokenizer/bpe-train.js';
import { HfTokenizer, saveTokenizerDir, serializeTokenizerJson } from '../src/tokenizer/hf.js';
import { Llama2cTokenizer, parseLlama2cTokenizer } from '../src/tokenizer/llama2c.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { Rng } from '../src/util/rng.js';

const here = dirname(fileURLToPath(import.meta.url));
const DATA = resolve(here, '../../shared/data');
// The package ships the same file as ../shared/data/model/tok512.bin (assets/models/stories260K/NOTICE.md).
const TOK512 = resolve(here, '../assets/models/stories260K/tok512.bin');
const GREEDY = resolve(here, 'fixtures/stories260K_expected_greedy_200.txt');
const SHAKESPEARE = join(DATA, 'corpus/tinyshakespeare.txt');
const hasTok512 = existsSync(TOK512);
if (!hasTok512) console.warn(`tokenizer tests: ${TOK512} is absent, skipping the tok512 tests`);

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'seal-tok-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

function expectSealError(fn: () => unknown, ...fragments: string[]): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SealError);
  for (const f of fragments) expect((err as Error).message).toContain(f);
}

/** Literal port of run.c's O(n^2) encode, the reference the heap-based merge must agree with. */
function runCEncode(tok: Llama2cTokenizer, text: string, bos: boolean): number[] {
  const pieces = Array.from({ length: tok.vocabSize }, (_, i) => tok.piece(i));
  const lookup = (s: string): number => pieces.indexOf(s);
  const tokens: number[] = bos ? [1] : [];
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > 0) tokens.push(lookup(' '));
  let buf = '';
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i] as number;
    if ((c & 0xc0) !== 0x80) buf = '';
    buf += String.fromCharCode(c);
    if (((bytes[i + 1] ?? 0) & 0xc0) === 0x80 && buf.length < 4) continue;
    const id = lookup(buf);
    if (id !== -1) tokens.push(id);
    else for (const ch of buf) tokens.push(ch.charCodeAt(0) + 3);
    buf = '';
  }
  const scores = parseLlama2cTokenizer(readFileSync(TOK512), TOK512).scores;
  for (;;) {
    let best = -1e10;
    let bestId = -1;
    let bestIdx = -1;
    for (let i = 0; i + 1 < tokens.length; i++) {
      const id = lookup((pieces[tokens[i] as number] as string) + pieces[tokens[i + 1] as number]);
      if (id !== -1 && (scores[id] as number) > best) {
        best = scores[id] as number;
        bestId = id;
        bestIdx = i;
      }
    }
    if (bestIdx === -1) break;
    tokens.splice(bestIdx, 2, bestId);
  }
  return tokens;
}

describe.skipIf(!hasTok512)('llama2.c tok512.bin', () => {
  let tok: Llama2cTokenizer;
  beforeAll(() => {
    tok = Llama2cTokenizer.fromFile(TOK512);
  });

  it('reads the header and 512 records, inferring or checking the vocab size', () => {
    expect(tok.vocabSize).toBe(512);
    expect(tok.maxTokenLength).toBe(7);
    expect([tok.bosId, tok.eosId]).toEqual([1, 2]);
    expect(tok.piece(0)).toBe('<unk>');
    expect(tok.piece(3)).toBe('<0x00>');
    expect(tok.piece(258)).toBe('<0xFF>');
    expect(Llama2cTokenizer.fromFile(TOK512, 512).vocabSize).toBe(512);
    expect(loadTokenizer(TOK512, { vocabSize: 512 }).vocabSize).toBe(512);
    // run.c reads exactly vocab_size records and ignores what follows.
    expect(Llama2cTokenizer.fromFile(TOK512, 300).vocabSize).toBe(300);
    expectSealError(() => Llama2cTokenizer.fromFile(TOK512, 513), TOK512, 'record 512 of 513 truncated');
  });

  it('encodes like run.c: BOS, dummy prefix, best-score merges', () => {
    const ids = tok.encode('Once upon a time', { addBos: true });
    expect(ids[0]).toBe(1);
    expect(ids.slice(1).map((i) => tok.piece(i))).toEqual([' Once', ' upon', ' a', ' time']);
    expect(tok.encode('Once upon a time')).toEqual(ids.slice(1));
    expect(tok.encode('hi', { addBos: true, addEos: true }).at(-1)).toBe(2);
    expect(tok.encode('')).toEqual([]);
    expect(tok.encode('', { addBos: true })).toEqual([1]);
    expect(tok.decode(ids)).toBe('Once upon a time');
  });

  it('agrees with a literal port of run.c on varied text', () => {
    const samples = [
      'Once upon a time, there was a little girl named Lily.',
      '  leading spaces and trailing  ',
      'Tabs\tand\nnewlines\r\n',
      'naïve café 😀 日本語 – “quotes” ‘x’ …',
      '<0x41> <s> </s> <unk>',
      'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
    ];
    if (existsSync(GREEDY)) samples.push(readFileSync(GREEDY, 'utf8').slice(0, 300));
    for (const s of samples) {
      expect(tok.encode(s, { addBos: true })).toEqual(runCEncode(tok, s, true));
      expect(tok.encode(s)).toEqual(runCEncode(tok, s, false));
    }
  });

  it('round-trips Unicode through byte fallback', () => {
    for (const s of ['naïve café 😀', 'Ünïcödé — 中文 🎉🎉', ' starts with a space', 'a\n\nb  c']) {
      const ids = tok.encode(s, { addBos: true });
      expect(tok.decode(ids)).toBe(s);
      expect(tok.decode(tok.encode(s))).toBe(s);
    }
    // 'ï' and the emoji are not pieces, so they must come out as byte tokens (ids 3..258).
    const ids = tok.encode('naïve 😀');
    expect(ids.filter((i) => i >= 3 && i <= 258).map((i) => i - 3)).toEqual([
      0xc3, 0xaf, 0xf0, 0x9f, 0x98, 0x80,
    ]);
  });

  it('decodes byte tokens, drops non-printable single bytes like safe_printf, skips BOS/EOS', () => {
    const b = (x: number): number => x + 3;
    expect(tok.decode([b(0x41), b(0x0a), b(0x42)])).toBe('A\nB');
    expect(tok.decode([b(0xc3), b(0xa9)])).toBe('é');
    expect(tok.decode([b(0x07), b(0x41), b(0x00), b(0x7f)])).toBe('A');
    expect(tok.decode([1, b(0x20), b(0x41)])).toBe(' A'); // a byte token is never space-stripped
    const the = tok.encode('the')[0] as number;
    expect(tok.piece(the)).toBe(' the');
    expect(tok.decode([1, the, the, 2])).toBe('the the');
    expectSealError(() => tok.decode([512]), 'token id 512 out of range');
  });

  it('streams with decodeStep, holding split UTF-8 until complete', () => {
    const s = 'Hi 😀 there, café!';
    const ids = tok.encode(s, { addBos: true });
    let prev: number | undefined;
    const parts: string[] = [];
    for (const id of ids) {
      parts.push(tok.decodeStep(prev, id));
      prev = id;
    }
    expect(parts.join('')).toBe(s);
    expect(parts).toContain('😀');
    expect(parts.filter((p) => p === '').length).toBeGreaterThanOrEqual(4); // BOS + 3 held emoji bytes
    // Continuation after a real previous token keeps its leading space (run.c only strips after BOS).
    const the = tok.encode('the')[0] as number;
    expect(tok.decodeStep(undefined, 1)).toBe('');
    expect(tok.decodeStep(1, the)).toBe('the');
    expect(tok.decodeStep(the, the)).toBe(' the');
  });

  it('round-trips the stories260K reference text', { skip: !existsSync(GREEDY) }, () => {
    const text = readFileSync(GREEDY, 'utf8');
    expect(tok.decode(tok.encode(text, { addBos: true }))).toBe(text);
  });

  it('rejects malformed files with the path in the message', () => {
    const buf = readFileSync(TOK512);
    const cut = join(tmp, 'cut.bin');
    writeFileSync(cut, buf.subarray(0, 1000));
    expectSealError(() => loadTokenizer(cut, { vocabSize: 512 }), cut, 'truncated');
    expectSealError(() => loadTokenizer(cut), cut, 'truncated');
    const short = join(tmp, 'short.bin');
    writeFileSync(short, Buffer.from([1, 0]));
    expectSealError(() => loadTokenizer(short), short, 'too short');
    const absurd = join(tmp, 'absurd.bin');
    const bad = Buffer.from(buf);
    bad.writeInt32LE(-5, 8); // length of record 0
    writeFileSync(absurd, bad);
    expectSealError(() => loadTokenizer(absurd), absurd, 'absurd length -5');
  });
});

function trainingText(): string {
  if (existsSync(SHAKESPEARE)) return readFileSync(SHAKESPEARE, 'utf8').slice(0, 20_000);
  // Without ../shared: biographies from the bundled bioS data, varied enough for a 600-token vocabulary.
  const world = generateWorld({ pretrainPeople: 60, rlPeople: 1, evalPeople: 1 });
  return pretrainDocuments(world, new Rng(1))
    .map((d) => d.text)
    .join('\n')
    .slice(0, 20_000);
}

describe('byte-level BPE (trainer + Hugging Face tokenizer.json)', () => {
  const text = trainingText();
  const specials = ['<|endoftext|>', '<|pad|>'];
  let dir: string;
  let tok: HfTokenizer;
  beforeAll(() => {
    const r = trainByteLevelBpe([text], { vocabSize: 600, specialTokens: specials });
    dir = join(tmp, 'bpe');
    saveTokenizerDir(dir, r.json, {
      bos_token: '<|endoftext|>',
      eos_token: '<|endoftext|>',
      pad_token: '<|pad|>',
    });
    const t = loadTokenizer(dir);
    expect(t).toBeInstanceOf(HfTokenizer);
    tok = t as HfTokenizer;
  });

  it('builds the requested vocabulary with specials at the top', () => {
    expect(tok.vocabSize).toBe(600);
    expect(tok.tokenToId('<|endoftext|>')).toBe(598);
    expect(tok.tokenToId('<|pad|>')).toBe(599);
    expect([tok.bosId, tok.eosId]).toEqual([598, 598]);
    expect(tok.tokenToId(BYTE_TO_UNICODE[0x20] as string)).toBeDefined(); // 'Ġ'
    expect(BYTE_TO_UNICODE[0x20]).toBe('Ġ');
    expect(BYTE_TO_UNICODE[0x0a]).toBe('Ċ');
    expect(tok.encode(' the')).toHaveLength(1); // frequent words become single tokens
    expect(readdirSync(dir).sort()).toEqual(['tokenizer.json', 'tokenizer_config.json']); // no temp files left
  });

  it('round-trips text exactly, including Unicode and whitespace', () => {
    const samples = [
      'Hello, world!',
      'naïve café, Ünïcödé, Straße',
      '中文字符 and 日本語のテキスト',
      'emoji 😀🎉👩‍👩‍👧 mixed',
      'line one\nline two\r\n\ttabbed\n\n',
      'multiple   spaces    here  ',
      "it's we're they'll I'd don't",
      text.slice(0, 2000),
    ];
    for (const s of samples) expect(tok.decode(tok.encode(s))).toBe(s);
    expect(tok.decode([])).toBe('');
    expect(tok.encode('')).toEqual([]);
  });

  it('encodes special tokens to one id and skips them when decoding', () => {
    expect(tok.encode('<|endoftext|>')).toEqual([598]);
    const ids = tok.encode('a<|endoftext|>b<|pad|>');
    expect(ids.filter((i) => i === 598 || i === 599)).toEqual([598, 599]);
    expect(tok.decode(ids)).toBe('ab');
    expect(tok.encode('hi', { addBos: true })[0]).toBe(598);
  });

  it('streams with decodeStep, equal to decode', () => {
    const s = `Once 😀 more, 中文 — ${text.slice(0, 3000)}`;
    const ids = tok.encode(s);
    let prev: number | undefined;
    let out = '';
    for (const id of ids) {
      out += tok.decodeStep(prev, id);
      prev = id;
    }
    expect(out).toBe(s);
    // A continuation after a known previous id, on a fresh stream, keeps its own text (leading space included).
    const last = tok.encode('hello').at(-1);
    const [the] = tok.encode(' the');
    expect(tok.decodeStep(last, the as number)).toBe(' the');
    expect(tok.decodeStep(last, the as number)).toBe(' the');
  });

  it('is deterministic and input-order independent', () => {
    const parts = text.split('\n\n');
    const a = trainByteLevelBpe(parts, { vocabSize: 500 });
    const b = trainByteLevelBpe(parts, { vocabSize: 500 });
    const c = trainByteLevelBpe([...parts].reverse(), { vocabSize: 500 });
    expect(serializeTokenizerJson(a.json)).toBe(serializeTokenizerJson(b.json));
    expect(JSON.stringify(a.json)).toBe(JSON.stringify(c.json));
    expect(a.vocabSize).toBe(500);
    expect(a.merges).toBe(500 - 256 - 1);
  });

  it('loads merges both as "a b" strings and as [a, b] arrays, with identical encodings', () => {
    const r = trainByteLevelBpe([text], {
      vocabSize: 400,
      specialTokens: ['<|endoftext|>'],
      specialTokensAt: 'start',
    });
    const json = JSON.parse(serializeTokenizerJson(r.json)) as { model: { merges: string[] } };
    expect(json.model.merges[0]).toMatch(/^\S+ \S+$/);
    const asArrays = {
      ...json,
      model: { ...json.model, merges: json.model.merges.map((m) => m.split(' ')) },
    };
    const t1 = new HfTokenizer(json, {}, 'strings.json');
    const t2 = new HfTokenizer(asArrays, {}, 'arrays.json');
    expect(t1.tokenToId('<|endoftext|>')).toBe(0);
    expect(t1.eosId).toBe(0); // from the well-known token list, no config given
    expect(t1.bosId).toBeUndefined();
    const s = text.slice(0, 1500);
    expect(t2.encode(s)).toEqual(t1.encode(s));
    expect(t1.decode(t1.encode(s))).toBe(s);
  });

  it('takes bos/eos from tokenizer_config.json, special_tokens_map.json or the caller', () => {
    const r = trainByteLevelBpe([text], { vocabSize: 300, specialTokens: ['<s>', '</s>'] });
    const d = join(tmp, 'ids');
    saveTokenizerDir(d, r.json, { eos_token: { content: '</s>' } });
    writeFileSync(join(d, 'special_tokens_map.json'), JSON.stringify({ bos_token: '<s>', eos_token: '<s>' }));
    const t = loadTokenizer(d);
    expect([t.bosId, t.eosId]).toEqual([298, 299]);
    const t2 = loadTokenizer(join(d, 'tokenizer.json'), { bosId: 5, eosId: 6, vocabSize: 320 });
    expect([t2.bosId, t2.eosId, t2.vocabSize]).toEqual([5, 6, 320]);
    expectSealError(() => loadTokenizer(d, { vocabSize: 100 }), 'model vocab size 100');
    const t3 = new HfTokenizer(r.json, { bos_token: null, eos_token: { content: '</s>' } }, 'x.json');
    expect([t3.bosId, t3.eosId]).toEqual([undefined, 299]); // explicit null: no well-known fallback
    expectSealError(
      () => new HfTokenizer(r.json, { eos_token: '<eot>' }, 'x.json'),
      'x.json',
      'eos_token "<eot>"',
    );
  });

  it('trains ~1 MB quickly', { skip: !existsSync(SHAKESPEARE) }, () => {
    const corpus = readFileSync(SHAKESPEARE, 'utf8');
    const t0 = performance.now();
    const r = trainByteLevelBpe([corpus], { vocabSize: 4096 });
    const ms = performance.now() - t0;
    console.log(`BPE: trained ${r.vocabSize} tokens on ${corpus.length} chars in ${ms.toFixed(0)} ms`);
    expect(r.vocabSize).toBe(4096);
  });

  it('validates trainer options', () => {
    expectSealError(() => trainByteLevelBpe(['x'], { vocabSize: 200 }), 'BPE vocab size 200');
    expectSealError(
      () => trainByteLevelBpe(['x'], { vocabSize: 300, specialTokens: ['a', 'a'] }),
      'distinct',
    );
    // A tiny corpus runs out of pairs: the vocabulary is smaller than asked, and says so.
    expect(trainByteLevelBpe(['abab'], { vocabSize: 1000 }).vocabSize).toBe(258);
  });
});

describe('loadTokenizer errors', () => {
  it('names the path when nothing is there', () => {
    const missing = join(tmp, 'nope');
    expectSealError(() => loadTokenizer(missing), missing, 'tokenizer not found', 'tokenizer.json');
    const empty = join(tmp, 'empty-dir');
    mkdirSync(empty);
    expectSealError(() => loadTokenizer(empty), empty, 'no tokenizer.json in this directory');
    const other = join(tmp, 'vocab.txt');
    writeFileSync(other, 'x');
    expectSealError(() => loadTokenizer(other), other, 'unrecognised tokenizer file');
    expectSealError(() => HfTokenizer.load(empty), empty, 'no tokenizer.json');
  });

  it('reports invalid JSON and unsupported models with the file name', () => {
    const d = join(tmp, 'badjson');
    mkdirSync(d);
    writeFileSync(join(d, 'tokenizer.json'), '{"model": ');
    expectSealError(() => loadTokenizer(d), join(d, 'tokenizer.json'), 'invalid JSON');
    const f = join(tmp, 'weird.json');
    writeFileSync(f, JSON.stringify({ model: { type: 'Mystery', vocab: {} } }));
    expectSealError(() => loadTokenizer(f), f, 'unsupported model type "Mystery"');
    const g = join(tmp, 'array.json');
    writeFileSync(g, '[]');
    expectSealError(() => loadTokenizer(g), g, 'must be a JSON object');
    const d2 = join(tmp, 'badconfig');
    saveTokenizerDir(d2, trainByteLevelBpe(['hello'], { vocabSize: 260 }).json, {});
    writeFileSync(join(d2, 'tokenizer_config.json'), 'nope');
    expectSealError(() => loadTokenizer(d2), join(d2, 'tokenizer_config.json'), 'invalid JSON');
  });
});
