// The instruction-set variants of our SGEMM: sgemm_body.inc compiled for AVX-512, for AVX2 + FMA (twice: 6 × 16
// tiles, and 12 × 8 ones for products with at most 8 columns) and for any CPU. The x86 variants are compiled with __attribute__((target(...))) rather than command-line flags, so
// one binary holds all of them and sgemm.cc picks one at run time; this file is built without -march=native (see
// binding.gyp) so that the AVX2 and portable variants contain no AVX-512 instruction even on an AVX-512 machine.
//
// Tile and block sizes (rows of A × columns of B per tile; kc deep; B blocks kc × nc):
// - A tile keeps MR × NV accumulators in registers and per k-step loads NV vectors of B and broadcasts MR floats
//   of A. The FMA latency (4 cycles) times the FMA issue rate (2 per cycle) asks for ≥ 8 independent
//   accumulators; more of them means fewer loads per FMA.
//   AVX-512 (32 registers): 12 × 2 vectors = 24 accumulators + 2 B vectors + 1 broadcast (12 × 32 tile).
//   AVX2 (16 registers):    6 × 2 vectors = 12 accumulators + 2 + 1 (the classic 6 × 16 tile); for at most 8
//   columns, 12 × 1 vector = 12 accumulators + 1 + 1.
// - kc: an A micro-panel (MR × kc floats, 12 × 256 × 4 = 12 KB; 6 × 256 × 4 = 6 KB) is reused against every B
//   micro-panel of the block, so it must stay in L1 (32-48 KB) next to the streaming B panel; a deeper kc means
//   fewer passes of loads and stores over C.
// - nc: the packed B block (kc × nc) is read once per A micro-panel, so it must stay in L2: 256 × 512 × 4 =
//   512 KB for AVX-512 CPUs (L2 1-2 MB: Skylake-SP, Ice Lake, Sapphire Rapids, Zen 4), 256 × 256 × 4 = 256 KB
//   for AVX2 ones (L2 512 KB on Zen 2/3; Haswell-Skylake client parts have 256 KB and lose a little).
// - Dot-product tiles (few rows against a transposed B, e.g. one token against the vocabulary): DM rows × DJ
//   columns of accumulators plus DJ + 1 loads per step; DJ = 4 keeps four FMA chains in flight for one row.
#include <cstring>

#include "sgemm_impl.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace seal {
namespace gemm {

#if defined(__x86_64__) || defined(__i386__)

namespace avx512 {
#define SEAL_TARGET __attribute__((target("avx512f,avx2,fma")))
#define SEAL_INLINE SEAL_TARGET __attribute__((always_inline)) inline
using V = __m512;
constexpr int VL = 16, MR = 12, NV = 2, DM = 4, DJ = 4;
constexpr int64_t KC = 256, NC = 512;
constexpr const char* ISA_NAME = "avx512";
SEAL_INLINE V vzero() { return _mm512_setzero_ps(); }
SEAL_INLINE V vload(const float* p) { return _mm512_loadu_ps(p); }
SEAL_INLINE V vset(float x) { return _mm512_set1_ps(x); }
SEAL_INLINE V vfma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
SEAL_INLINE V vmul(V a, V b) { return _mm512_mul_ps(a, b); }
SEAL_INLINE void vstore(float* p, V v) { _mm512_storeu_ps(p, v); }
SEAL_INLINE V vload_n(const float* p, int n) { return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1), p); }
SEAL_INLINE void vstore_n(float* p, V v, int n) { _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1), v); }
// Lanes summed by halving: 8 + 8, 4 + 4, 2 + 2, 1 + 1. (Through memory: GCC 12's 512-bit extract intrinsics
// trip -Wmaybe-uninitialized.)
SEAL_INLINE float vsum(V v) {
  alignas(64) float t[16];
  _mm512_store_ps(t, v);
  const __m256 h = _mm256_add_ps(_mm256_load_ps(t), _mm256_load_ps(t + 8));
  __m128 x = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  x = _mm_add_ps(x, _mm_movehl_ps(x, x));
  return _mm_cvtss_f32(_mm_add_ss(x, _mm_movehdup_ps(x)));
}
// The lane sums of 16 vectors at once, each by vsum's halving tree (so the same bits as 16 vsum calls), in 45
// shuffles and adds instead of 16 trips through memory and 128 instructions; the sum of v[i] lands in lane
// joint_lane(i) = 4 (i mod 4) + i / 4. Each level adds the halves of two vectors' partial sums side by side.
constexpr int joint_lane(int i) { return 4 * (i % 4) + i / 4; }
SEAL_INLINE V vsum_all(const V (&v)[VL]) {
  V w[8], x[4];
  // 8 + 8: w[t] = v[2t]'s 8 partial sums, then v[2t + 1]'s.
  for (int t = 0; t < 8; t++)
    w[t] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * t], v[2 * t + 1], 0x44),
                         _mm512_shuffle_f32x4(v[2 * t], v[2 * t + 1], 0xEE));
  // 4 + 4: x[u] = four partial sums each of v[4u], v[4u + 1], v[4u + 2], v[4u + 3] (one 128-bit chunk each).
  for (int u = 0; u < 4; u++)
    x[u] = _mm512_add_ps(_mm512_shuffle_f32x4(w[2 * u], w[2 * u + 1], 0x88),
                         _mm512_shuffle_f32x4(w[2 * u], w[2 * u + 1], 0xDD));
  // 2 + 2 within each chunk c: two partial sums each of v[c], v[4 + c] (from x[0], x[1]) or v[8 + c], v[12 + c].
  const V y0 = _mm512_add_ps(_mm512_shuffle_ps(x[0], x[1], 0x44), _mm512_shuffle_ps(x[0], x[1], 0xEE));
  const V y1 = _mm512_add_ps(_mm512_shuffle_ps(x[2], x[3], 0x44), _mm512_shuffle_ps(x[2], x[3], 0xEE));
  // 1 + 1: chunk c = the sums of v[c], v[4 + c], v[8 + c], v[12 + c].
  return _mm512_add_ps(_mm512_shuffle_ps(y0, y1, 0x88), _mm512_shuffle_ps(y0, y1, 0xDD));
}
SEAL_INLINE float sfma(float a, float b, float c) {
  return _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c)));
}
#include "sgemm_body.inc"
#undef SEAL_INLINE
#undef SEAL_TARGET
}  // namespace avx512

namespace avx2 {
#define SEAL_TARGET __attribute__((target("avx2,fma")))
#define SEAL_INLINE SEAL_TARGET __attribute__((always_inline)) inline
using V = __m256;
constexpr int VL = 8, MR = 6, NV = 2, DM = 2, DJ = 4;
constexpr int64_t KC = 256, NC = 256;
constexpr const char* ISA_NAME = "avx2";
SEAL_INLINE V vzero() { return _mm256_setzero_ps(); }
SEAL_INLINE V vload(const float* p) { return _mm256_loadu_ps(p); }
SEAL_INLINE V vset(float x) { return _mm256_set1_ps(x); }
SEAL_INLINE V vfma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
SEAL_INLINE V vmul(V a, V b) { return _mm256_mul_ps(a, b); }
SEAL_INLINE void vstore(float* p, V v) { _mm256_storeu_ps(p, v); }
SEAL_INLINE __m256i lanes_below(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
SEAL_INLINE V vload_n(const float* p, int n) { return _mm256_maskload_ps(p, lanes_below(n)); }
SEAL_INLINE void vstore_n(float* p, V v, int n) { _mm256_maskstore_ps(p, lanes_below(n), v); }
SEAL_INLINE float vsum(V v) {
  __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  x = _mm_add_ps(x, _mm_movehl_ps(x, x));
  return _mm_cvtss_f32(_mm_add_ss(x, _mm_movehdup_ps(x)));
}
// As avx512::vsum_all for 8 vectors of 8 lanes: the sum of v[i] lands in lane joint_lane(i) = 4 (i mod 2) + i / 2.
constexpr int joint_lane(int i) { return 4 * (i % 2) + i / 2; }
SEAL_INLINE V vsum_all(const V (&v)[VL]) {
  V w[4];
  // 4 + 4: w[t] = v[2t]'s 4 partial sums, then v[2t + 1]'s.
  for (int t = 0; t < 4; t++)
    w[t] = _mm256_add_ps(_mm256_permute2f128_ps(v[2 * t], v[2 * t + 1], 0x20),
                         _mm256_permute2f128_ps(v[2 * t], v[2 * t + 1], 0x31));
  // 2 + 2 within each half h: two partial sums each of v[h], v[2 + h] (from w[0], w[1]) or v[4 + h], v[6 + h].
  const V y0 = _mm256_add_ps(_mm256_shuffle_ps(w[0], w[1], 0x44), _mm256_shuffle_ps(w[0], w[1], 0xEE));
  const V y1 = _mm256_add_ps(_mm256_shuffle_ps(w[2], w[3], 0x44), _mm256_shuffle_ps(w[2], w[3], 0xEE));
  // 1 + 1: half h = the sums of v[h], v[2 + h], v[4 + h], v[6 + h].
  return _mm256_add_ps(_mm256_shuffle_ps(y0, y1, 0x88), _mm256_shuffle_ps(y0, y1, 0xDD));
}
SEAL_INLINE float sfma(float a, float b, float c) {
  return _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c)));
}
#include "sgemm_body.inc"
#undef SEAL_INLINE
#undef SEAL_TARGET
}  // namespace avx2

// Products with at most 8 columns (the LoRA rank): one 8-float vector per row, 12 rows, so that 12 accumulators
// hide the FMA latency (a 6-row tile of the avx2 variant keeps only 6 in flight).
namespace avx2n {
#define SEAL_TARGET __attribute__((target("avx2,fma")))
using avx2::V, avx2::vzero, avx2::vload, avx2::vset, avx2::vfma, avx2::vmul, avx2::vstore, avx2::vload_n,
    avx2::vstore_n, avx2::vsum, avx2::vsum_all, avx2::joint_lane, avx2::sfma;
constexpr int VL = 8, MR = 12, NV = 1, DM = 2, DJ = 4;
constexpr int64_t KC = 256, NC = 256;
constexpr const char* ISA_NAME = "avx2 12x8";
#include "sgemm_body.inc"
#undef SEAL_TARGET
}  // namespace avx2n

// Products with at most 8 columns (LoRA rank 8) fill an 8-float AVX2 vector but only half of a 16-float one: both
// x86 variants hand them to the 12 × 8 AVX2 tiles.
const Isa& isa_avx2_narrow() {
  static const Isa isa = avx2n::make();
  return isa;
}
// The classic 8 × 8 transpose in 24 shuffles (unpack pairs, then quads, then 128-bit halves), for the dot products'
// transposed copy of a LoRA A (768 × 8), which runs before the pool starts: pooled x·A took a median 41 µs with it
// and 44 µs with the element-by-element copy (6 interleaved pairs).
__attribute__((target("avx2,fma"))) void transpose8(const float* a, int64_t lda, float* out, int64_t ldo) {
  __m256 r[8], t[8];
  for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(a + i * lda);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; i++) {
    _mm256_storeu_ps(out + i * ldo, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
    _mm256_storeu_ps(out + (i + 4) * ldo, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
  }
}

const Isa& isa_avx512() {
  static const Isa isa = [] {
    Isa i = avx512::make();
    i.t8 = &transpose8;
    i.narrow = &isa_avx2_narrow();
    return i;
  }();
  return isa;
}
const Isa& isa_avx2() {
  static const Isa isa = [] {
    Isa i = avx2::make();
    i.t8 = &transpose8;
    i.narrow = &isa_avx2_narrow();
    return i;
  }();
  return isa;
}

#endif

// Any CPU: GCC/Clang vector extensions, 4 floats wide, which the compiler maps to SSE2, NEON or scalar code.
// Without FMA instructions in the baseline (and with -ffp-contract=off under -std=c++17) products and sums round
// separately, so this variant's bits differ slightly from the x86 ones. 6 × 8 tile: 12 accumulators fit the 16
// registers of SSE2 (NEON has 32).
namespace portable {
#define SEAL_TARGET
#define SEAL_INLINE __attribute__((always_inline)) inline
typedef float V __attribute__((vector_size(16)));
constexpr int VL = 4, MR = 6, NV = 2, DM = 2, DJ = 4;
constexpr int64_t KC = 256, NC = 256;
constexpr const char* ISA_NAME = "scalar";
SEAL_INLINE V vzero() { return V{0.0f, 0.0f, 0.0f, 0.0f}; }
SEAL_INLINE V vload(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
SEAL_INLINE V vset(float x) { return V{x, x, x, x}; }
SEAL_INLINE V vfma(V a, V b, V c) { return a * b + c; }
SEAL_INLINE V vmul(V a, V b) { return a * b; }
SEAL_INLINE void vstore(float* p, V v) { std::memcpy(p, &v, sizeof v); }
SEAL_INLINE V vload_n(const float* p, int n) {
  float t[VL] = {0.0f, 0.0f, 0.0f, 0.0f};
  for (int i = 0; i < n; i++) t[i] = p[i];
  return vload(t);
}
SEAL_INLINE void vstore_n(float* p, V v, int n) {
  float t[VL];
  vstore(t, v);
  for (int i = 0; i < n; i++) p[i] = t[i];
}
SEAL_INLINE float vsum(V v) { return (v[0] + v[2]) + (v[1] + v[3]); }
// No joint reduction here: the full dot tiles (2 × 4) hold more accumulators than a vector has lanes, and the edge
// tiles that hold exactly 4 (1 × 4, 2 × 2) get the separate sums through this function.
constexpr int joint_lane(int i) { return i; }
SEAL_INLINE V vsum_all(const V (&v)[VL]) { return V{vsum(v[0]), vsum(v[1]), vsum(v[2]), vsum(v[3])}; }
SEAL_INLINE float sfma(float a, float b, float c) { return a * b + c; }
#include "sgemm_body.inc"
#undef SEAL_INLINE
#undef SEAL_TARGET
}  // namespace portable

const Isa& isa_scalar() {
  static const Isa isa = portable::make();
  return isa;
}

}  // namespace gemm
}  // namespace seal
