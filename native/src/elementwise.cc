// Row-wise norms and element-wise activations, forward and backward. Rows are split across the pool; parameter
// gradients (norm gains and biases) are summed per chunk in double and combined in chunk order.
#include <vector>

#include "common.h"
#include "kernels.h"
#include "pool.h"

namespace seal {
namespace {

// Below ~32k elements a chunk costs more in hand-off than it saves: small tensors run on the calling thread.
constexpr int64_t kElemGrain = 1 << 15;
int64_t rowGrain(int64_t cols) { return kElemGrain / (cols + 1) + 1; }

// Per-chunk column sums, reduced into `out` in chunk order: the same bits whichever thread ran which chunk.
struct ColumnSums {
  ColumnSums(int64_t chunks, int64_t cols) : chunks(chunks), cols(cols), data(static_cast<size_t>(chunks * cols), 0.0) {}
  double* row(int64_t chunk) { return data.data() + chunk * cols; }
  void write(float* out) const {
    for (int64_t c = 0; c < cols; c++) {
      double s = 0;
      for (int64_t k = 0; k < chunks; k++) s += data[static_cast<size_t>(k * cols + c)];
      out[c] = static_cast<float>(s);
    }
  }
  int64_t chunks;
  int64_t cols;
  std::vector<double> data;
};

}  // namespace

// args: x, w, y, rstd, rows, cols, eps
void k_rmsnorm_fwd(uint8_t* base, Args a) {
  const float* x = F(base, a[0]);
  const float* w = F(base, a[1]);
  float* y = F(base, a[2]);
  float* rstd = F(base, a[3]);
  const int64_t rows = N(a[4]), C = N(a[5]);
  const float eps = static_cast<float>(a[6]);
  parallel_for(rows, rowGrain(C), [&](int64_t, int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const float* xr = x + r * C;
      float ss = 0;
#pragma omp simd reduction(+ : ss)
      for (int64_t c = 0; c < C; c++) ss += xr[c] * xr[c];
      const float rs = 1.0f / std::sqrt(ss / static_cast<float>(C) + eps);
      rstd[r] = rs;
      float* yr = y + r * C;
#pragma omp simd
      for (int64_t c = 0; c < C; c++) yr[c] = xr[c] * rs * w[c];
    }
  });
}

// args: x, w, rstd, dy, dx, dw, rows, cols
void k_rmsnorm_bwd(uint8_t* base, Args a) {
  const float* x = F(base, a[0]);
  const float* w = F(base, a[1]);
  const float* rstd = F(base, a[2]);
  const float* dy = F(base, a[3]);
  float* dx = F(base, a[4]);
  float* dw = F(base, a[5]);
  const int64_t rows = N(a[6]), C = N(a[7]);
  ColumnSums sums(chunk_count(rows, rowGrain(C)), C);
  parallel_for(rows, rowGrain(C), [&](int64_t t, int64_t r0, int64_t r1) {
    double* acc = sums.row(t);
    for (int64_t r = r0; r < r1; r++) {
      const float* xr = x + r * C;
      const float* gr = dy + r * C;
      const float rs = rstd[r];
      float dot = 0;
#pragma omp simd reduction(+ : dot)
      for (int64_t c = 0; c < C; c++) dot += gr[c] * w[c] * xr[c];
      // d/dx of x·rs·w: rs·(g·w − x·rs²·mean(g·w·x))
      const float k = dot * rs * rs / static_cast<float>(C);
      float* dxr = dx + r * C;
#pragma omp simd
      for (int64_t c = 0; c < C; c++) {
        dxr[c] = rs * (gr[c] * w[c] - xr[c] * k);
        acc[c] += static_cast<double>(gr[c] * xr[c] * rs);
      }
    }
  });
  sums.write(dw);
}

// args: x, w, b, y, mean, rstd, rows, cols, eps
void k_layernorm_fwd(uint8_t* base, Args a) {
  const float* x = F(base, a[0]);
  const float* w = F(base, a[1]);
  const float* b = F(base, a[2]);
  float* y = F(base, a[3]);
  float* mean = F(base, a[4]);
  float* rstd = F(base, a[5]);
  const int64_t rows = N(a[6]), C = N(a[7]);
  const float eps = static_cast<float>(a[8]);
  parallel_for(rows, rowGrain(C), [&](int64_t, int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const float* xr = x + r * C;
      float s = 0;
#pragma omp simd reduction(+ : s)
      for (int64_t c = 0; c < C; c++) s += xr[c];
      const float mu = s / static_cast<float>(C);
      float v = 0;
#pragma omp simd reduction(+ : v)
      for (int64_t c = 0; c < C; c++) v += (xr[c] - mu) * (xr[c] - mu);
      const float rs = 1.0f / std::sqrt(v / static_cast<float>(C) + eps);
      mean[r] = mu;
      rstd[r] = rs;
      float* yr = y + r * C;
#pragma omp simd
      for (int64_t c = 0; c < C; c++) yr[c] = (xr[c] - mu) * rs * w[c] + b[c];
    }
  });
}

// args: x, w, mean, rstd, dy, dx, dw, db, rows, cols
void k_layernorm_bwd(uint8_t* base, Args a) {
  const float* x = F(base, a[0]);
  const float* w = F(base, a[1]);
  const float* mean = F(base, a[2]);
  const float* rstd = F(base, a[3]);
  const float* dy = F(base, a[4]);
  float* dx = F(base, a[5]);
  float* dw = F(base, a[6]);
  float* db = F(base, a[7]);
  const int64_t rows = N(a[8]), C = N(a[9]);
  const int64_t chunks = chunk_count(rows, rowGrain(C));
  ColumnSums sw(chunks, C), sb(chunks, C);
  parallel_for(rows, rowGrain(C), [&](int64_t t, int64_t r0, int64_t r1) {
    double* aw = sw.row(t);
    double* ab = sb.row(t);
    for (int64_t r = r0; r < r1; r++) {
      const float* xr = x + r * C;
      const float* gr = dy + r * C;
      const float mu = mean[r], rs = rstd[r];
      float sg = 0, sgx = 0;
#pragma omp simd reduction(+ : sg, sgx)
      for (int64_t c = 0; c < C; c++) {
        const float g = gr[c] * w[c];
        sg += g;
        sgx += g * (xr[c] - mu) * rs;
      }
      const float mg = sg / static_cast<float>(C), mgx = sgx / static_cast<float>(C);
      float* dxr = dx + r * C;
#pragma omp simd
      for (int64_t c = 0; c < C; c++) {
        const float xh = (xr[c] - mu) * rs;
        dxr[c] = rs * (gr[c] * w[c] - mg - xh * mgx);
        aw[c] += static_cast<double>(gr[c] * xh);
        ab[c] += static_cast<double>(gr[c]);
      }
    }
  });
  sw.write(dw);
  sb.write(db);
}

namespace {
constexpr float kGeluC = 0.7978845608028654f;  // sqrt(2/π)
constexpr float kGeluA = 0.044715f;
}  // namespace

// args: x, y, n
void k_gelu_fwd(uint8_t* base, Args a) {
  const float* x = F(base, a[0]);
  float* y = F(base, a[1]);
  parallel_for(N(a[2]), kElemGrain, [=](int64_t, int64_t i0, int64_t i1) {
    const float* __restrict xs = x + i0;
    float* __restrict ys = y + i0;
    const int64_t n = i1 - i0;
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
      const float v = xs[i];
      const float u = kGeluC * (v + kGeluA * v * v * v);
      ys[i] = 0.5f * v * (1.0f + tanh_approx(u));
    }
  });
}

// args: x, dy, dx, n
void k_gelu_bwd(uint8_t* base, Args a) {
  const float* x = F(base, a[0]);
  const float* dy = F(base, a[1]);
  float* dx = F(base, a[2]);
  parallel_for(N(a[3]), kElemGrain, [&](int64_t, int64_t i0, int64_t i1) {
#pragma omp simd
    for (int64_t i = i0; i < i1; i++) {
      const float v = x[i];
      const float th = tanh_approx(kGeluC * (v + kGeluA * v * v * v));
      const float du = kGeluC * (1.0f + 3.0f * kGeluA * v * v);
      dx[i] = dy[i] * (0.5f * (1.0f + th) + 0.5f * v * (1.0f - th * th) * du);
    }
  });
}

// args: gate, up, y, n
void k_swiglu_fwd(uint8_t* base, Args a) {
  const float* g = F(base, a[0]);
  const float* u = F(base, a[1]);
  float* y = F(base, a[2]);
  parallel_for(N(a[3]), kElemGrain, [&](int64_t, int64_t i0, int64_t i1) {
#pragma omp simd
    for (int64_t i = i0; i < i1; i++) y[i] = g[i] * sigmoid_approx(g[i]) * u[i];
  });
}

// args: gate, up, dy, dgate, dup, n
void k_swiglu_bwd(uint8_t* base, Args a) {
  const float* g = F(base, a[0]);
  const float* u = F(base, a[1]);
  const float* dy = F(base, a[2]);
  float* dg = F(base, a[3]);
  float* du = F(base, a[4]);
  parallel_for(N(a[5]), kElemGrain, [&](int64_t, int64_t i0, int64_t i1) {
#pragma omp simd
    for (int64_t i = i0; i < i1; i++) {
      const float s = sigmoid_approx(g[i]);
      du[i] = dy[i] * g[i] * s;
      dg[i] = dy[i] * u[i] * s * (1.0f + g[i] * (1.0f - s));
    }
  });
}

}  // namespace seal
