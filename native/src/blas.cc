// Matrix products: our own SGEMM (sgemm.cc), or OpenBLAS when the addon was built with it (SEAL_OPENBLAS) and it
// is selected (the default then; SEAL_GEMM=own|openblas at load, setGemm at run time). Both are parallelised by
// our pool rather than by OpenBLAS's own threads: OpenBLAS runs single-threaded (set at load), so only one set of
// threads ever competes for the cores, and batched products (attention heads) can run one matrix per thread.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#ifdef SEAL_OPENBLAS
#include <cblas.h>
#endif

#include "common.h"
#include "kernels.h"
#include "pool.h"
#include "sgemm.h"

namespace seal {

namespace {
std::atomic<bool> useBf16{false};
#ifdef SEAL_OPENBLAS
std::atomic<bool> useOpenBlas{true};
#else
std::atomic<bool> useOpenBlas{false};
#endif
}  // namespace

void blas_init() {
#ifdef SEAL_OPENBLAS
  openblas_set_num_threads(1);
#endif
  if (const char* g = std::getenv("SEAL_GEMM")) set_gemm_path(g);  // an unknown value leaves the default
  // Our SGEMM's variant (auto | avx512 | avx2 | scalar), for benchmarks; unknown or unsupported: auto.
  if (const char* v = std::getenv("SEAL_GEMM_ISA")) {
    for (GemmIsa isa : {GemmIsa::Avx512, GemmIsa::Avx2, GemmIsa::Scalar})
      if (std::strcmp(v, sgemm_isa_name(isa)) == 0) sgemm_set_isa(isa);
  }
}

void set_bf16(bool on) { useBf16 = on && bf16_available(); }
bool bf16_enabled() { return useBf16; }

bool openblas_built() {
#ifdef SEAL_OPENBLAS
  return true;
#else
  return false;
#endif
}

bool set_gemm_path(const char* path) {
  if (std::strcmp(path, "auto") == 0 || std::strcmp(path, "") == 0) {
    useOpenBlas = openblas_built();
  } else if (std::strcmp(path, "own") == 0) {
    useOpenBlas = false;
  } else if (std::strcmp(path, "openblas") == 0 && openblas_built()) {
    useOpenBlas = true;
  } else {
    return false;
  }
  return true;
}

const char* gemm_path() { return useOpenBlas ? "openblas" : "own"; }

// "gemm: OpenBLAS 0.3.21 … (own SGEMM avx512 also built)" or "gemm: own SGEMM avx512 (12x32 tiles; this CPU:
// avx512 avx2 scalar)[, OpenBLAS 0.3.21 … also built]".
std::string gemm_describe() {
  std::string blas;
#ifdef SEAL_OPENBLAS
  const char* cfg = openblas_get_config();
  blas = cfg == nullptr ? "OpenBLAS" : cfg;
  while (!blas.empty() && blas.back() == ' ') blas.pop_back();
#endif
  if (useOpenBlas) return "gemm: " + blas + " (own SGEMM " + sgemm_isa_name(sgemm_isa()) + " also built)";
  return "gemm: own SGEMM " + sgemm_describe() + (blas.empty() ? "" : ", " + blas + " also built");
}

namespace {

#ifdef SEAL_OPENBLAS
void blas_call(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
               const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(m),
              static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb),
              beta, c, static_cast<int>(ldc));
}
#endif

// Row-major C (m, n) = alpha · op(A) · op(B) + beta · C on the calling thread, any leading dimensions.
void gemm1_ld(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
              const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
#ifdef SEAL_OPENBLAS
  if (useOpenBlas && k > 0) {
    blas_call(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
#endif
  sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, false);  // also k == 0: C = beta · C
}

// One product split across the pool. Our SGEMM splits inside its blocking (packed B shared by the threads);
// OpenBLAS calls are cut along the larger output side, each piece an ordinary sub-GEMM of the same operands.
void gemm_split(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  const int threads = pool_threads();
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  if (threads == 1 || flops < 4e5) {  // also k == 0: gemm1 zero-fills
    gemm1_ld(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  if (!useOpenBlas) {
    sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, true);
    return;
  }
#ifdef SEAL_OPENBLAS
  if (m >= n) {
    // Pieces of 16 rows keep OpenBLAS's register blocking whole.
    const int64_t blocks = (m + 15) / 16;
    parallel_for(blocks, 2, [&](int64_t, int64_t b0, int64_t b1) {
      const int64_t r0 = b0 * 16;
      const int64_t r1 = b1 * 16 < m ? b1 * 16 : m;
      if (r1 <= r0) return;
      blas_call(ta, tb, r1 - r0, n, k, alpha, ta ? a + r0 : a + r0 * lda, lda, b, ldb, beta, c + r0 * ldc, ldc);
    });
  } else {
    const int64_t blocks = (n + 15) / 16;
    parallel_for(blocks, 2, [&](int64_t, int64_t b0, int64_t b1) {
      const int64_t c0 = b0 * 16;
      const int64_t c1 = b1 * 16 < n ? b1 * 16 : n;
      if (c1 <= c0) return;
      blas_call(ta, tb, m, c1 - c0, k, alpha, a, lda, tb ? b + c0 * ldb : b + c0, ldb, beta, c + c0, ldc);
    });
  }
#endif
}

}  // namespace

void gemm1(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, const float* b,
           float beta, float* c) {
  gemm1_ld(ta, tb, m, n, k, alpha, a, ta ? m : k, b, tb ? k : n, beta, c, n);
}

// args: transA, transB, batch, m, n, k, aOff, aStride, bOff, bStride, cOff (strides in elements; 0 broadcasts)
void k_gemm(uint8_t* base, Args a) {
  const bool ta = a[0] != 0, tb = a[1] != 0;
  const int64_t batch = N(a[2]), m = N(a[3]), n = N(a[4]), k = N(a[5]);
  const float* A = F(base, a[6]);
  const int64_t sa = N(a[7]);
  const float* B = F(base, a[8]);
  const int64_t sb = N(a[9]);
  float* C = F(base, a[10]);
  if (useBf16 && gemm_bf16(ta, tb, batch, m, n, k, A, sa, B, sb, C)) return;
  const int64_t lda = ta ? m : k, ldb = tb ? k : n;
  if (batch == 1) {
    gemm_split(ta, tb, m, n, k, 1.0f, A, lda, B, ldb, 0.0f, C, n);
    return;
  }
  if (sb == 0 && !ta) {
    // A shared right operand: the batch rows of A stack into one taller product.
    gemm_split(ta, tb, batch * m, n, k, 1.0f, A, lda, B, ldb, 0.0f, C, n);
    return;
  }
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  if (batch >= pool_threads() && flops < 2e7) {
    parallel_for(batch, 2, [&](int64_t, int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; i++)
        gemm1_ld(ta, tb, m, n, k, 1.0f, A + i * sa, lda, B + i * sb, ldb, 0.0f, C + i * m * n, n);
    });
  } else {
    for (int64_t i = 0; i < batch; i++)
      gemm_split(ta, tb, m, n, k, 1.0f, A + i * sa, lda, B + i * sb, ldb, 0.0f, C + i * m * n, n);
  }
}

// One product with every BLAS parameter, through the selected path (tests and benchmarks).
// args: transA, transB, m, n, k, alpha, aOff, lda, bOff, ldb, beta, cOff, ldc, threads
// threads: 0 the calling thread only; 1 as BatchMatMul would (the pool for large products); 2 the pool whatever
// the size (our SGEMM; OpenBLAS as 1), so that tests reach the threaded split with small shapes.
void k_sgemm(uint8_t* base, Args a) {
  const bool ta = a[0] != 0, tb = a[1] != 0;
  const int64_t m = N(a[2]), n = N(a[3]), k = N(a[4]);
  const float alpha = static_cast<float>(a[5]), beta = static_cast<float>(a[10]);
  const float* A = F(base, a[6]);
  const float* B = F(base, a[8]);
  float* C = F(base, a[11]);
  const int64_t lda = N(a[7]), ldb = N(a[9]), ldc = N(a[12]);
  if (a[13] == 0)
    gemm1_ld(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
  else if (a[13] == 2 && !useOpenBlas)
    sgemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, true);
  else
    gemm_split(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace seal
