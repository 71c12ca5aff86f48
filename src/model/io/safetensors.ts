/**
 * A self-contained reader/writer for the safetensors format (https://github.com/huggingface/safetensors):
 * 8-byte little-endian header length N, N bytes of JSON header, then the tensor bytes, which the header's
 * `data_offsets` (relative to the end of the header) must cover exactly, without overlaps or holes.
 *
 * Every dtype is read into a Float32Array (integers and F64 are converted, so values beyond 2^24 lose precision);
 * `dtype` on the result says what the file stored. The F8/F4/complex dtypes are rejected.
 */
import { promises as fs } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { fail, SealError } from '../../errors.js';
import { bf16ArrayToF32, f16ArrayToF32, f32ArrayToBf16, f32ArrayToF16 } from './dtype.js';

// Bytes per element of every dtype we read (split only to keep lines short). F8/F4/complex are rejected.
const SIGNED_SIZES = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1 } as const;
const UNSIGNED_SIZES = { U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1 } as const;
const SIZES: Readonly<Record<Dtype, number>> = { ...SIGNED_SIZES, ...UNSIGNED_SIZES };
export type Dtype = keyof typeof SIGNED_SIZES | keyof typeof UNSIGNED_SIZES;
export type WriteDtype = 'F32' | 'F16' | 'BF16';

/** A tensor as read: the data is always float32; for F32 files it may be a view into the file's buffer. */
export interface Tensor {
  dtype: Dtype;
  shape: number[];
  data: Float32Array;
}
export type NamedTensors = Map<string, Tensor>;

/** What the writer accepts (a `Tensor` qualifies, so read results can be written back). */
export interface TensorInput {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}
export type TensorsInput = ReadonlyMap<string, TensorInput> | Readonly<Record<string, TensorInput>>;

export interface TensorInfo {
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  /** [begin, end) in bytes, relative to the start of the data section. */
  readonly dataOffsets: readonly [number, number];
}

export interface SafetensorsHeader {
  readonly metadata: Readonly<Record<string, string>>;
  /** In data-offset order. */
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  /** Absolute file offset of the data section (8 + header length). */
  readonly dataStart: number;
  readonly dataBytes: number;
}

export interface WriteOptions {
  readonly dtype?: WriteDtype;
  readonly metadata?: Readonly<Record<string, string>>;
}

/** The Rust implementation's limit; anything bigger is a corrupt length, not a real header. */
const MAX_HEADER_BYTES = 100_000_000;
const LITTLE_ENDIAN_HOST = endianness() === 'LE';

const quote = (s: string): string => JSON.stringify(s);
const oneLine = (s: string): string => s.replace(/\s+/g, ' ').trim();
const errorText = (e: unknown): string => oneLine(e instanceof Error ? e.message : String(e));

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isDtype(v: unknown): v is Dtype {
  return typeof v === 'string' && Object.hasOwn(SIZES, v);
}

function isNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Validates the 8-byte prefix against the file size and returns the header length. */
function headerLength(prefix: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8) fail(`file is ${fileSize} bytes, shorter than the 8-byte header length prefix`, file);
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) fail(`header length ${n} exceeds the 100 MB limit (corrupt file?)`, file);
  if (8n + n > BigInt(fileSize)) fail(`header length ${n} exceeds file size ${fileSize} (truncated?)`, file);
  return Number(n);
}

function isOffsets(v: unknown): v is [number, number] {
  return Array.isArray(v) && v.length === 2 && v.every(isNonNegInt) && v[0]! <= v[1]!;
}

/** Parses and fully validates the JSON header; `dataBytes` is the size of everything after it. */
function parseHeader(raw: Uint8Array, dataStart: number, dataBytes: number, file: string): SafetensorsHeader {
  const bad: (message: string) => never = (message) => fail(message, file);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch (e) {
    bad(`header is not valid ${e instanceof SyntaxError ? 'JSON' : 'UTF-8'} (${errorText(e)})`);
  }
  if (!isPlainObject(json)) bad('header is not a JSON object');

  const metadata: Record<string, string> = {};
  const entries: [string, TensorInfo][] = [];
  for (const [name, entry] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isPlainObject(entry)) bad('__metadata__ is not a JSON object');
      for (const [k, v] of Object.entries(entry)) {
        metadata[k] = typeof v === 'string' ? v : bad(`__metadata__ value for ${quote(k)} is not a string`);
      }
      continue;
    }
    const at = `tensor ${quote(name)}:`;
    if (!isPlainObject(entry)) bad(`${at} header entry is not a JSON object`);
    const { dtype, shape, data_offsets: offsets } = entry;
    const show = JSON.stringify;
    if (!isDtype(dtype))
      bad(`${at} unsupported dtype ${show(dtype)} (expected ${Object.keys(SIZES).join('|')})`);
    if (!Array.isArray(shape) || !shape.every(isNonNegInt)) {
      bad(`${at} shape ${show(shape)} is not an array of non-negative integers`);
    }
    if (!isOffsets(offsets))
      bad(`${at} data_offsets ${show(offsets)} is not [begin, end] with 0 <= begin <= end`);
    const [begin, end] = offsets;
    const need = product(shape) * SIZES[dtype];
    if (need !== end - begin) {
      bad(
        `${at} size mismatch, shape ${show(shape)} of ${dtype} needs ${need} bytes, data_offsets span ${end - begin}`,
      );
    }
    if (end > dataBytes)
      bad(`${at} data_offsets ${show(offsets)} run past the end of the data section (${dataBytes} bytes)`);
    entries.push([name, { dtype, shape: [...shape], dataOffsets: [begin, end] }]);
  }

  // The format requires the tensors to tile the data section exactly: no overlaps, holes or trailing bytes.
  entries.sort(([, a], [, b]) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  let covered = 0;
  let prev = '';
  for (const [name, { dataOffsets }] of entries) {
    const [begin, end] = dataOffsets;
    if (begin < covered)
      bad(`tensors ${quote(prev)} and ${quote(name)} overlap (byte ${begin} < ${covered})`);
    if (begin > covered) bad(`gap in the data section: bytes [${covered}, ${begin}) precede ${quote(name)}`);
    covered = end;
    prev = name;
  }
  if (covered !== dataBytes) bad(`${dataBytes - covered} trailing bytes after the last tensor's data`);
  return { metadata, tensors: new Map(entries), dataStart, dataBytes };
}

/** A fresh, aligned copy of `bytes` in host byte order (each `size`-byte element swapped on big-endian hosts). */
function hostOrderCopy(bytes: Uint8Array, size: number): ArrayBuffer {
  // A fresh buffer holding exactly these bytes: `bytes.slice()` on a Node Buffer is a view of the whole file,
  // and its `.buffer` would start at the file's first byte (misaligned data sections were decoded from there).
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  if (!LITTLE_ENDIAN_HOST) for (let i = 0; i < copy.length; i += size) copy.subarray(i, i + size).reverse();
  return copy.buffer;
}

type View<T> = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => T;

/** A typed-array view of `bytes` when it is aligned and in host order; otherwise a view of a copy. */
function viewOf<T>(bytes: Uint8Array, size: number, View: View<T>): T {
  const length = bytes.length / size;
  const direct = LITTLE_ENDIAN_HOST && bytes.byteOffset % size === 0;
  return direct
    ? new View(bytes.buffer, bytes.byteOffset, length)
    : new View(hostOrderCopy(bytes, size), 0, length);
}

const VIEWS: Readonly<Record<Exclude<Dtype, 'F16' | 'BF16' | 'BOOL'>, View<ArrayLike<number | bigint>>>> = {
  F64: Float64Array,
  F32: Float32Array,
  I64: BigInt64Array,
  I32: Int32Array,
  I16: Int16Array,
  I8: Int8Array,
  U64: BigUint64Array,
  U32: Uint32Array,
  U16: Uint16Array,
  U8: Uint8Array,
};

function decode(bytes: Uint8Array, dtype: Dtype): Float32Array {
  if (dtype === 'BOOL') return Float32Array.from(bytes, (v) => (v === 0 ? 0 : 1));
  if (dtype === 'F16') return f16ArrayToF32(viewOf(bytes, 2, Uint16Array));
  if (dtype === 'BF16') return bf16ArrayToF32(viewOf(bytes, 2, Uint16Array));
  const view = viewOf(bytes, SIZES[dtype], VIEWS[dtype]);
  return view instanceof Float32Array ? view : Float32Array.from(view, Number);
}

/** Parses a whole safetensors file already in memory. `file` only names it in errors. */
export function parseSafetensors(bytes: Uint8Array, file: string): NamedTensors {
  const n = headerLength(bytes, bytes.length, file);
  const header = parseHeader(bytes.subarray(8, 8 + n), 8 + n, bytes.length - 8 - n, file);
  const out: NamedTensors = new Map();
  for (const [name, info] of header.tensors) {
    const [begin, end] = info.dataOffsets;
    const slice = bytes.subarray(header.dataStart + begin, header.dataStart + end);
    out.set(name, { dtype: info.dtype, shape: [...info.shape], data: decode(slice, info.dtype) });
  }
  return out;
}

/** Rethrows SealErrors; turns I/O errors into one-line SealErrors naming `path`. */
function ioFail(e: unknown, path: string, what: string): never {
  if (e instanceof SealError) throw e;
  const reading = what === 'read file' || what === 'open file';
  if (reading && (e as NodeJS.ErrnoException).code === 'ENOENT') fail('file not found', path);
  fail(`cannot ${what} (${errorText(e)})`, path);
}

async function readWhole(path: string): Promise<Buffer> {
  return fs.readFile(path).catch((e: unknown) => ioFail(e, path, 'read file'));
}

/** Reads every tensor of a safetensors file (one read of the whole file) as float32. */
export async function readSafetensors(path: string): Promise<NamedTensors> {
  return parseSafetensors(await readWhole(path), path);
}

/** Reads and validates only the header (and the file size), for cheap checks and metadata. */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  const handle = await fs.open(path, 'r').catch((e: unknown) => ioFail(e, path, 'open file'));
  try {
    const size = (await handle.stat()).size;
    const readAt = async (position: number, length: number): Promise<Uint8Array> => {
      const buf = new Uint8Array(length);
      const { bytesRead } = await handle.read(buf, 0, length, position);
      return bytesRead === length ? buf : fail('file shrank while its header was read', path);
    };
    const n = headerLength(size >= 8 ? await readAt(0, 8) : new Uint8Array(8), size, path);
    return parseHeader(await readAt(8, n), 8 + n, size - 8 - n, path);
  } catch (e) {
    ioFail(e, path, 'read file');
  } finally {
    await handle.close();
  }
}

function entriesOf(tensors: TensorsInput): [string, TensorInput][] {
  const list: [string, TensorInput][] =
    tensors instanceof Map ? [...(tensors as ReadonlyMap<string, TensorInput>)] : Object.entries(tensors);
  // Code-unit order, not locale order, so the bytes never depend on the machine.
  return list.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Checks names, shapes and lengths; `file` names the destination in errors. */
function validateInput(entries: readonly [string, TensorInput][], file: string): void {
  for (const [name, { shape, data }] of entries) {
    const bad: (message: string) => never = (message) => fail(`tensor ${quote(name)}: ${message}`, file);
    if (name === '__metadata__') bad('the name __metadata__ is reserved');
    if (!(data instanceof Float32Array)) bad('data is not a Float32Array');
    const show = JSON.stringify(shape);
    if (!Array.isArray(shape) || !shape.every(isNonNegInt))
      bad(`shape ${show} is not an array of non-negative integers`);
    const count = product(shape);
    if (count !== data.length) bad(`shape ${show} has ${count} elements but data has ${data.length}`);
  }
}

function encodeData(data: Float32Array, dtype: WriteDtype): Uint8Array {
  const typed = dtype === 'F32' ? data : dtype === 'F16' ? f32ArrayToF16(data) : f32ArrayToBf16(data);
  const bytes = new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
  return LITTLE_ENDIAN_HOST ? bytes : new Uint8Array(hostOrderCopy(bytes, typed.BYTES_PER_ELEMENT));
}

/**
 * Serialises tensors (sorted by name) to safetensors bytes. The header is padded with spaces to a multiple of 8,
 * as the Rust implementation does, so the data section starts aligned. `file` only names the destination in errors.
 */
export function serializeSafetensors(tensors: TensorsInput, options: WriteOptions = {}, file = '<memory>') {
  const dtype = options.dtype ?? 'F32';
  if (!['F32', 'F16', 'BF16'].includes(dtype)) fail(`cannot write dtype ${JSON.stringify(dtype)}`, file);
  const entries = entriesOf(tensors);
  validateInput(entries, file);
  const size = SIZES[dtype];

  // Built by hand rather than JSON.stringify(object): JS objects put integer-like keys first, whatever the order.
  const parts: string[] = [];
  if (options.metadata !== undefined) {
    for (const [k, v] of Object.entries(options.metadata)) {
      if (typeof v !== 'string') fail(`metadata value for ${quote(k)} is not a string`, file);
    }
    parts.push(`"__metadata__":${JSON.stringify(options.metadata)}`);
  }
  let offset = 0;
  for (const [name, t] of entries) {
    const end = offset + t.data.length * size;
    parts.push(`${quote(name)}:${JSON.stringify({ dtype, shape: t.shape, data_offsets: [offset, end] })}`);
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLen = json.length + ((8 - (json.length % 8)) % 8);

  const out = new Uint8Array(8 + headerLen + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
  out.fill(0x20, 8, 8 + headerLen);
  out.set(json, 8);
  let pos = 8 + headerLen;
  for (const [, t] of entries) {
    const bytes = encodeData(t.data, dtype);
    out.set(bytes, pos);
    pos += bytes.length;
  }
  return out;
}

/**
 * Writes `bytes` to `path` via `path.tmp-<pid>` + fsync + rename, so readers see the old file or the new one, never
 * a partial one; the temporary file is removed on failure.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    const handle = await fs.open(tmp, 'w');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, path);
  } catch (e) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    ioFail(e, path, 'write file');
  }
}

/** Writes tensors to one safetensors file, atomically; everything is validated before anything touches disk. */
export async function writeSafetensors(path: string, tensors: TensorsInput, options: WriteOptions = {}) {
  await writeFileAtomic(path, serializeSafetensors(tensors, options, path));
}

/** The byte size `writeSafetensors` gives a tensor's data in `dtype`. */
export function tensorByteSize(t: TensorInput, dtype: WriteDtype = 'F32'): number {
  return t.data.length * SIZES[dtype];
}

// ---- Hugging Face weight directories: model.safetensors, or shards plus model.safetensors.index.json ----

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';
const SHARD_FILE = /^model-\d{5}-of-\d{5}\.safetensors$/;

export interface WriteDirOptions extends WriteOptions {
  /** Above this many bytes of tensor data, write shards + index instead of one file (as HF's max_shard_size). */
  readonly maxShardBytes?: number;
}

async function exists(path: string): Promise<boolean> {
  try {
    await fs.stat(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    ioFail(e, path, 'access');
  }
}

/** Reads an index's weight_map, checking every shard is a bare file name (it must not escape the directory). */
async function readWeightMap(indexPath: string): Promise<Map<string, string>> {
  const bad: (message: string) => never = (message) => fail(message, indexPath);
  const text = (await readWhole(indexPath)).toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    bad(`index is not valid JSON (${errorText(e)})`);
  }
  if (!isPlainObject(json) || !isPlainObject(json['weight_map'])) bad('index has no "weight_map" object');
  const map = new Map<string, string>();
  for (const [name, shard] of Object.entries(json['weight_map'])) {
    if (typeof shard !== 'string' || shard === '' || shard === '.' || shard === '..' || /[\\/]/.test(shard)) {
      bad(`weight_map entry for ${quote(name)} is not a plain shard file name: ${JSON.stringify(shard)}`);
    }
    map.set(name, shard);
  }
  return map;
}

/**
 * Loads a weight directory: `model.safetensors` when present (as transformers prefers it), else every shard named
 * by `model.safetensors.index.json`. Only tensors listed in weight_map are returned, each from its mapped shard.
 */
export async function readSafetensorsDir(dir: string): Promise<NamedTensors> {
  const single = join(dir, SINGLE_FILE);
  if (await exists(single)) return readSafetensors(single);
  const indexPath = join(dir, INDEX_FILE);
  if (!(await exists(indexPath))) fail(`no weights: neither ${SINGLE_FILE} nor ${INDEX_FILE} exists`, dir);
  const weightMap = await readWeightMap(indexPath);
  const shards = new Map<string, NamedTensors>();
  for (const shard of new Set(weightMap.values())) shards.set(shard, await readSafetensors(join(dir, shard)));
  const out: NamedTensors = new Map();
  for (const [name, shard] of weightMap) {
    const t = shards.get(shard)?.get(name);
    if (t === undefined)
      fail(`tensor ${quote(name)} is mapped to ${shard}, which does not contain it`, indexPath);
    out.set(name, t);
  }
  return out;
}

/**
 * Writes a weight directory: one `model.safetensors`, or (when the data exceeds `maxShardBytes`) shards
 * `model-0000i-of-0000N.safetensors` filled greedily in name order plus the index. A tensor bigger than the limit
 * gets a shard of its own. Files of the other layout, and shards not in the new set, are removed afterwards so
 * `readSafetensorsDir` cannot pick up stale weights.
 */
export async function writeSafetensorsDir(dir: string, tensors: TensorsInput, options: WriteDirOptions = {}) {
  const entries = entriesOf(tensors);
  validateInput(entries, dir);
  const { maxShardBytes: max, dtype = 'F32', metadata } = options;
  if (max !== undefined && !(Number.isSafeInteger(max) && max > 0)) {
    fail(`maxShardBytes ${max} is not a positive integer`, dir);
  }
  await fs.mkdir(dir, { recursive: true }).catch((e: unknown) => ioFail(e, dir, 'create directory'));
  const fileOptions: WriteOptions = metadata === undefined ? { dtype } : { dtype, metadata };
  const total = entries.reduce((sum, [, t]) => sum + tensorByteSize(t, dtype), 0);
  if (max === undefined || total <= max) {
    await writeSafetensors(join(dir, SINGLE_FILE), new Map(entries), fileOptions);
    return removeStale(dir, new Set([SINGLE_FILE]));
  }
  const groups: [string, TensorInput][][] = [[]];
  let bytes = 0;
  for (const entry of entries) {
    const size = tensorByteSize(entry[1], dtype);
    if (groups.at(-1)!.length > 0 && bytes + size > max) {
      groups.push([]);
      bytes = 0;
    }
    groups.at(-1)!.push(entry);
    bytes += size;
  }
  const pad = (i: number): string => String(i).padStart(5, '0');
  const names = groups.map((_, i) => `model-${pad(i + 1)}-of-${pad(groups.length)}.safetensors`);
  const weightMap: Record<string, string> = {};
  for (const [i, group] of groups.entries()) {
    await writeSafetensors(join(dir, names[i]!), new Map(group), fileOptions);
    for (const [name] of group) weightMap[name] = names[i]!;
  }
  const index = { metadata: { total_size: total }, weight_map: weightMap };
  await writeFileAtomic(join(dir, INDEX_FILE), `${JSON.stringify(index, null, 2)}\n`);
  await removeStale(dir, new Set([INDEX_FILE, ...names]));
}

async function removeStale(dir: string, keep: ReadonlySet<string>): Promise<void> {
  try {
    for (const f of await fs.readdir(dir)) {
      const ours = f === SINGLE_FILE || f === INDEX_FILE || SHARD_FILE.test(f);
      if (ours && !keep.has(f)) await fs.rm(join(dir, f));
    }
  } catch (e) {
    ioFail(e, dir, 'remove stale weight files');
  }
}

/**
 * Refuses NaN/Inf weights: a model or adapter holding them loads "fine" and then answers nothing (every logit
 * NaN), which looks like a bad result rather than a bad file. `what` names the tensor.
 */
export function assertFinite(data: Float32Array, file: string, what: string): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    if (v - v !== 0)
      throw new SealError(`tensor ${what} holds ${Number.isNaN(v) ? 'NaN' : 'Inf'} at element ${i}`, file);
  }
}
