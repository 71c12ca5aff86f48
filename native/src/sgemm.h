// Our own single-precision GEMM (sgemm.cc, sgemm_isa.cc): the addon's matrix products when it is built without
// OpenBLAS, or when SEAL_GEMM=own / setGemm('own') selects it. Needs only a C++17 compiler (GCC or Clang).
#pragma once
#include <cstdint>
#include <string>

namespace seal {

// Instruction-set variants of the micro-kernel, all compiled into one binary and chosen at run time.
enum class GemmIsa { Auto = 0, Avx512 = 1, Avx2 = 2, Scalar = 3 };

// Row-major C (m×n, row stride ldc) = alpha · op(A) · op(B) + beta · C, op = transpose when ta / tb; lda / ldb are
// the row strides of A and B as stored. beta == 0 never reads C (it may hold garbage, e.g. a fresh wasm output).
// `parallel` splits the work across the pool (pool.h); never pass it from inside a pool task (parallel_for is
// not re-entrant). Results do not depend on `parallel` or on the pool size.
void sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc, bool parallel);

// Whether this CPU (and OS) can run a variant; Auto and Scalar always can.
bool sgemm_isa_supported(GemmIsa isa);
// Selects the variant for later calls (Auto: the widest supported). False, and nothing changes, when unsupported.
bool sgemm_set_isa(GemmIsa isa);
// The variant in use (never Auto).
GemmIsa sgemm_isa();
const char* sgemm_isa_name(GemmIsa isa);
// e.g. "avx512 (12x32 tiles; this CPU: avx512 avx2 scalar)".
std::string sgemm_describe();

}  // namespace seal
