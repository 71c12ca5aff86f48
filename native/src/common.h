// Shared helpers for the kernels: pointers into the wasm heap and vectorisable math.
//
// Every kernel receives the wasm memory's base address and its arguments as doubles (byte offsets, sizes,
// scalars), in the order documented beside each kernel's table entry in addon.cc.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace seal {

using Args = const double*;

inline float* F(uint8_t* base, double off) { return reinterpret_cast<float*>(base + static_cast<uint64_t>(off)); }
inline int32_t* I32(uint8_t* base, double off) {
  return reinterpret_cast<int32_t*>(base + static_cast<uint64_t>(off));
}
inline int64_t N(double v) { return static_cast<int64_t>(v); }

// Cephes-style expf: ~1 ulp, branch-free so that `omp simd` loops vectorise (glibc's vector expf needs
// -ffast-math, which we do not want for NaN/inf semantics elsewhere).
inline float exp_approx(float x) {
  const float hi = 88.3762626647949f;
  const float lo = -87.3365447504f;
  float xc = x > hi ? hi : (x < lo ? lo : x);
  float fx = std::floor(xc * 1.44269504088896341f + 0.5f);
  float r = xc - fx * 0.693359375f;
  r = r - fx * -2.12194440e-4f;
  float z = r * r;
  float y = ((((1.9875691500E-4f * r + 1.3981999507E-3f) * r + 8.3334519073E-3f) * r + 4.1665795894E-2f) * r +
             1.6666665459E-1f) *
                r +
            5.0000001201E-1f;
  y = y * z + r + 1.0f;
  // 2^n in two factors: n reaches 128 at the top of the range, one past the largest float exponent.
  int32_t n = static_cast<int32_t>(fx);
  int32_t n1 = n / 2;
  const float s1 = __builtin_bit_cast(float, (n1 + 127) << 23);
  const float s2 = __builtin_bit_cast(float, (n - n1 + 127) << 23);
  float out = y * s1 * s2;
  out = x > hi ? INFINITY : out;
  out = x < lo ? 0.0f : out;
  return x != x ? x : out;
}

// Cephes tanhf: a polynomial near zero (no cancellation), exp beyond.
inline float tanh_approx(float x) {
  float ax = std::fabs(x);
  float z = x * x;
  float small = ((((-5.70498872745E-3f * z + 2.06390887954E-2f) * z - 5.37397155531E-2f) * z + 1.33314422036E-1f) *
                     z -
                 3.33332819422E-1f) *
                    z * x +
                x;
  float e = exp_approx(2.0f * (ax > 44.0f ? 44.0f : ax));
  float big = 1.0f - 2.0f / (e + 1.0f);
  big = x < 0 ? -big : big;
  return ax > 0.625f ? big : small;
}

inline float sigmoid_approx(float x) { return 1.0f / (1.0f + exp_approx(-x)); }

}  // namespace seal
