#pragma once
#include <cstdint>
#include <string>

#include "common.h"

namespace seal {

void blas_init();
// Which matrix-product path BatchMatMul and attention use: "own" (sgemm.h) or "openblas" (builds with it).
// set_gemm_path("auto" | "own" | "openblas") returns false, changing nothing, for an unknown or unbuilt path.
bool openblas_built();
bool set_gemm_path(const char* path);
const char* gemm_path();
std::string gemm_describe();
bool bf16_available();
// Whether BatchMatMul uses bf16 products (opt-in; see bf16.cc).
void set_bf16(bool on);
bool bf16_enabled();
bool gemm_bf16(bool ta, bool tb, int64_t batch, int64_t m, int64_t n, int64_t k, const float* A, int64_t sa,
               const float* B, int64_t sb, float* C);
void gemm1(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, const float* b,
           float beta, float* c);

void k_gemm(uint8_t* base, Args a);
void k_sgemm(uint8_t* base, Args a);
void k_rmsnorm_fwd(uint8_t* base, Args a);
void k_rmsnorm_bwd(uint8_t* base, Args a);
void k_layernorm_fwd(uint8_t* base, Args a);
void k_layernorm_bwd(uint8_t* base, Args a);
void k_gelu_fwd(uint8_t* base, Args a);
void k_gelu_bwd(uint8_t* base, Args a);
void k_swiglu_fwd(uint8_t* base, Args a);
void k_swiglu_bwd(uint8_t* base, Args a);
void k_attention_fwd(uint8_t* base, Args a);
void k_attention_bwd(uint8_t* base, Args a);
void k_xent_fwd(uint8_t* base, Args a);
void k_xent_bwd(uint8_t* base, Args a);
void k_sum_mid(uint8_t* base, Args a);
void k_gather_rows(uint8_t* base, Args a);
void k_segment_sum(uint8_t* base, Args a);
void k_adamw(uint8_t* base, Args a);
void k_copy2d(uint8_t* base, Args a);
void k_add_bcast(uint8_t* base, Args a);
void k_permute_rows(uint8_t* base, Args a);

}  // namespace seal
