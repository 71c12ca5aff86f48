/**
 * Optional native acceleration for the wasm backend (OpenBLAS + a small thread pool, Node-API addon in native/).
 * `enableNative` installs the kernels and fused ops when the addon loads; `disableNative` restores the pure-wasm
 * path in the same process. initEngine calls these; nothing else needs to.
 */
import { resetFusedOps, setFusedOps } from '../fused.js';
import { registerNativeKernels, unregisterNativeKernels } from './kernels.js';
import { loadNative } from './loader.js';
import { nativeOps } from './ops.js';

export { type AdamWStep, adamwUpdateNative } from './ops.js';

export interface NativeInfo {
  readonly available: boolean;
  /** "OpenBLAS 0.3.21 … , 2 threads", or why the addon is absent. */
  readonly detail: string;
}

let enabled = false;

/** Whether the addon is loadable, and its BLAS configuration or the reason it is not. */
export function nativeInfo(): NativeInfo {
  const r = loadNative();
  return { available: r.addon !== undefined, detail: r.detail };
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
  return { available: true, detail: r.detail + note };
}

export function disableNative(): void {
  if (!enabled) return;
  loadNative().addon?.setBf16(false);
  unregisterNativeKernels();
  resetFusedOps();
  enabled = false;
}
