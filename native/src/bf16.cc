// Opt-in bf16 matrix products (oneDNN, when built with libdnnl-dev): fp32 operands are rounded to bf16, products
// accumulate in fp32. About twice the fp32 speed on CPUs with AVX512-BF16 or AMX, at ~3 significant digits per
// operand; the weights and every other op stay fp32. Off unless switched on (see `setBf16`).
#include "kernels.h"
#include "pool.h"

#ifdef SEAL_DNNL
#include <atomic>
#include <map>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <tuple>
#include <vector>
#endif

namespace seal {

#ifndef SEAL_DNNL

bool bf16_available() { return false; }
bool gemm_bf16(bool, bool, int64_t, int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t, float*) {
  return false;
}

#else

namespace {

using Key = std::tuple<int64_t, int64_t, int64_t, bool, bool, int64_t, int64_t, int64_t>;

struct Prim {
  dnnl::matmul matmul;
  dnnl::memory::desc a, b, c, scratch;
};

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

std::mutex cacheMu;
std::map<Key, Prim> cache;

// One primitive per sub-product shape and leading dimensions; the pool's pieces come in a handful of shapes.
const Prim& primitive(bool ta, bool tb, int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldb, int64_t ldc) {
  std::lock_guard<std::mutex> lock(cacheMu);
  const Key key{m, n, k, ta, tb, lda, ldb, ldc};
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  using dt = dnnl::memory::data_type;
  dnnl::memory::desc a({m, k}, dt::bf16, ta ? dnnl::memory::dims{1, lda} : dnnl::memory::dims{lda, 1});
  dnnl::memory::desc b({k, n}, dt::bf16, tb ? dnnl::memory::dims{1, ldb} : dnnl::memory::dims{ldb, 1});
  dnnl::memory::desc c({m, n}, dt::f32, dnnl::memory::dims{ldc, 1});
  dnnl::primitive_attr attr;
  // The library's own scratchpad is global in this build (no concurrent execution): each thread brings its own.
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), attr, engine());
  Prim p{dnnl::matmul(pd), a, b, c, pd.scratchpad_desc()};
  return cache.emplace(key, p).first->second;
}

void run(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const uint16_t* a, int64_t lda, const uint16_t* b,
         int64_t ldb, float* c, int64_t ldc) {
  const Prim& p = primitive(ta, tb, m, n, k, lda, ldb, ldc);
  thread_local dnnl::stream stream(engine());
  thread_local std::vector<uint8_t> scratch;
  if (scratch.size() < p.scratch.get_size()) scratch.resize(p.scratch.get_size());
  auto& e = engine();
  p.matmul.execute(stream, {{DNNL_ARG_SRC, dnnl::memory(p.a, e, const_cast<uint16_t*>(a))},
                            {DNNL_ARG_WEIGHTS, dnnl::memory(p.b, e, const_cast<uint16_t*>(b))},
                            {DNNL_ARG_DST, dnnl::memory(p.c, e, c)},
                            {DNNL_ARG_SCRATCHPAD, dnnl::memory(p.scratch, e, scratch.data())}});
  stream.wait();
}

// Round to nearest even, as the hardware conversion does; NaN stays NaN.
void to_bf16(const float* in, uint16_t* out, int64_t n) {
  parallel_for(n, 1 << 15, [=](int64_t, int64_t i0, int64_t i1) {
#pragma omp simd
    for (int64_t i = i0; i < i1; i++) {
      const uint32_t u = __builtin_bit_cast(uint32_t, in[i]);
      const uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
      out[i] = static_cast<uint16_t>((u & 0x7fffffffu) > 0x7f800000u ? ((u >> 16) | 0x40u) : r);
    }
  });
}

}  // namespace

bool bf16_available() {
  try {
    engine();
    return dnnl::get_effective_cpu_isa() >= dnnl::cpu_isa::avx512_core_bf16;
  } catch (...) {
    return false;
  }
}

// C = op(A)·op(B) for `batch` products with element strides sa/sb (0 broadcasts), row-major like k_gemm.
bool gemm_bf16(bool ta, bool tb, int64_t batch, int64_t m, int64_t n, int64_t k, const float* A, int64_t sa,
               const float* B, int64_t sb, float* C) {
  if (m == 0 || n == 0 || k == 0) return false;
  const int64_t na = (sa == 0 ? 1 : batch) * m * k;
  const int64_t nb = (sb == 0 ? 1 : batch) * k * n;
  thread_local std::vector<uint16_t> abuf, bbuf;  // per JS thread: worker_threads may call concurrently
  if (static_cast<int64_t>(abuf.size()) < na) abuf.resize(static_cast<size_t>(na));
  if (static_cast<int64_t>(bbuf.size()) < nb) bbuf.resize(static_cast<size_t>(nb));
  to_bf16(A, abuf.data(), na);
  to_bf16(B, bbuf.data(), nb);
  const int64_t lda = ta ? m : k, ldb = tb ? k : n;
  const bool byRows = m >= n;
  const int64_t blocks = ((byRows ? m : n) + 15) / 16;
  // oneDNN reports problems by exception; one escaping a pool worker would end the process. The caller redoes
  // the product in fp32 when any piece failed.
  std::atomic<bool> failed{false};
  for (int64_t i = 0; i < batch && !failed; i++) {
    const uint16_t* a = abuf.data() + (sa == 0 ? 0 : i * m * k);
    const uint16_t* b = bbuf.data() + (sb == 0 ? 0 : i * k * n);
    float* c = C + i * m * n;
    parallel_for(blocks, 2, [&](int64_t, int64_t b0, int64_t b1) {
      const int64_t lim = byRows ? m : n;
      const int64_t s0 = b0 * 16, s1 = b1 * 16 < lim ? b1 * 16 : lim;
      if (s1 <= s0) return;
      try {
        if (byRows)
          run(ta, tb, s1 - s0, n, k, ta ? a + s0 : a + s0 * k, lda, b, ldb, c + s0 * n, n);
        else
          run(ta, tb, m, s1 - s0, k, a, lda, tb ? b + s0 * k : b + s0, ldb, c + s0, n);
      } catch (...) {
        failed = true;
      }
    });
  }
  return !failed;
}

#endif

}  // namespace seal
