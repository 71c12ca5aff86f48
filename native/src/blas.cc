// Matrix products on OpenBLAS, parallelised by our pool rather than OpenBLAS's own threads: OpenBLAS runs
// single-threaded (set at load), so only one set of threads ever competes for the two cores, and batched
// products (attention heads) can run one matrix per thread.
#include <cblas.h>

#include <atomic>

#include "common.h"
#include "kernels.h"
#include "pool.h"

namespace seal {

void blas_init() { openblas_set_num_threads(1); }

namespace {
std::atomic<bool> useBf16{false};
}
void set_bf16(bool on) { useBf16 = on && bf16_available(); }
bool bf16_enabled() { return useBf16; }

// Row-major C (m, n) = alpha · op(A) · op(B) + beta · C on the calling thread.
void gemm1(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, const float* b,
           float beta, float* c) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    for (int64_t i = 0; i < m * n; i++) c[i] = beta == 0.0f ? 0.0f : c[i] * beta;
    return;
  }
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(m),
              static_cast<int>(n), static_cast<int>(k), alpha, a, ta ? static_cast<int>(m) : static_cast<int>(k), b,
              tb ? static_cast<int>(k) : static_cast<int>(n), beta, c, static_cast<int>(n));
}

// One product split across the pool along the larger output side; every piece is an ordinary sub-GEMM of the
// same operands (leading dimensions unchanged).
void gemm_split(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, const float* b,
                float beta, float* c) {
  const int threads = pool_threads();
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  if (threads == 1 || flops < 4e5) {  // also k == 0: gemm1 zero-fills
    gemm1(ta, tb, m, n, k, alpha, a, b, beta, c);
    return;
  }
  const int lda = ta ? static_cast<int>(m) : static_cast<int>(k);
  const int ldb = tb ? static_cast<int>(k) : static_cast<int>(n);
  const auto tA = ta ? CblasTrans : CblasNoTrans;
  const auto tB = tb ? CblasTrans : CblasNoTrans;
  if (m >= n) {
    // Pieces of 16 rows keep OpenBLAS's register blocking whole.
    const int64_t blocks = (m + 15) / 16;
    parallel_for(blocks, 2, [&](int64_t, int64_t b0, int64_t b1) {
      const int64_t r0 = b0 * 16;
      const int64_t r1 = b1 * 16 < m ? b1 * 16 : m;
      if (r1 <= r0) return;
      const float* ap = ta ? a + r0 : a + r0 * k;
      cblas_sgemm(CblasRowMajor, tA, tB, static_cast<int>(r1 - r0), static_cast<int>(n), static_cast<int>(k), alpha,
                  ap, lda, b, ldb, beta, c + r0 * n, static_cast<int>(n));
    });
  } else {
    const int64_t blocks = (n + 15) / 16;
    parallel_for(blocks, 2, [&](int64_t, int64_t b0, int64_t b1) {
      const int64_t c0 = b0 * 16;
      const int64_t c1 = b1 * 16 < n ? b1 * 16 : n;
      if (c1 <= c0) return;
      const float* bp = tb ? b + c0 * k : b + c0;
      cblas_sgemm(CblasRowMajor, tA, tB, static_cast<int>(m), static_cast<int>(c1 - c0), static_cast<int>(k), alpha, a,
                  lda, bp, ldb, beta, c + c0, static_cast<int>(n));
    });
  }
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
  if (batch == 1) {
    gemm_split(ta, tb, m, n, k, 1.0f, A, B, 0.0f, C);
    return;
  }
  if (sb == 0 && !ta) {
    // A shared right operand: the batch rows of A stack into one taller product.
    gemm_split(ta, tb, batch * m, n, k, 1.0f, A, B, 0.0f, C);
    return;
  }
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  if (batch >= pool_threads() && flops < 2e7) {
    parallel_for(batch, 2, [&](int64_t, int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; i++) gemm1(ta, tb, m, n, k, 1.0f, A + i * sa, B + i * sb, 0.0f, C + i * m * n);
    });
  } else {
    for (int64_t i = 0; i < batch; i++) gemm_split(ta, tb, m, n, k, 1.0f, A + i * sa, B + i * sb, 0.0f, C + i * m * n);
  }
}

}  // namespace seal
