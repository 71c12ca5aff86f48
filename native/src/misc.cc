// Cross-entropy, reductions, gather / scatter-add (the embedding and its gradient), and the AdamW update.
#include <vector>

#include "common.h"
#include "kernels.h"
#include "pool.h"

namespace seal {

namespace {
constexpr int64_t kAdamGrain = 1 << 16;
// Memory-bound kernels: a hand-off to a worker pays only beyond a few hundred kB.
constexpr int64_t kCopyGrain = 1 << 17;

double weight_sum(const float* w, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += w[i];
  return s > 1e-12 ? s : 1e-12;
}
}  // namespace

// Weighted mean token cross-entropy. args: logits, targets, weights, lse, loss, rows, vocab
void k_xent_fwd(uint8_t* base, Args a) {
  const float* x = F(base, a[0]);
  const int32_t* tg = I32(base, a[1]);
  const float* w = F(base, a[2]);
  float* lse = F(base, a[3]);
  float* loss = F(base, a[4]);
  const int64_t rows = N(a[5]), V = N(a[6]);
  const int64_t grain = (1 << 14) / (V + 1) + 1;
  std::vector<double> part(static_cast<size_t>(chunk_count(rows, grain)), 0.0);
  parallel_for(rows, grain, [&](int64_t t, int64_t r0, int64_t r1) {
    double acc = 0;
    for (int64_t r = r0; r < r1; r++) {
      const float* xr = x + r * V;
      float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
      for (int64_t j = 0; j < V; j++) mx = xr[j] > mx ? xr[j] : mx;
      float s = 0;
#pragma omp simd reduction(+ : s)
      for (int64_t j = 0; j < V; j++) s += exp_approx(xr[j] - mx);
      const float l = mx + std::log(s);
      lse[r] = l;
      // Weight-0 rows contribute exactly 0 (their target may be a padding id outside the vocabulary).
      if (w[r] != 0.0f) {
        const int32_t c = tg[r];
        const float picked = c >= 0 && c < V ? xr[c] : NAN;
        acc += static_cast<double>(w[r]) * static_cast<double>(l - picked);
      }
    }
    part[static_cast<size_t>(t)] = acc;
  });
  double total = 0;
  for (double p : part) total += p;
  loss[0] = static_cast<float>(total / weight_sum(w, rows));
}

// args: logits, targets, weights, lse, dy (scalar), dlogits, rows, vocab
void k_xent_bwd(uint8_t* base, Args a) {
  const float* x = F(base, a[0]);
  const int32_t* tg = I32(base, a[1]);
  const float* w = F(base, a[2]);
  const float* lse = F(base, a[3]);
  const float dy = *F(base, a[4]);
  float* dx = F(base, a[5]);
  const int64_t rows = N(a[6]), V = N(a[7]);
  const float inv = static_cast<float>(1.0 / weight_sum(w, rows));
  parallel_for(rows, (1 << 14) / (V + 1) + 1, [&](int64_t, int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const float* xr = x + r * V;
      float* dr = dx + r * V;
      const float sc = w[r] * dy * inv;
      if (sc == 0.0f) {
        std::memset(dr, 0, static_cast<size_t>(V) * 4);
        continue;
      }
      const float l = lse[r];
#pragma omp simd
      for (int64_t j = 0; j < V; j++) dr[j] = exp_approx(xr[j] - l) * sc;
      const int32_t c = tg[r];
      if (c >= 0 && c < V) dr[c] -= sc;
    }
  });
}

// Sum of x viewed as (outer, reduce, inner) over the middle axis → (outer, inner).
// args: x, out, outer, reduce, inner
void k_sum_mid(uint8_t* base, Args a) {
  const float* x = F(base, a[0]);
  float* out = F(base, a[1]);
  const int64_t O = N(a[2]), R = N(a[3]), In = N(a[4]);
  if (In == 1) {
    parallel_for(O, kCopyGrain / (R + 1) + 1, [&](int64_t, int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; o++) {
        const float* xr = x + o * R;
        double s = 0;
#pragma omp simd reduction(+ : s)
        for (int64_t r = 0; r < R; r++) s += xr[r];
        out[o] = static_cast<float>(s);
      }
    });
    return;
  }
  // Split the (outer, inner) outputs in column blocks so each thread streams whole rows of its block.
  const int64_t blk = 256;
  const int64_t colBlocks = (In + blk - 1) / blk;
  const int64_t tasks = O * colBlocks;
  parallel_for(tasks, O * R * In < kCopyGrain ? tasks + 1 : 1, [&](int64_t, int64_t t0, int64_t t1) {
    std::vector<double> acc(static_cast<size_t>(blk));
    for (int64_t t = t0; t < t1; t++) {
      const int64_t o = t / colBlocks;
      const int64_t c0 = (t % colBlocks) * blk;
      const int64_t c1 = c0 + blk < In ? c0 + blk : In;
      const int64_t w = c1 - c0;
      std::fill(acc.begin(), acc.begin() + w, 0.0);
      double* ac = acc.data();
      for (int64_t r = 0; r < R; r++) {
        const float* xr = x + (o * R + r) * In + c0;
#pragma omp simd
        for (int64_t c = 0; c < w; c++) ac[c] += xr[c];
      }
      float* dst = out + o * In + c0;
      for (int64_t c = 0; c < w; c++) dst[c] = static_cast<float>(ac[c]);
    }
  });
}

// Rows of a table: out[i] = x[idx[i]] (zeros for an index outside the table). Works for any 4-byte dtype.
// args: x, idx, out, n, rowLen, tableRows
void k_gather_rows(uint8_t* base, Args a) {
  const float* x = F(base, a[0]);
  const int32_t* idx = I32(base, a[1]);
  float* out = F(base, a[2]);
  const int64_t n = N(a[3]), L = N(a[4]), rowsT = N(a[5]);
  parallel_for(n, kCopyGrain / (L + 1) + 1, [&](int64_t, int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) {
      const int32_t r = idx[i];
      if (r >= 0 && r < rowsT)
        std::memcpy(out + i * L, x + static_cast<int64_t>(r) * L, static_cast<size_t>(L) * 4);
      else
        std::memset(out + i * L, 0, static_cast<size_t>(L) * 4);
    }
  });
}

// Scatter-add: out (segments, inner) = Σ x rows by id; ids outside [0, segments) are dropped. Threads own column
// ranges, so no two write the same output.
// args: x, ids, out, n, inner, segments
void k_segment_sum(uint8_t* base, Args a) {
  const float* x = F(base, a[0]);
  const int32_t* ids = I32(base, a[1]);
  float* out = F(base, a[2]);
  const int64_t n = N(a[3]), In = N(a[4]), S = N(a[5]);
  std::memset(out, 0, static_cast<size_t>(S * In) * 4);
  const int64_t grain = n * In < (1 << 15) ? In + 1 : 16;
  parallel_for(In, grain, [&](int64_t, int64_t c0, int64_t c1) {
    for (int64_t i = 0; i < n; i++) {
      const int32_t s = ids[i];
      if (s < 0 || s >= S) continue;
      const float* xr = x + i * In;
      float* dst = out + static_cast<int64_t>(s) * In;
#pragma omp simd
      for (int64_t c = c0; c < c1; c++) dst[c] += xr[c];
    }
  });
}

// AdamW, the same arithmetic as src/train/optimizer.ts: m' = β1·m + (1−β1)·g, v' = β2·v + (1−β2)·g²,
// p' = p·decay − (m'·lr/bc1) / (sqrt(v'/bc2) + eps). A zero offset for m or v means "no state yet" (zeros).
// args: p, g, m, v, pOut, mOut, vOut, n, lr, beta1, beta2, eps, decay, bc1, bc2, hasState
void k_adamw(uint8_t* base, Args a) {
  const float* p = F(base, a[0]);
  const float* g = F(base, a[1]);
  const bool state = a[15] != 0;
  const float* m = state ? F(base, a[2]) : nullptr;
  const float* v = state ? F(base, a[3]) : nullptr;
  float* po = F(base, a[4]);
  float* mo = F(base, a[5]);
  float* vo = F(base, a[6]);
  const float b1 = static_cast<float>(a[9]), b2 = static_cast<float>(a[10]);
  const float eps = static_cast<float>(a[11]), decay = static_cast<float>(a[12]);
  const float lrc = static_cast<float>(a[8] / a[13]), bc2 = static_cast<float>(a[14]);
  const float ob1 = static_cast<float>(1.0 - a[9]), ob2 = static_cast<float>(1.0 - a[10]);
  parallel_for(N(a[7]), kAdamGrain, [=](int64_t, int64_t i0, int64_t i1) {
    // Two loops rather than a per-element branch on `state`, so both vectorise.
    if (state) {
#pragma omp simd
      for (int64_t i = i0; i < i1; i++) {
        const float m1 = m[i] * b1 + g[i] * ob1;
        const float v1 = v[i] * b2 + g[i] * g[i] * ob2;
        mo[i] = m1;
        vo[i] = v1;
        po[i] = p[i] * decay - (m1 * lrc) / (std::sqrt(v1 / bc2) + eps);
      }
    } else {
#pragma omp simd
      for (int64_t i = i0; i < i1; i++) {
        const float m1 = g[i] * ob1;
        const float v1 = g[i] * g[i] * ob2;
        mo[i] = m1;
        vo[i] = v1;
        po[i] = p[i] * decay - (m1 * lrc) / (std::sqrt(v1 / bc2) + eps);
      }
    }
  });
}

}  // namespace seal

namespace seal {

// Strided block copy: rows × cols 4-byte elements. SplitV and Concat are this with a column offset.
// args: src, dst, rows, cols, srcStride, dstStride (elements)
void k_copy2d(uint8_t* base, Args a) {
  const float* src = F(base, a[0]);
  float* dst = F(base, a[1]);
  const int64_t rows = N(a[2]), cols = N(a[3]), ss = N(a[4]), ds = N(a[5]);
  if (ss == cols && ds == cols) {
    parallel_for(rows * cols, kCopyGrain, [=](int64_t, int64_t i0, int64_t i1) {
      std::memcpy(dst + i0, src + i0, static_cast<size_t>(i1 - i0) * 4);
    });
    return;
  }
  parallel_for(rows, kCopyGrain / (cols + 1) + 1, [=](int64_t, int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) std::memcpy(dst + r * ds, src + r * ss, static_cast<size_t>(cols) * 4);
  });
}

}  // namespace seal

namespace seal {

// out = a + b where b repeats every `bn` elements of a (bn == n: same shape; bn == row: a bias row).
// args: a, b, out, n, bn
void k_add_bcast(uint8_t* base, Args a) {
  const float* x = F(base, a[0]);
  const float* y = F(base, a[1]);
  float* out = F(base, a[2]);
  const int64_t n = N(a[3]), bn = N(a[4]);
  if (bn == n) {
    parallel_for(n, kCopyGrain, [=](int64_t, int64_t i0, int64_t i1) {
#pragma omp simd
      for (int64_t i = i0; i < i1; i++) out[i] = x[i] + y[i];
    });
    return;
  }
  const int64_t rows = n / bn;
  parallel_for(rows, kCopyGrain / (bn + 1) + 1, [=](int64_t, int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const float* xr = x + r * bn;
      float* o = out + r * bn;
#pragma omp simd
      for (int64_t i = 0; i < bn; i++) o[i] = xr[i] + y[i];
    }
  });
}

// Permutes the leading axes of x while its last axis stays last: every output row of `inner` elements is one
// contiguous source row. args: x, out, rank, inner, then rank−1 output dims and rank−1 matching source strides
// (in rows).
void k_permute_rows(uint8_t* base, Args a) {
  const float* x = F(base, a[0]);
  float* out = F(base, a[1]);
  const int r = static_cast<int>(a[2]) - 1;
  const int64_t inner = N(a[3]);
  int64_t dims[8], strides[8];
  int64_t rows = 1;
  for (int i = 0; i < r; i++) {
    dims[i] = N(a[4 + i]);
    strides[i] = N(a[4 + r + i]);
    rows *= dims[i];
  }
  parallel_for(rows, kCopyGrain / (inner + 1) + 1, [&](int64_t, int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; o++) {
      int64_t rem = o, src = 0;
      for (int i = r - 1; i >= 0; i--) {
        src += (rem % dims[i]) * strides[i];
        rem /= dims[i];
      }
      std::memcpy(out + o * inner, x + src * inner, static_cast<size_t>(inner) * 4);
    }
  });
}

}  // namespace seal
