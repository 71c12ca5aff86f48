// Our SGEMM's entry point: the choice of instruction-set variant, orientation and algorithm. The micro-kernels
// and packing routines are in sgemm_body.inc (compiled per variant by sgemm_isa.cc).
//
// How a product runs (the blocked algorithms are in sgemm_blocked.cc):
// - a few rows against a transposed B (one token against the vocabulary) run as dot products, packing nothing;
//   one or two rows against a row-major B stream it row by row (run_rows);
// - columns are computed a whole vector at a time, rows exactly, so a product with few columns (n = 8, the LoRA
//   rank, against 16-float vectors) runs as Cᵀ = Bᵀ·Aᵀ: as dot products, or blocked with A read in place as the
//   row-major B operand, or else on 8-float tiles;
// - otherwise blocked, with B packed once and shared (many rows) or packed per task (few rows, one thread).
#include "sgemm.h"

#include <atomic>

#include "pool.h"
#include "sgemm_impl.h"

namespace seal {

using gemm::Isa;

namespace {

bool cpu_has(GemmIsa isa) {
#if defined(__x86_64__) || defined(__i386__)
  // libgcc / compiler-rt also check that the OS saves the wider registers (XGETBV).
  if (isa == GemmIsa::Avx512) return __builtin_cpu_supports("avx512f");
  if (isa == GemmIsa::Avx2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  return isa == GemmIsa::Scalar || isa == GemmIsa::Auto;
}

GemmIsa best_isa() {
  if (cpu_has(GemmIsa::Avx512)) return GemmIsa::Avx512;
  if (cpu_has(GemmIsa::Avx2)) return GemmIsa::Avx2;
  return GemmIsa::Scalar;
}

std::atomic<int> activeIsa{-1};

GemmIsa current() {
  int v = activeIsa.load(std::memory_order_relaxed);
  if (v < 0) {
    v = static_cast<int>(best_isa());
    activeIsa.store(v, std::memory_order_relaxed);
  }
  return static_cast<GemmIsa>(v);
}

const Isa& isa_of(GemmIsa isa) {
#if defined(__x86_64__) || defined(__i386__)
  if (isa == GemmIsa::Avx512) return gemm::isa_avx512();
  if (isa == GemmIsa::Avx2) return gemm::isa_avx2();
#else
  static_cast<void>(isa);  // only the portable variant exists
#endif
  return gemm::isa_scalar();
}

using gemm::Problem;

// Cᵀ = Bᵀ · Aᵀ: the same product with the roles of rows and columns swapped.
Problem transposed(const Problem& p) {
  return Problem{p.n, p.m, p.k, p.b, p.cbs, p.rbs, p.a, p.cas, p.ras, p.c, p.csc, p.rsc, p.alpha, p.beta};
}

int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }

// Columns are computed a whole vector at a time, rows exactly: a product with few columns (n = 8 against 16-float
// vectors, the LoRA rank) wastes most of its multiply-adds unless it is run transposed. Ties keep the normal
// orientation, whose C stores are vectors rather than single floats.
bool run_transposed(const Isa& isa, int64_t m, int64_t n) {
  const int64_t vl = isa.vl;
  return static_cast<double>(m) / round_up(m, vl) > 1.25 * static_cast<double>(n) / round_up(n, vl);
}

void scale_c(const Problem& p) {
  for (int64_t i = 0; i < p.m; i++)
    for (int64_t j = 0; j < p.n; j++) {
      float& x = p.c[i * p.rsc + j * p.csc];
      x = p.beta == 0.0f ? 0.0f : p.beta * x;
    }
}

// Few rows against a B stored transposed run as dot products (dotk): packing B (a transpose) would take longer
// than the products. Up to 8 rows always; up to 32 when k is long enough to amortise each dot product's final
// sum across the vector lanes (measured on Zen 4: 12-32 rows × 2304 × 768 at ~88 GFLOP/s against 40-65 packed).
// "Few columns" for the preferences in run(): the LoRA rank, and at most one 8-float vector.
constexpr int64_t kFewColumns = 8;

bool use_dot(const Problem& p) {
  return p.rbs == 1 && p.cbs != 1 && (p.m <= 8 || (p.m <= 32 && p.k >= 256));
}

void run(const Isa& isa0, const Problem& p0, bool parallel) {
  if (p0.m <= 0 || p0.n <= 0) return;
  if (p0.k <= 0 || p0.alpha == 0.0f) {
    scale_c(p0);
    return;
  }
  const int threads = parallel ? pool_threads() : 1;
  // Few columns (the LoRA rank) against many rows, in order of preference: dot products of A's rows with B's
  // columns (Cᵀ = Bᵀ·Aᵀ, A row-major: A streamed once, full-width vectors); Cᵀ with full-width tiles reading A
  // (stored transposed) in place as the B operand; else the 8-wide tiles of `narrow`.
  const bool few = p0.n <= kFewColumns && p0.n < p0.m;
  const Problem pt = transposed(p0);
  if (use_dot(p0) || (few && use_dot(pt))) {
    gemm::run_dot(isa0, use_dot(p0) ? p0 : pt, threads);
    return;
  }
  if (p0.m <= gemm::kRowsMaxM && p0.cbs == 1 && p0.n >= 64) {
    gemm::run_rows(isa0, p0, threads);
    return;
  }
  if (few && pt.m <= isa0.mr && pt.cbs == 1) {
    gemm::run_own_b(isa0, pt, threads);
    return;
  }
  const Isa& isa = isa0.narrow != nullptr && p0.n <= isa0.narrow->vl && p0.n < p0.m ? *isa0.narrow : isa0;
  const Problem p = run_transposed(isa, p0.m, p0.n) ? pt : p0;
  // With packed B shared, each task streams all of B (from L3) for its rows; with B packed per task, each task
  // packs all of A for its columns. Streaming is cheaper than packing, by about 4 when A is row-major (its packing
  // is a transpose), about 1 when it is stored transposed (contiguous copies): cut the side that costs more.
  if (threads == 1 || p.n >= p.m * (p.cas == 1 ? 4 : 1))
    gemm::run_own_b(isa, p, threads);
  else
    gemm::run_shared_b(isa, p, threads);
}

}  // namespace

void sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc, bool parallel) {
  Problem p{m, n, k, a, ta ? 1 : lda, ta ? lda : 1, b, tb ? 1 : ldb, tb ? ldb : 1, c, ldc, 1, alpha, beta};
  run(isa_of(current()), p, parallel);
}

bool sgemm_isa_supported(GemmIsa isa) { return cpu_has(isa); }

bool sgemm_set_isa(GemmIsa isa) {
  if (!cpu_has(isa)) return false;
  activeIsa.store(static_cast<int>(isa == GemmIsa::Auto ? best_isa() : isa), std::memory_order_relaxed);
  return true;
}

GemmIsa sgemm_isa() { return current(); }

const char* sgemm_isa_name(GemmIsa isa) {
  switch (isa) {
    case GemmIsa::Avx512:
      return "avx512";
    case GemmIsa::Avx2:
      return "avx2";
    case GemmIsa::Scalar:
      return "scalar";
    default:
      return "auto";
  }
}

std::string sgemm_describe() {
  const Isa& isa = isa_of(current());
  std::string s = std::string(isa.name) + " (" + std::to_string(isa.mr) + "x" + std::to_string(isa.nr()) +
                  " tiles; this CPU:";
  for (GemmIsa i : {GemmIsa::Avx512, GemmIsa::Avx2, GemmIsa::Scalar})
    if (cpu_has(i)) s += std::string(" ") + sgemm_isa_name(i);
  return s + ")";
}

}  // namespace seal
