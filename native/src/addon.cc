// Node-API entry points. Every kernel is exported as `name(heap: ArrayBuffer, ...numbers)`: the wasm backend's
// memory and byte offsets into it (outputs already allocated by the caller), so nothing is copied. Calls are
// synchronous and run on the calling thread plus our pool.
#include <node_api.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <utility>

#include "kernels.h"
#include "pool.h"
#include "sgemm.h"

namespace {

using Kernel = void (*)(uint8_t*, seal::Args);

struct Entry {
  const char* name;
  Kernel fn;
  size_t argc;  // numbers after the buffer
};

const Entry kEntries[] = {
    {"gemm", seal::k_gemm, 11},
    {"sgemm", seal::k_sgemm, 14},
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

napi_value Str(napi_env env, const std::string& s) {
  napi_value out;
  napi_create_string_utf8(env, s.c_str(), s.size(), &out);
  return out;
}

napi_value Info(napi_env env, napi_callback_info) {
  std::string s = seal::gemm_describe();
  s += ", " + std::to_string(seal::pool_threads()) + " threads";
  if (seal::pool_threads() > 1 && !seal::home_thread())
    s += " (1 on this thread: only the main thread uses the pool)";
  else if (seal::pool_adapts())
    s += " (fewer while other processes keep cores busy)";
  if (seal::bf16_available()) s += ", bf16 matmul available (oneDNN)";
  return Str(env, s);
}

// The single string argument of setGemm / setGemmIsa, or "" when absent or not a string.
std::string StringArg(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  char buf[32] = {0};
  size_t len = 0;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], buf, sizeof buf, &len) != napi_ok) return "";
  return std::string(buf, len);
}

// setGemm(path: 'auto' | 'own' | 'openblas'): string — selects the matrix-product path; returns the one in use.
// Throws for an unknown path, or 'openblas' in a build without it.
napi_value SetGemm(napi_env env, napi_callback_info info) {
  const std::string path = StringArg(env, info);
  if (!seal::set_gemm_path(path.c_str()))
    return Throw(env, "setGemm: '" + path + "' is not available (auto, own" +
                          (seal::openblas_built() ? ", openblas)" : "; built without OpenBLAS)"));
  return Str(env, seal::gemm_path());
}

// setGemmIsa(isa: 'auto' | 'avx512' | 'avx2' | 'scalar'): string — selects our SGEMM's instruction-set variant;
// returns the one in use. Throws for an unknown name or one this CPU cannot run.
napi_value SetGemmIsa(napi_env env, napi_callback_info info) {
  const std::string name = StringArg(env, info);
  for (seal::GemmIsa isa :
       {seal::GemmIsa::Auto, seal::GemmIsa::Avx512, seal::GemmIsa::Avx2, seal::GemmIsa::Scalar}) {
    if (name != seal::sgemm_isa_name(isa)) continue;
    if (!seal::sgemm_set_isa(isa)) return Throw(env, "setGemmIsa: this CPU cannot run " + name);
    return Str(env, seal::sgemm_isa_name(seal::sgemm_isa()));
  }
  return Throw(env, "setGemmIsa: unknown variant '" + name + "' (auto, avx512, avx2, scalar)");
}

// gemmConfig(): { path, isa, isas, openblas } — the path and variant in use, the variants this CPU runs, and
// whether OpenBLAS is built in.
napi_value GemmConfig(napi_env env, napi_callback_info) {
  napi_value out, isas, flag;
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "path", Str(env, seal::gemm_path()));
  napi_set_named_property(env, out, "isa", Str(env, seal::sgemm_isa_name(seal::sgemm_isa())));
  napi_create_array(env, &isas);
  uint32_t i = 0;
  for (seal::GemmIsa isa : {seal::GemmIsa::Avx512, seal::GemmIsa::Avx2, seal::GemmIsa::Scalar})
    if (seal::sgemm_isa_supported(isa)) napi_set_element(env, isas, i++, Str(env, seal::sgemm_isa_name(isa)));
  napi_set_named_property(env, out, "isas", isas);
  napi_get_boolean(env, seal::openblas_built(), &flag);
  napi_set_named_property(env, out, "openblas", flag);
  return out;
}

// threadsNow(): number — threads the main thread's parallel regions use now (fewer while the machine is busy).
napi_value ThreadsNow(napi_env env, napi_callback_info) {
  napi_value out;
  napi_create_int32(env, seal::threads_now(), &out);
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
  const std::pair<const char*, napi_callback> extras[] = {
      {"info", Info}, {"threadsNow", ThreadsNow}, {"setBf16", SetBf16}, {"setGemm", SetGemm}, {"setGemmIsa", SetGemmIsa}, {"gemmConfig", GemmConfig}};
  for (const auto& [name, cb] : extras) {
    napi_value fn;
    napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, nullptr, &fn);
    napi_set_named_property(env, exports, name, fn);
  }
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
