// Node-API entry points. Every kernel is exported as `name(heap: ArrayBuffer, ...numbers)`: the wasm backend's
// memory and byte offsets into it (outputs already allocated by the caller), so nothing is copied. Calls are
// synchronous and run on the calling thread plus our pool.
#include <node_api.h>

#include <cstdio>
#include <string>
#include <thread>

#include <cblas.h>

#include "kernels.h"
#include "pool.h"

namespace {

using Kernel = void (*)(uint8_t*, seal::Args);

struct Entry {
  const char* name;
  Kernel fn;
  size_t argc;  // numbers after the buffer
};

const Entry kEntries[] = {
    {"gemm", seal::k_gemm, 11},
    {"rmsNormFwd", seal::k_rmsnorm_fwd, 7},
    {"rmsNormBwd", seal::k_rmsnorm_bwd, 8},
    {"layerNormFwd", seal::k_layernorm_fwd, 9},
    {"layerNormBwd", seal::k_layernorm_bwd, 10},
    {"geluFwd", seal::k_gelu_fwd, 3},
    {"geluBwd", seal::k_gelu_bwd, 4},
    {"swigluFwd", seal::k_swiglu_fwd, 4},
    {"swigluBwd", seal::k_swiglu_bwd, 6},
    {"attentionFwd", seal::k_attention_fwd, 14},
    {"attentionBwd", seal::k_attention_bwd, 16},
    {"xentFwd", seal::k_xent_fwd, 7},
    {"xentBwd", seal::k_xent_bwd, 8},
    {"sumMid", seal::k_sum_mid, 5},
    {"gatherRows", seal::k_gather_rows, 6},
    {"segmentSum", seal::k_segment_sum, 6},
    {"adamw", seal::k_adamw, 16},
    {"copy2d", seal::k_copy2d, 6},
    {"addBcast", seal::k_add_bcast, 5},
    // x, out, rank, inner, rank−1 dims, rank−1 strides: variable length, checked by the kernel's caller
    {"permuteRows", seal::k_permute_rows, 0},
};

constexpr size_t kMaxArgs = 24;

napi_value Throw(napi_env env, const std::string& msg) {
  napi_throw_error(env, nullptr, msg.c_str());
  return nullptr;
}

napi_value Call(napi_env env, napi_callback_info info) {
  size_t argc = kMaxArgs + 1;
  napi_value argv[kMaxArgs + 1];
  void* data = nullptr;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, &data) != napi_ok) return Throw(env, "bad call");
  const Entry* e = static_cast<const Entry*>(data);
  const bool variadic = e->argc == 0;
  if (variadic && (argc < 5 || argc > kMaxArgs + 1)) return Throw(env, std::string(e->name) + ": bad argument count");
  if (!variadic && argc != e->argc + 1) return Throw(env, std::string(e->name) + ": expected " + std::to_string(e->argc + 1) + " arguments");
  void* base = nullptr;
  size_t len = 0;
  bool isAb = false;
  napi_is_arraybuffer(env, argv[0], &isAb);
  if (!isAb || napi_get_arraybuffer_info(env, argv[0], &base, &len) != napi_ok)
    return Throw(env, std::string(e->name) + ": argument 0 must be the wasm heap ArrayBuffer");
  double args[kMaxArgs];
  const size_t n = variadic ? argc - 1 : e->argc;
  for (size_t i = 0; i < n; i++) {
    if (napi_get_value_double(env, argv[i + 1], &args[i]) != napi_ok)
      return Throw(env, std::string(e->name) + ": argument " + std::to_string(i + 1) + " must be a number");
  }
  e->fn(static_cast<uint8_t*>(base), args);
  return nullptr;
}

napi_value Info(napi_env env, napi_callback_info) {
  const char* cfg = openblas_get_config();
  std::string s = std::string(cfg == nullptr ? "OpenBLAS" : cfg);
  while (!s.empty() && s.back() == ' ') s.pop_back();
  s += ", " + std::to_string(seal::pool_threads()) + " threads";
  if (seal::bf16_available()) s += ", bf16 matmul available (oneDNN)";
  napi_value out;
  napi_create_string_utf8(env, s.c_str(), s.size(), &out);
  return out;
}

// setBf16(on: boolean): boolean — switches bf16 products on or off; returns whether they are on now.
napi_value SetBf16(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  bool on = false;
  if (argc == 1) napi_get_value_bool(env, argv[0], &on);
  seal::set_bf16(on);
  napi_value out;
  napi_get_boolean(env, seal::bf16_enabled(), &out);
  return out;
}

napi_value Init(napi_env env, napi_value exports) {
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  if (const char* t = std::getenv("SEAL_NATIVE_THREADS")) threads = std::atoi(t);
  if (threads < 1) threads = 1;
  seal::blas_init();
  seal::pool_init(threads);
  for (const Entry& e : kEntries) {
    napi_value fn;
    napi_create_function(env, e.name, NAPI_AUTO_LENGTH, Call, const_cast<Entry*>(&e), &fn);
    napi_set_named_property(env, exports, e.name, fn);
  }
  napi_value info;
  napi_create_function(env, "info", NAPI_AUTO_LENGTH, Info, nullptr, &info);
  napi_set_named_property(env, exports, "info", info);
  napi_value bf16;
  napi_create_function(env, "setBf16", NAPI_AUTO_LENGTH, SetBf16, nullptr, &bf16);
  napi_set_named_property(env, exports, "setBf16", bf16);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
