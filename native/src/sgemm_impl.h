// Internals shared by the SGEMM driver (sgemm.cc) and its instruction-set variants (sgemm_isa.cc).
#pragma once
#include <cstdint>

namespace seal {
namespace gemm {

// Micro-kernel: C tile (rows × ncols, element (i, j) at c[i·rsc + j·csc]) = alpha · A · Bp + beta · C tile, where
// Bp is a B micro-panel (kc steps of nv·vl floats bs apart, zero beyond ncols) and A element (i, p) is at
//   kind kStepA: a[i + p·as]   (a packed micro-panel, as = rows; or a column-major A read in place, as = lda)
//   kind kRowA:  a[i·as + p]   (a row-major A read in place, as = lda).
// beta == 0 does not read C.
using Ukr = void (*)(int64_t kc, const float* a, int64_t as, const float* bp, int64_t bs, float* c, int64_t rsc,
                     int64_t csc, int ncols, float alpha, float beta);
enum AKind { kStepA = 0, kRowA = 1 };

// Dot-product kernel for few rows against a transposed B: C (rows × cols) = alpha · A · B + beta · C with A
// element (i, p) at a[i·lda + p] and B element (p, j) at b[j·ldb + p], whole k at once.
using Dot = void (*)(int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t rsc,
                     int64_t csc, float alpha, float beta);

// Packs rows × kc of A (element (i, p) at a[i·rs + p·cs]) as kc steps of `rows` floats.
using PackA = void (*)(const float* a, int64_t rs, int64_t cs, int rows, int64_t kc, float* out);
// Packs kc × cols of B (element (p, j) at b[p·rs + j·cs]) as kc steps of `width` floats, zero from cols on.
using PackB = void (*)(const float* b, int64_t rs, int64_t cs, int64_t kc, int cols, int width, float* out);

constexpr int kMaxMr = 16;
constexpr int kMaxNv = 4;
constexpr int kMaxDot = 8;
constexpr int kRowsMaxM = 2;  // more rows are faster as tiles (4 rows: ~80 against ~40 GFLOP/s)

// Few rows against a row-major B, B streamed row by row: acc (rows × n, contiguous) = A · B, A element (i, p) at
// a[i·ras + p·cas], B element (p, j) at b[p·ldb + j].
using Rows = void (*)(int64_t k, const float* a, int64_t ras, int64_t cas, const float* b, int64_t ldb, int64_t n,
                      float* acc);

// Transposes an 8 × 8 block: out[j·ldo + i] = a[i·lda + j].
using Transpose8 = void (*)(const float* a, int64_t lda, float* out, int64_t ldo);

struct Isa {
  const char* name;
  int vl;      // floats per vector register
  int mr;      // rows of a full tile (broadcast operand, A)
  int nv;      // vectors per tile row: nr = nv · vl columns (vector operand, B)
  int64_t kc;  // depth of one pass: an A micro-panel (mr × kc) stays in L1
  int64_t nc;  // width of a packed B block (kc × nc), which stays in L2
  Ukr ukr[2][kMaxMr][kMaxNv];  // [AKind][rows − 1][vectors − 1]: edge tiles run exactly what they need
  const Isa* narrow;            // a variant with narrower vectors for products with few columns, or null
  int dm, dj;                   // dot-product tile: rows of A × columns of B
  Dot dot[kMaxDot][kMaxDot];    // [rows − 1][columns − 1]
  Rows rows[kRowsMaxM];         // [rows − 1]
  PackA pack_a;
  PackB pack_b;
  Transpose8 t8;  // null where there is no vector transpose (the portable variant)
  int nr() const { return nv * vl; }
};

const Isa& isa_scalar();

// One product in the orientation the kernels run: C (m × n, element (i, j) at c[i·rsc + j·csc]) = alpha · A · B
// + beta · C, A element (i, p) at a[i·ras + p·cas], B element (p, j) at b[p·rbs + j·cbs]. k ≥ 1, m, n ≥ 1.
struct Problem {
  int64_t m, n, k;
  const float* a;
  int64_t ras, cas;
  const float* b;
  int64_t rbs, cbs;
  float* c;
  int64_t rsc, csc;
  float alpha, beta;
};

// The blocked algorithms (sgemm_blocked.cc); `threads` is 1 (the calling thread only) or the pool's size.
// Packed B shared by all threads, tasks of rows: for products with many rows.
void run_shared_b(const Isa& isa, const Problem& p, int threads);
// Tasks of columns, each packing its own B blocks just before use: few rows, or one thread.
void run_own_b(const Isa& isa, const Problem& p, int threads);
// Dot products along k for a few rows against a B whose columns are contiguous (rbs == 1).
void run_dot(const Isa& isa, const Problem& p, int threads);
// At most kRowsMaxM rows against a row-major B (cbs == 1), B streamed row by row.
void run_rows(const Isa& isa, const Problem& p, int threads);
#if defined(__x86_64__) || defined(__i386__)
const Isa& isa_avx2();
const Isa& isa_avx512();
#endif

}  // namespace gemm
}  // namespace seal
