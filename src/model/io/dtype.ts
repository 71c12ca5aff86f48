/**
 * Bit-exact conversions between IEEE binary32 and the two 16-bit float formats found in checkpoints:
 * F16 (IEEE binary16) and BF16 (the top half of a binary32). Encoders round to nearest, ties to even, and keep
 * NaNs NaN. The array forms work on raw bits, so NaN payloads survive (a JS number may not carry them faithfully).
 */

// One scratch cell, seen as float and as bits, for the scalar wrappers.
const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** Bits of `x` after rounding it to binary32. */
export function f32Bits(x: number): number {
  scratchF32[0] = x;
  return scratchU32[0]!;
}

/** The binary32 value with bit pattern `bits`. */
export function f32FromBits(bits: number): number {
  scratchU32[0] = bits >>> 0;
  return scratchF32[0]!;
}

/** BF16 bits of the binary32 with bits `bits`, rounding to nearest even. */
export function f32BitsToBf16(bits: number): number {
  const b = bits >>> 0;
  if ((b & 0x7fffffff) > 0x7f800000) {
    // Truncating a NaN whose payload sits only in the low half would turn it into infinity.
    const h = b >>> 16;
    return (h & 0x7f) === 0 ? h | 0x40 : h;
  }
  // Adding 0x7fff (+1 when the kept part is odd) carries into bit 16 exactly when rounding up is due.
  // The sum stays below 2^32 for every non-NaN input, so the unsigned shift is safe.
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Binary32 bits of the BF16 with bits `h` (exact: BF16 is the top half of binary32). */
export function bf16ToF32Bits(h: number): number {
  return ((h & 0xffff) << 16) >>> 0;
}

/** F16 bits of the binary32 with bits `bits`, rounding to nearest even (overflow goes to infinity). */
export function f32BitsToF16(bits: number): number {
  const b = bits >>> 0;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) {
    if (mant === 0) return sign | 0x7c00;
    const payload = mant >>> 13;
    return sign | 0x7c00 | (payload === 0 ? 0x200 : payload);
  }
  const e = exp - 127 + 15; // biased F16 exponent
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Below 2^-25 everything rounds to zero (2^-25 itself is a tie and goes to the even zero).
    if (e < -10) return sign;
    // Subnormal result: shift the full 24-bit significand down to units of 2^-24.
    const m = mant | 0x800000;
    const shift = 14 - e;
    let half = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1) === 1)) half++;
    return sign | half; // a carry into 0x400 is exactly the smallest normal
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half++; // a carry may reach 0x7c00 = inf, as it should
  return sign | half;
}

let f16Table: Uint32Array | undefined;

/** All 65536 F16 -> binary32 bit patterns, built on first use (256 KiB) so bulk decoding is one lookup. */
function f16ToF32Table(): Uint32Array {
  if (f16Table !== undefined) return f16Table;
  const table = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) table[h] = f16ToF32BitsSlow(h);
  f16Table = table;
  return table;
}

function f16ToF32BitsSlow(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0;
  if (exp === 0) {
    if (mant === 0) return sign >>> 0;
    // Normalise the subnormal: every F16 subnormal is a normal binary32.
    let e = -14;
    while ((mant & 0x400) === 0) {
      mant <<= 1;
      e--;
    }
    return (sign | ((e + 127) << 23) | ((mant & 0x3ff) << 13)) >>> 0;
  }
  return (sign | ((exp - 15 + 127) << 23) | (mant << 13)) >>> 0;
}

/** Binary32 bits of the F16 with bits `h` (exact). */
export function f16ToF32Bits(h: number): number {
  return f16ToF32Table()[h & 0xffff]!;
}

/** `x` (first rounded to binary32) as F16 bits. */
export function f32ToF16(x: number): number {
  return f32BitsToF16(f32Bits(x));
}

/** The value of the F16 with bits `h`. */
export function f16ToF32(h: number): number {
  return f32FromBits(f16ToF32Bits(h));
}

/** `x` (first rounded to binary32) as BF16 bits. */
export function f32ToBf16(x: number): number {
  return f32BitsToBf16(f32Bits(x));
}

/** The value of the BF16 with bits `h`. */
export function bf16ToF32(h: number): number {
  return f32FromBits(bf16ToF32Bits(h));
}

function bitsOf(src: Float32Array): Uint32Array {
  return new Uint32Array(src.buffer, src.byteOffset, src.length);
}

/** Decodes an array of F16 bits into binary32 (into `out` when given). */
export function f16ArrayToF32(
  src: Uint16Array,
  out: Float32Array = new Float32Array(src.length),
): Float32Array {
  const table = f16ToF32Table();
  const dst = bitsOf(out);
  for (let i = 0; i < src.length; i++) dst[i] = table[src[i]!]!;
  return out;
}

/** Encodes binary32 values as F16 bits, rounding to nearest even. */
export function f32ArrayToF16(
  src: Float32Array,
  out: Uint16Array = new Uint16Array(src.length),
): Uint16Array {
  const bits = bitsOf(src);
  for (let i = 0; i < bits.length; i++) out[i] = f32BitsToF16(bits[i]!);
  return out;
}

/** Decodes an array of BF16 bits into binary32 (into `out` when given). */
export function bf16ArrayToF32(
  src: Uint16Array,
  out: Float32Array = new Float32Array(src.length),
): Float32Array {
  const dst = bitsOf(out);
  for (let i = 0; i < src.length; i++) dst[i] = src[i]! << 16;
  return out;
}

/** Encodes binary32 values as BF16 bits, rounding to nearest even. */
export function f32ArrayToBf16(
  src: Float32Array,
  out: Uint16Array = new Uint16Array(src.length),
): Uint16Array {
  const bits = bitsOf(src);
  for (let i = 0; i < bits.length; i++) out[i] = f32BitsToBf16(bits[i]!);
  return out;
}
