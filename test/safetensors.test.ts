import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SealError } from '../src/errors.js';
import {
  bf16ArrayToF32,
  bf16ToF32,
  f16ArrayToF32,
  f16ToF32,
  f32ArrayToBf16,
  f32ArrayToF16,
  f32Bits,
  f32BitsToBf16,
  f32BitsToF16,
  f32FromBits,
  f32ToBf16,
  f32ToF16,
} from '../src/model/io/dtype.js';
import {
  type NamedTensors,
  parseSafetensors,
  readSafetensors,
  readSafetensorsDir,
  readSafetensorsHeader,
  serializeSafetensors,
  type TensorInput,
  writeSafetensors,
  writeSafetensorsDir,
} from '../src/model/io/safetensors.js';

let root = '';
beforeAll(async () => {
  root = await fs.mkdtemp(join(tmpdir(), 'seal-safetensors-'));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

let counter = 0;
async function freshDir(): Promise<string> {
  const dir = join(root, `case-${counter++}`);
  await fs.mkdir(dir);
  return dir;
}

/** Deterministic PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const bitsOf = (a: Float32Array): number[] => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];

async function sealError(p: Promise<unknown>): Promise<SealError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(SealError);
    expect((e as Error).message).not.toContain('\n');
    return e as SealError;
  }
  throw new Error('expected a SealError, got success');
}

/** Builds a safetensors file byte by byte, the way Python's safetensors lays it out. */
function buildFile(
  header: string | Uint8Array,
  data: Uint8Array,
  opts: { pad?: boolean; length?: bigint } = {},
) {
  let json = typeof header === 'string' ? new TextEncoder().encode(header) : header;
  if (opts.pad ?? true) {
    const padded = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
    padded.set(json);
    json = padded;
  }
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, opts.length ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/**
 * Reference rounding by search: the encodable value nearest |x|, ties to the even bit pattern. Positive finite
 * bit patterns 0..maxBits are monotonic in value; infBits stands for the next power of two, as IEEE overflow does.
 */
function referenceEncode(
  x: number,
  decode: (h: number) => number,
  maxBits: number,
  infValue: number,
): number {
  if (Number.isNaN(x)) return -1;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  const value = (h: number): number => (h > maxBits ? infValue : decode(h));
  if (a >= infValue) return sign | (maxBits + 1);
  let lo = 0;
  let hi = maxBits + 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (value(mid) <= a) lo = mid;
    else hi = mid;
  }
  const dLo = a - value(lo);
  const dHi = value(hi) - a;
  const pick = dLo < dHi ? lo : dLo > dHi ? hi : lo % 2 === 0 ? lo : hi;
  return sign | pick;
}

describe('dtype: F16', () => {
  it('encodes edge values exactly', () => {
    expect(f32ToF16(0)).toBe(0x0000);
    expect(f32ToF16(-0)).toBe(0x8000);
    expect(f32ToF16(1)).toBe(0x3c00);
    expect(f32ToF16(-2)).toBe(0xc000);
    expect(f32ToF16(65504)).toBe(0x7bff);
    expect(f32ToF16(65519)).toBe(0x7bff); // just under the overflow midpoint
    expect(f32ToF16(65520)).toBe(0x7c00); // the midpoint ties to even, which is infinity
    expect(f32ToF16(2 ** -14)).toBe(0x0400); // 6.1035e-5, smallest normal
    expect(f32ToF16(6.1e-5)).toBe(0x03ff); // just below: largest subnormal
    expect(f32ToF16(5.96e-8)).toBe(0x0001); // rounds up to the smallest subnormal 2^-24
    expect(f32ToF16(2 ** -25)).toBe(0x0000); // tie between 0 and 2^-24 goes to even (0)
    expect(f32ToF16(-(2 ** -25))).toBe(0x8000);
    expect(f32ToF16(1.5 * 2 ** -25)).toBe(0x0001);
    expect(f32ToF16(3 * 2 ** -25)).toBe(0x0002); // tie between 1 and 2 units goes to 2
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00); // tie, down to even
    expect(f32ToF16(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie, up to even
    expect(f32ToF16(2049)).toBe(0x6800); // 2048
    expect(f32ToF16(2051)).toBe(0x6802); // 2052
    expect(f32ToF16(1e-9)).toBe(0);
    expect(f32ToF16(1e10)).toBe(0x7c00);
    expect(f32ToF16(Number.POSITIVE_INFINITY)).toBe(0x7c00);
    expect(f32ToF16(Number.NEGATIVE_INFINITY)).toBe(0xfc00);
    const nan = f32ToF16(Number.NaN);
    expect(nan & 0x7c00).toBe(0x7c00);
    expect(nan & 0x3ff).not.toBe(0);
    // A NaN whose payload is only in bits dropped by the narrowing must stay NaN, not become infinity.
    expect(f32BitsToF16(0x7f800001) & 0x3ff).not.toBe(0);
  });

  it('decodes edge values exactly', () => {
    expect(Object.is(f16ToF32(0x8000), -0)).toBe(true);
    expect(f16ToF32(0x0000)).toBe(0);
    expect(f16ToF32(0x3c00)).toBe(1);
    expect(f16ToF32(0x0001)).toBe(2 ** -24);
    expect(f16ToF32(0x03ff)).toBe(1023 * 2 ** -24);
    expect(f16ToF32(0x0400)).toBe(2 ** -14);
    expect(f16ToF32(0x7bff)).toBe(65504);
    expect(f16ToF32(0xfbff)).toBe(-65504);
    expect(f16ToF32(0x7c00)).toBe(Number.POSITIVE_INFINITY);
    expect(f16ToF32(0xfc00)).toBe(Number.NEGATIVE_INFINITY);
    expect(f16ToF32(0x7e00)).toBeNaN();
  });

  it('round-trips all 65536 bit patterns exactly (NaN payloads included)', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    expect([...f32ArrayToF16(f16ArrayToF32(all))]).toEqual([...all]);
  });

  it('rounds to nearest even like a brute-force reference, at every midpoint and at random', () => {
    const check = (bits: number) => {
      const x = f32FromBits(bits);
      if (Number.isNaN(x)) return;
      const want = referenceEncode(x, f16ToF32, 0x7bff, 65536);
      const got = f32BitsToF16(bits);
      if (got !== want)
        expect({ bits: bits.toString(16), got }).toEqual({ bits: bits.toString(16), got: want });
    };
    for (let h = 0; h < 0x7bff; h++) {
      const mid = f32Bits((f16ToF32(h) + f16ToF32(h + 1)) / 2);
      for (const b of [mid - 1, mid, mid + 1]) {
        check(b);
        check(b | 0x80000000);
      }
    }
    const r = rng(1);
    for (let i = 0; i < 100_000; i++) check(Math.floor(r() * 2 ** 32));
  });
});

describe('dtype: BF16', () => {
  it('encodes and decodes edge values', () => {
    expect(f32ToBf16(0)).toBe(0x0000);
    expect(f32ToBf16(-0)).toBe(0x8000);
    expect(f32ToBf16(1)).toBe(0x3f80);
    expect(bf16ToF32(0x3f80)).toBe(1);
    expect(bf16ToF32(0x4049)).toBe(3.140625);
    expect(f32ToBf16(1 + 2 ** -8)).toBe(0x3f80); // tie, down to even
    expect(f32ToBf16(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie, up to even
    expect(f32ToBf16(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81); // above the tie
    expect(f32ToBf16(3.4028234663852886e38)).toBe(0x7f80); // max float32 rounds up to infinity
    expect(f32ToBf16(Number.NEGATIVE_INFINITY)).toBe(0xff80);
    expect(Object.is(bf16ToF32(0x8000), -0)).toBe(true);
    expect(bf16ToF32(f32ToBf16(Number.NaN))).toBeNaN();
    expect(f32BitsToBf16(0x7f800001) & 0x7f).not.toBe(0); // low-payload NaN stays NaN
    expect(f32BitsToBf16(0xffc00000)).toBe(0xffc0);
    expect(bf16ToF32(0x0001)).toBe(2 ** -133); // subnormal
  });

  it('round-trips all 65536 bit patterns exactly', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    expect([...f32ArrayToBf16(bf16ArrayToF32(all))]).toEqual([...all]);
  });

  it('rounds to nearest even like a brute-force reference', () => {
    const check = (bits: number) => {
      const x = f32FromBits(bits);
      if (Number.isNaN(x)) return;
      const want = referenceEncode(x, bf16ToF32, 0x7f7f, 2 ** 128);
      const got = f32BitsToBf16(bits);
      if (got !== want)
        expect({ bits: bits.toString(16), got }).toEqual({ bits: bits.toString(16), got: want });
    };
    for (let h = 0; h < 0x7f7f; h += 7) {
      const mid = ((h << 16) | 0x8000) >>> 0;
      for (const b of [mid - 1, mid, mid + 1]) {
        check(b);
        check((b | 0x80000000) >>> 0);
      }
    }
    const r = rng(2);
    for (let i = 0; i < 100_000; i++) check(Math.floor(r() * 2 ** 32));
  });
});

describe('safetensors read/write', () => {
  it('round-trips F32 bit-exactly, including NaN payloads, -0, scalars and empty tensors', async () => {
    const r = rng(3);
    const weird = new Uint32Array(15).map(() => Math.floor(r() * 2 ** 32));
    weird.set([0x80000000, 0x7f800000, 0x7fc00001, 0xffbfffff, 0x00000001], 0);
    const tensors = new Map<string, TensorInput>([
      ['layer.0.weight', { shape: [3, 5], data: new Float32Array(weird.buffer) }],
      ['scalar', { shape: [], data: new Float32Array([Math.PI]) }],
      ['empty', { shape: [0, 4], data: new Float32Array(0) }],
      ['10', { shape: [1], data: new Float32Array([10]) }],
      ['2', { shape: [2], data: new Float32Array([2, 2]) }],
    ]);
    const path = join(await freshDir(), 'model.safetensors');
    await writeSafetensors(path, tensors, { metadata: { format: 'pt', note: 'hé "quoted"' } });
    const back = await readSafetensors(path);
    expect([...back.keys()].sort()).toEqual([...tensors.keys()].sort());
    for (const [name, t] of tensors) {
      const got = back.get(name)!;
      expect(got.dtype).toBe('F32');
      expect(got.shape).toEqual(t.shape);
      expect(bitsOf(got.data)).toEqual(bitsOf(t.data));
    }
    const header = await readSafetensorsHeader(path);
    expect(header.metadata).toEqual({ format: 'pt', note: 'hé "quoted"' });
    expect(header.dataStart % 8).toBe(0);
    expect(header.tensors.get('layer.0.weight')?.dataOffsets[1]).toBeGreaterThan(0);
  });

  it('writes deterministic bytes: sorted by name, header padded with spaces to 8 bytes', () => {
    const a = { shape: [2], data: new Float32Array([1, 2]) };
    const b = { shape: [1], data: new Float32Array([3]) };
    const fromMap = serializeSafetensors(
      new Map([
        ['b', b],
        ['a', a],
        ['10', a],
        ['9', b],
      ]),
    );
    const fromRecord = serializeSafetensors({ 9: b, a, b, 10: a });
    expect(fromRecord).toEqual(fromMap);
    const n = Number(new DataView(fromMap.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const text = new TextDecoder().decode(fromMap.subarray(8, 8 + n));
    expect(text.trimEnd().endsWith('}')).toBe(true);
    expect(/^ *$/.test(text.slice(text.trimEnd().length))).toBe(true);
    const order = ['"10"', '"9"', '"a"', '"b"'].map((k) => text.indexOf(k));
    expect(order).toEqual([...order].sort((x, y) => x - y));
    expect(JSON.parse(text)['10']).toEqual({ dtype: 'F32', shape: [2], data_offsets: [0, 8] });
  });

  it('round-trips F16 and BF16: exact for representable values, otherwise within half an ulp', async () => {
    const exact16 = [
      0,
      -0,
      1,
      -2,
      0.5,
      65504,
      -65504,
      2 ** -24,
      2 ** -14,
      1023 * 2 ** -24,
      Infinity,
      -Infinity,
    ];
    const exactB16 = [0, -0, 1, -2, 3.140625, bf16ToF32(f32ToBf16(1e38)), 2 ** -133, Infinity];
    const r = rng(4);
    const random = Float32Array.from({ length: 1000 }, () => (r() - 0.5) * 2 ** Math.floor(r() * 20 - 10));
    const dir = await freshDir();
    for (const [dtype, exact, relErr] of [
      ['F16', exact16, 2 ** -11],
      ['BF16', exactB16, 2 ** -8],
    ] as const) {
      const path = join(dir, `${dtype}.safetensors`);
      const tensors = {
        exact: {
          shape: [exact.length],
          data: Float32Array.from([...exact, Number.NaN]).subarray(0, exact.length),
        },
        nan: { shape: [1], data: new Float32Array([Number.NaN]) },
        random: { shape: [10, 100], data: random },
      };
      await writeSafetensors(path, tensors, { dtype });
      expect((await readSafetensorsHeader(path)).tensors.get('random')?.dtype).toBe(dtype);
      const back = await readSafetensors(path);
      expect([...back.get('exact')!.data].map((v) => (Object.is(v, -0) ? '-0' : v))).toEqual(
        exact.map((v) => (Object.is(v, -0) ? '-0' : v)),
      );
      expect(back.get('nan')!.data[0]).toBeNaN();
      const got = back.get('random')!.data;
      for (let i = 0; i < random.length; i++) {
        const want = random[i]!;
        // Half an ulp relative, or half the smallest subnormal step near zero.
        const tol = Math.max(Math.abs(want) * relErr, dtype === 'F16' ? 2 ** -25 : 0);
        expect(Math.abs(got[i]! - want)).toBeLessThanOrEqual(tol);
      }
    }
  });

  it('reads a file built byte by byte as Python would (every dtype, metadata, padded header)', async () => {
    // Python orders tensors by dtype alignment (largest first), then name.
    const f64 = bytesOf(new Float64Array([1.5, -2.25]));
    const i64 = bytesOf(new BigInt64Array([0n, -1n, 1234567n]));
    const u64 = bytesOf(new BigUint64Array([2n ** 40n]));
    const f32 = bytesOf(new Float32Array([1, 2, 3.5, -0]));
    const i32 = bytesOf(new Int32Array([-7, 2147483647]));
    const u32 = bytesOf(new Uint32Array([4294967295]));
    const b16 = bytesOf(new Uint16Array([0x3f80, 0x4049]));
    const h16 = bytesOf(new Uint16Array([0x3c00, 0xc000, 0x7bff]));
    const i16 = bytesOf(new Int16Array([-32768]));
    const u16 = bytesOf(new Uint16Array([65535]));
    const bool = new Uint8Array([1, 0, 1]);
    const i8 = bytesOf(new Int8Array([-128, 127]));
    const u8 = new Uint8Array([255, 0]);
    const layout: [string, string, number[], Uint8Array][] = [
      ['a64', 'F64', [2], f64],
      ['ids', 'I64', [1, 3], i64],
      ['u64', 'U64', [1], u64],
      ['w', 'F32', [2, 2], f32],
      ['i32', 'I32', [2], i32],
      ['u32', 'U32', [1], u32],
      ['b16', 'BF16', [2], b16],
      ['h16', 'F16', [3], h16],
      ['i16', 'I16', [1], i16],
      ['u16', 'U16', [1], u16],
      ['i8', 'I8', [2], i8],
      ['mask', 'BOOL', [3], bool],
      ['u8', 'U8', [2], u8],
    ];
    let offset = 0;
    const entries = layout.map(([name, dtype, shape, bytes]) => {
      const e = `"${name}":{"dtype":"${dtype}","shape":[${shape.join(',')}],"data_offsets":[${offset},${offset + bytes.length}]}`;
      offset += bytes.length;
      return e;
    });
    const header = `{"__metadata__":{"format":"pt"},${entries.join(',')}}`;
    const file = buildFile(header, concat(...layout.map((l) => l[3])));
    const path = join(await freshDir(), 'python.safetensors');
    await fs.writeFile(path, file);
    const t = await readSafetensors(path);
    const values = (name: string) => [...t.get(name)!.data];
    expect(values('a64')).toEqual([1.5, -2.25]);
    expect(values('ids')).toEqual([0, -1, 1234567]);
    expect(t.get('ids')!.shape).toEqual([1, 3]);
    expect(t.get('ids')!.dtype).toBe('I64');
    expect(values('u64')).toEqual([2 ** 40]);
    expect(values('w').map((v) => (Object.is(v, -0) ? '-0' : v))).toEqual([1, 2, 3.5, '-0']);
    expect(values('i32')).toEqual([-7, 2147483648]); // nearest float32
    expect(values('u32')).toEqual([4294967296]);
    expect(values('b16')).toEqual([1, 3.140625]);
    expect(values('h16')).toEqual([1, -2, 65504]);
    expect(values('i16')).toEqual([-32768]);
    expect(values('u16')).toEqual([65535]);
    expect(values('i8')).toEqual([-128, 127]);
    expect(values('mask')).toEqual([1, 0, 1]);
    expect(values('u8')).toEqual([255, 0]);
    expect((await readSafetensorsHeader(path)).metadata).toEqual({ format: 'pt' });
  });

  it('reads tensors whose data is not aligned (unpadded header, odd offsets)', () => {
    const f32 = bytesOf(new Float32Array([1.25, -3]));
    const f16 = bytesOf(new Uint16Array([0x3c00]));
    const header =
      '{"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},' +
      '"f":{"dtype":"F32","shape":[2],"data_offsets":[1,9]},' +
      '"h":{"dtype":"F16","shape":[1],"data_offsets":[9,11]}}';
    for (const pad of [false, true]) {
      const file = buildFile(header, concat(new Uint8Array([7]), f32, f16), { pad });
      const t = parseSafetensors(file, 'mem.safetensors');
      expect([...t.get('f')!.data]).toEqual([1.25, -3]);
      expect([...t.get('h')!.data]).toEqual([1]);
      expect([...t.get('b')!.data]).toEqual([7]);
    }
  });

  it('reads an empty file (no tensors) and keeps an F32 tensor as a view when aligned', () => {
    expect(parseSafetensors(buildFile('{}', new Uint8Array(0)), 'x').size).toBe(0);
    const file = serializeSafetensors({ w: { shape: [2], data: new Float32Array([1, 2]) } });
    expect(parseSafetensors(file, 'x').get('w')!.data.buffer).toBe(file.buffer);
  });
});

describe('safetensors validation', () => {
  const f32 = (name: string, shape: number[], offsets: [number, number]) =>
    `"${name}":{"dtype":"F32","shape":${JSON.stringify(shape)},"data_offsets":${JSON.stringify(offsets)}}`;
  const zeros = (n: number) => new Uint8Array(n);
  const good = `{${f32('a', [2], [0, 8])}}`;
  const cases: [string, Uint8Array, RegExp][] = [
    ['empty', zeros(0), /shorter than the 8-byte/],
    ['short', new Uint8Array([1, 2, 3]), /shorter than the 8-byte/],
    ['header-past-eof', buildFile(good, zeros(8), { length: 1000n }), /header length 1000 exceeds file size/],
    ['absurd-header', buildFile(good, zeros(8), { length: 2n ** 40n }), /exceeds the 100 MB limit/],
    ['not-json', buildFile('{"a": ', zeros(0)), /header is not valid JSON/],
    ['bad-utf8', buildFile(new Uint8Array([0x7b, 0xff, 0x7d]), zeros(0)), /not valid UTF-8/],
    ['array-header', buildFile('[1, 2]', zeros(0)), /header is not a JSON object/],
    ['null-header', buildFile('null', zeros(0)), /header is not a JSON object/],
    ['metadata-not-object', buildFile('{"__metadata__": 3}', zeros(0)), /__metadata__ is not a JSON object/],
    [
      'metadata-number',
      buildFile('{"__metadata__": {"k": 1}}', zeros(0)),
      /__metadata__ value for "k" is not a string/,
    ],
    ['entry-not-object', buildFile('{"a": 5}', zeros(0)), /tensor "a": header entry is not a JSON object/],
    [
      'unknown-dtype',
      buildFile('{"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}', zeros(1)),
      /tensor "a": unsupported dtype "F8_E4M3"/,
    ],
    [
      'negative-shape',
      buildFile(`{${f32('a', [-1], [0, 0])}}`, zeros(0)),
      /tensor "a": shape \[-1\] is not an array/,
    ],
    ['fraction-shape', buildFile(`{${f32('a', [1.5], [0, 0])}}`, zeros(0)), /shape \[1.5\] is not an array/],
    [
      'string-shape',
      buildFile('{"a":{"dtype":"F32","shape":"2","data_offsets":[0,8]}}', zeros(8)),
      /shape "2" is not an array/,
    ],
    [
      'reversed-offsets',
      buildFile(`{${f32('a', [0], [8, 0])}}`, zeros(8)),
      /tensor "a": data_offsets \[8,0\] is not/,
    ],
    [
      'short-offsets',
      buildFile('{"a":{"dtype":"F32","shape":[0],"data_offsets":[0]}}', zeros(0)),
      /data_offsets \[0\] is not \[begin, end\]/,
    ],
    [
      'missing-offsets',
      buildFile('{"a":{"dtype":"F32","shape":[0]}}', zeros(0)),
      /data_offsets undefined is not/,
    ],
    [
      'size-lie',
      buildFile(`{${f32('a', [3], [0, 8])}}`, zeros(8)),
      /tensor "a": size mismatch, shape \[3\] of F32 needs 12 bytes, data_offsets span 8/,
    ],
    [
      'past-end',
      buildFile(`{${f32('a', [2], [0, 8])}}`, zeros(4)),
      /run past the end of the data section \(4 bytes\)/,
    ],
    [
      'overlap',
      buildFile(`{${f32('a', [2], [0, 8])},${f32('b', [2], [4, 12])}}`, zeros(12)),
      /tensors "a" and "b" overlap/,
    ],
    [
      'gap',
      buildFile(`{${f32('a', [1], [0, 4])},${f32('b', [1], [8, 12])}}`, zeros(12)),
      /gap in the data section: bytes \[4, 8\) precede "b"/,
    ],
    ['trailing', buildFile(`{${f32('a', [1], [0, 4])}}`, zeros(8)), /4 trailing bytes/],
  ];

  for (const [name, bytes, problem] of cases) {
    it(`rejects ${name} with a one-line SealError naming the file`, async () => {
      const path = join(await freshDir(), `${name}.safetensors`);
      await fs.writeFile(path, bytes);
      for (const read of [readSafetensors, readSafetensorsHeader]) {
        const err = await sealError(read(path));
        expect(err.message).toContain(`${name}.safetensors`);
        expect(err.message).toMatch(problem);
        expect(err.file).toBe(path);
      }
    });
  }

  it('rejects a truncated file', async () => {
    const path = join(await freshDir(), 'truncated.safetensors');
    await writeSafetensors(path, { a: { shape: [4], data: new Float32Array(4) } });
    const full = await fs.readFile(path);
    await fs.writeFile(path, full.subarray(0, full.length - 3));
    for (const read of [readSafetensors, readSafetensorsHeader]) {
      const err = await sealError(read(path));
      expect(err.message).toMatch(/truncated\.safetensors: tensor "a": data_offsets .* run past the end/);
    }
  });

  it('reports a missing file', async () => {
    const path = join(root, 'nope.safetensors');
    expect((await sealError(readSafetensors(path))).message).toBe(`${path}: file not found`);
    expect((await sealError(readSafetensorsHeader(path))).message).toBe(`${path}: file not found`);
  });
});

describe('safetensors atomic write', () => {
  it('validates before touching disk: a bad tensor leaves the existing file intact and no tmp file', async () => {
    const dir = await freshDir();
    const path = join(dir, 'model.safetensors');
    await writeSafetensors(path, { ok: { shape: [1], data: new Float32Array([1]) } });
    const before = await fs.readFile(path);
    const bad: [Record<string, TensorInput>, RegExp][] = [
      [
        { ok: { shape: [1], data: new Float32Array([2]) }, w: { shape: [2, 2], data: new Float32Array(3) } },
        /tensor "w": shape \[2,2\] has 4 elements but data has 3/,
      ],
      [{ w: { shape: [-1], data: new Float32Array(0) } }, /tensor "w": shape \[-1\] is not an array/],
      [{ __metadata__: { shape: [0], data: new Float32Array(0) } }, /reserved/],
    ];
    for (const [tensors, problem] of bad) {
      const err = await sealError(writeSafetensors(path, tensors));
      expect(err.message).toContain('model.safetensors');
      expect(err.message).toMatch(problem);
    }
    const badMeta = { k: 1 } as unknown as Record<string, string>;
    expect((await sealError(writeSafetensors(path, {}, { metadata: badMeta }))).message).toMatch(
      /not a string/,
    );
    expect(await fs.readFile(path)).toEqual(before);
    expect(await fs.readdir(dir)).toEqual(['model.safetensors']);
  });

  it('cleans up the tmp file when the final rename fails', async () => {
    const dir = await freshDir();
    const target = join(dir, 'occupied');
    await fs.mkdir(target);
    await fs.writeFile(join(target, 'keep'), 'x');
    const err = await sealError(writeSafetensors(target, { a: { shape: [1], data: new Float32Array(1) } }));
    expect(err.message).toMatch(/occupied: cannot write file/);
    expect((await fs.readdir(dir)).sort()).toEqual(['occupied']);
    expect(await fs.readdir(target)).toEqual(['keep']);
  });

  it('replaces an existing file with the new contents', async () => {
    const path = join(await freshDir(), 'm.safetensors');
    await writeSafetensors(path, { a: { shape: [1], data: new Float32Array([1]) } });
    await writeSafetensors(path, { b: { shape: [2], data: new Float32Array([2, 3]) } });
    expect([...(await readSafetensors(path)).keys()]).toEqual(['b']);
  });
});

describe('Hugging Face weight directories', () => {
  const tensors = (): Map<string, TensorInput> =>
    new Map([
      ['embed', { shape: [4, 8], data: Float32Array.from({ length: 32 }, (_, i) => i / 7) }], // 128 bytes
      ['layers.0.w', { shape: [8, 2], data: Float32Array.from({ length: 16 }, (_, i) => -i) }], // 64 bytes
      ['layers.1.w', { shape: [8, 2], data: Float32Array.from({ length: 16 }, (_, i) => i * 3) }], // 64 bytes
      ['norm', { shape: [8], data: new Float32Array(8).fill(1) }], // 32 bytes
    ]);
  const expectSame = (got: NamedTensors, want: Map<string, TensorInput>) => {
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [name, t] of want) {
      expect(got.get(name)!.shape).toEqual(t.shape);
      expect(bitsOf(got.get(name)!.data)).toEqual(bitsOf(t.data));
    }
  };

  it('writes one model.safetensors when under the shard limit', async () => {
    const dir = await freshDir();
    await writeSafetensorsDir(dir, tensors(), { maxShardBytes: 10_000 });
    expect(await fs.readdir(dir)).toEqual(['model.safetensors']);
    expectSame(await readSafetensorsDir(dir), tensors());
  });

  it('shards over the limit, writes the index, and reads it back', async () => {
    const dir = await freshDir();
    await writeSafetensorsDir(dir, tensors(), { maxShardBytes: 100, metadata: { format: 'pt' } });
    // embed (128 > 100) gets its own shard; the two 64-byte layers cannot share one; norm joins layers.1.
    const shards = [
      'model-00001-of-00003.safetensors',
      'model-00002-of-00003.safetensors',
      'model-00003-of-00003.safetensors',
    ];
    expect((await fs.readdir(dir)).sort()).toEqual([...shards, 'model.safetensors.index.json']);
    const index = JSON.parse(await fs.readFile(join(dir, 'model.safetensors.index.json'), 'utf8'));
    expect(index.metadata).toEqual({ total_size: 288 });
    expect(index.weight_map).toEqual({
      embed: shards[0],
      'layers.0.w': shards[1],
      'layers.1.w': shards[2],
      norm: shards[2],
    });
    expect((await readSafetensorsHeader(join(dir, shards[2]!))).metadata).toEqual({ format: 'pt' });
    expectSame(await readSafetensorsDir(dir), tensors());
  });

  it('sizes shards by the written dtype', async () => {
    const dir = await freshDir();
    await writeSafetensorsDir(dir, tensors(), { maxShardBytes: 100, dtype: 'BF16' });
    const index = JSON.parse(await fs.readFile(join(dir, 'model.safetensors.index.json'), 'utf8'));
    expect(index.metadata.total_size).toBe(144);
    expect(new Set(Object.values(index.weight_map)).size).toBe(2);
    const back = await readSafetensorsDir(dir);
    expect(back.get('norm')!.dtype).toBe('BF16');
    expect([...back.get('layers.1.w')!.data]).toEqual([...tensors().get('layers.1.w')!.data]);
  });

  it('switching layouts removes the stale files of the other layout', async () => {
    const dir = await freshDir();
    await writeSafetensorsDir(dir, tensors(), { maxShardBytes: 100 });
    await fs.writeFile(join(dir, 'config.json'), '{}');
    const small = new Map([['x', { shape: [1], data: new Float32Array([5]) }]]);
    await writeSafetensorsDir(dir, small);
    expect((await fs.readdir(dir)).sort()).toEqual(['config.json', 'model.safetensors']);
    await writeSafetensorsDir(dir, tensors(), { maxShardBytes: 200 });
    expect((await fs.readdir(dir)).sort()).toEqual([
      'config.json',
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
      'model.safetensors.index.json',
    ]);
    expectSame(await readSafetensorsDir(dir), tensors());
  });

  it('rejects an index that maps a tensor to a shard without it', async () => {
    const dir = await freshDir();
    await writeSafetensorsDir(dir, tensors(), { maxShardBytes: 100 });
    const indexPath = join(dir, 'model.safetensors.index.json');
    const index = JSON.parse(await fs.readFile(indexPath, 'utf8'));
    index.weight_map.ghost = 'model-00001-of-00003.safetensors';
    await fs.writeFile(indexPath, JSON.stringify(index));
    const err = await sealError(readSafetensorsDir(dir));
    expect(err.message).toBe(
      `${indexPath}: tensor "ghost" is mapped to model-00001-of-00003.safetensors, which does not contain it`,
    );
  });

  it('rejects a missing shard, an escaping shard name and a broken index', async () => {
    const dir = await freshDir();
    const indexPath = join(dir, 'model.safetensors.index.json');
    await fs.writeFile(indexPath, JSON.stringify({ weight_map: { a: 'model-00001-of-00001.safetensors' } }));
    expect((await sealError(readSafetensorsDir(dir))).message).toBe(
      `${join(dir, 'model-00001-of-00001.safetensors')}: file not found`,
    );
    await fs.writeFile(indexPath, JSON.stringify({ weight_map: { a: '../model.safetensors' } }));
    expect((await sealError(readSafetensorsDir(dir))).message).toMatch(
      /index\.json: weight_map entry for "a" is not a plain/,
    );
    await fs.writeFile(indexPath, '{"weight_map": ');
    expect((await sealError(readSafetensorsDir(dir))).message).toMatch(
      /index\.json: index is not valid JSON/,
    );
    await fs.writeFile(indexPath, '{"metadata": {}}');
    expect((await sealError(readSafetensorsDir(dir))).message).toMatch(
      /index\.json: index has no "weight_map"/,
    );
  });

  it('names the directory and both file names when there are no weights', async () => {
    const dir = await freshDir();
    const err = await sealError(readSafetensorsDir(dir));
    expect(err.message).toBe(
      `${dir}: no weights: neither model.safetensors nor model.safetensors.index.json exists`,
    );
  });

  it('rejects a bad shard limit and bad tensors before writing anything', async () => {
    const dir = join(await freshDir(), 'out');
    expect((await sealError(writeSafetensorsDir(dir, tensors(), { maxShardBytes: 0 }))).message).toMatch(
      /maxShardBytes 0 is not a positive integer/,
    );
    const bad = { w: { shape: [3], data: new Float32Array(2) } };
    expect((await sealError(writeSafetensorsDir(dir, bad))).message).toMatch(/tensor "w": shape \[3\] has 3/);
    await expect(fs.stat(dir)).rejects.toThrow();
  });
});
