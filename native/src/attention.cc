// Attention core, softmax(scale · q·kᵀ + mask) · v, one (batch, kv-group) pair per task. The probabilities are
// an output so the backward pass needs no recomputation (B·G·R·T·Tk floats: 4 MB a layer for config A).
//
// Layout: q (B, G, R·T, D) with the R query heads of a group stacked along time, k/v (B, G, Tk, D), additive mask
// (MB, 1, T, Tk) with MB ∈ {1, B}: query row i of a group uses mask row i mod T.
#include <vector>

#include "common.h"
#include "kernels.h"
#include "pool.h"

namespace seal {

namespace {
struct Dims {
  int64_t B, G, RT, T, Tk, D, MB;
  float scale;
};

Dims dims(Args a, int first) {
  Dims d{N(a[first]),     N(a[first + 1]), N(a[first + 2]), N(a[first + 3]),
         N(a[first + 4]), N(a[first + 5]), N(a[first + 6]), static_cast<float>(a[first + 7])};
  return d;
}

void softmax_row(float* row, const float* maskRow, int64_t n) {
  float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
  for (int64_t j = 0; j < n; j++) {
    row[j] += maskRow[j];
    mx = row[j] > mx ? row[j] : mx;
  }
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t j = 0; j < n; j++) {
    row[j] = exp_approx(row[j] - mx);
    s += row[j];
  }
  const float inv = 1.0f / s;
#pragma omp simd
  for (int64_t j = 0; j < n; j++) row[j] *= inv;
}
}  // namespace

// args: q, k, v, mask, out, probs, B, G, RT, T, Tk, D, MB, scale
void k_attention_fwd(uint8_t* base, Args a) {
  const float* q = F(base, a[0]);
  const float* k = F(base, a[1]);
  const float* v = F(base, a[2]);
  const float* mask = F(base, a[3]);
  float* out = F(base, a[4]);
  float* probs = F(base, a[5]);
  const Dims d = dims(a, 6);
  parallel_for(d.B * d.G, 1, [&](int64_t, int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; p++) {
      const int64_t b = p / d.G;
      const float* qp = q + p * d.RT * d.D;
      const float* kp = k + p * d.Tk * d.D;
      const float* vp = v + p * d.Tk * d.D;
      float* P = probs + p * d.RT * d.Tk;
      const float* mb = mask + (d.MB == 1 ? 0 : b) * d.T * d.Tk;
      gemm1(false, true, d.RT, d.Tk, d.D, d.scale, qp, kp, 0.0f, P);
      for (int64_t i = 0; i < d.RT; i++) softmax_row(P + i * d.Tk, mb + (i % d.T) * d.Tk, d.Tk);
      gemm1(false, false, d.RT, d.D, d.Tk, 1.0f, P, vp, 0.0f, out + p * d.RT * d.D);
    }
  });
}

// args: q, k, v, probs, dout, dq, dk, dv, B, G, RT, T, Tk, D, MB, scale
void k_attention_bwd(uint8_t* base, Args a) {
  const float* q = F(base, a[0]);
  const float* k = F(base, a[1]);
  const float* v = F(base, a[2]);
  const float* probs = F(base, a[3]);
  const float* dout = F(base, a[4]);
  float* dq = F(base, a[5]);
  float* dk = F(base, a[6]);
  float* dv = F(base, a[7]);
  const Dims d = dims(a, 8);
  parallel_for(d.B * d.G, 1, [&](int64_t, int64_t p0, int64_t p1) {
    // Per-thread scratch for dP / dS, kept between calls: threads claim chunks dynamically.
    thread_local std::vector<float> dS;
    if (dS.size() < static_cast<size_t>(d.RT * d.Tk)) dS.resize(static_cast<size_t>(d.RT * d.Tk));
    for (int64_t p = p0; p < p1; p++) {
      const float* qp = q + p * d.RT * d.D;
      const float* kp = k + p * d.Tk * d.D;
      const float* vp = v + p * d.Tk * d.D;
      const float* P = probs + p * d.RT * d.Tk;
      const float* dO = dout + p * d.RT * d.D;
      gemm1(true, false, d.Tk, d.D, d.RT, 1.0f, P, dO, 0.0f, dv + p * d.Tk * d.D);  // dv = Pᵀ · dO
      gemm1(false, true, d.RT, d.Tk, d.D, 1.0f, dO, vp, 0.0f, dS.data());            // dP = dO · vᵀ
      for (int64_t i = 0; i < d.RT; i++) {
        const float* pr = P + i * d.Tk;
        float* sr = dS.data() + i * d.Tk;
        float dot = 0;
#pragma omp simd reduction(+ : dot)
        for (int64_t j = 0; j < d.Tk; j++) dot += pr[j] * sr[j];
#pragma omp simd
        for (int64_t j = 0; j < d.Tk; j++) sr[j] = pr[j] * (sr[j] - dot);
      }
      gemm1(false, false, d.RT, d.D, d.Tk, d.scale, dS.data(), kp, 0.0f, dq + p * d.RT * d.D);  // dq = s·dS·k
      gemm1(true, false, d.Tk, d.D, d.RT, d.scale, dS.data(), qp, 0.0f, dk + p * d.Tk * d.D);   // dk = s·dSᵀ·q
    }
  });
}

}  // namespace seal
