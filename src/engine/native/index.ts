/**
 * Optional native acceleration for the wasm backend (our SGEMM or OpenBLAS + a small thread pool, Node-API addon in
 * native/).
 * `enableNative` installs the kernels and fused ops when the addon loads; `disableNative` restores the pure-wasm
 * path in the same process. initEngine calls these; nothing else needs to.
 */
import { resetFusedOps, setFusedOps } from '../fused.js';
import { registerNativeKernels, unregisterNativeKernels } from './kernels.js';
import { loadNative, type NativeGemmConfig } from './loader.js';
import { nativeOps } from './ops.js';

export type { NativeGemmConfig } from './loader.js';
export { type AdamWStep, adamwUpdateNative, nativeAdamWActive } from './ops.js';

export interface NativeInfo {
  readonly available: boolean;
  /** "gemm: OpenBLAS 0.3.21 … , 2 threads", "gemm: own SGEMM avx512 …, 2 threads", or why the addon is absent. */
  readonly detail: string;
}

let enabled = false;

/** Whether the addon is loadable, and its BLAS configuration or the reason it is not. */
export function nativeInfo(): NativeInfo {
  const r = loadNative();
  return r.addon === undefined
    ? { available: false, detail: r.detail }
    : { available: true, detail: r.addon.info() };
}

/** The addon's matrix-product path and SGEMM variant, or undefined when the addon is absent. */
export function nativeGemmConfig(): NativeGemmConfig | undefined {
  return loadNative().addon?.gemmConfig();
}

/**
 * Chooses the native matrix products, process-wide: `path` 'own' (our SGEMM), 'openblas' (builds with it) or 'auto'
 * (OpenBLAS when built in); `isa` our SGEMM's variant ('auto' picks the widest this CPU runs). The environment sets
 * the same at load: SEAL_GEMM=own|openblas, SEAL_GEMM_ISA=avx512|avx2|scalar. Throws when the addon is absent or
 * the choice is unavailable. engineInfo().native.detail shows the change from the next initEngine on.
 */
export function setNativeGemm(opts: {
  path?: 'auto' | 'own' | 'openblas';
  isa?: 'auto' | 'avx512' | 'avx2' | 'scalar';
}): NativeGemmConfig {
  const r = loadNative();
  if (r.addon === undefined) throw new Error(`native matrix products unavailable: ${r.detail}`);
  if (opts.path !== undefined) r.addon.setGemm(opts.path);
  if (opts.isa !== undefined) r.addon.setGemmIsa(opts.isa);
  return r.addon.gemmConfig();
}

export function nativeEnabled(): boolean {
  return enabled;
}

/**
 * Installs the native kernels and fused ops on the wasm backend; idempotent. `bf16` (opt-in, builds with oneDNN
 * on CPUs with AVX512-BF16 or AMX) rounds matrix-product operands to bf16 with fp32 accumulation: about twice as
 * fast, ~3 significant digits per operand.
 */
export function enableNative(opts: { bf16?: boolean } = {}): NativeInfo {
  const r = loadNative();
  if (r.addon === undefined) return { available: false, detail: r.detail };
  if (!enabled) {
    registerNativeKernels(r.addon);
    setFusedOps(nativeOps, 'native');
    enabled = true;
  }
  const bf16 = r.addon.setBf16(opts.bf16 === true);
  const note =
    opts.bf16 === true ? (bf16 ? '; bf16 matmuls ON' : '; bf16 matmuls requested but unavailable') : '';
  return { available: true, detail: r.addon.info() + note };
}

export function disableNative(): void {
  if (!enabled) return;
  loadNative().addon?.setBf16(false);
  unregisterNativeKernels();
  resetFusedOps();
  enabled = false;
}
