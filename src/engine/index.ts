/**
 * Engine setup: picks a tfjs backend and installs our kernel fixes on it. Call `initEngine()` once before any
 * tensor work (the CLI and tests do). Backends, in order of preference when `auto`:
 *   tensorflow — `@tensorflow/tfjs-node`, used when the user has it installed (cannot install on our CI machine);
 *   wasm       — the default: ships inside npm, runs in Node and browsers, single-threaded in Node;
 *   cpu        — pure-JS fallback.
 */
import { createRequire } from 'node:module';
import '@tensorflow/tfjs-backend-wasm';
import { SealError } from '../errors.js';
import { makeFastBatchMatMul } from './kernels/matmul.js';
import { unsortedSegmentSumWasm } from './kernels/segment-sum.js';
import { disableNative, enableNative, type NativeInfo } from './native/index.js';
import { tf } from './tf.js';

export type BackendName = 'wasm' | 'cpu' | 'tensorflow';
export type BackendChoice = BackendName | 'auto';

export interface EngineInfo {
  readonly backend: BackendName;
  readonly tfjsVersion: string;
  readonly native: { readonly available: boolean; readonly detail: string };
  readonly node: string;
}

let current: EngineInfo | undefined;
let wasmPatched = false;

function patchWasm(): void {
  if (wasmPatched) return;
  wasmPatched = true;
  tf.registerKernel(unsortedSegmentSumWasm);
  const matmul = tf.getKernel('BatchMatMul', 'wasm');
  const transpose = tf.getKernel('Transpose', 'wasm');
  if (matmul === undefined || transpose === undefined)
    throw new Error('wasm backend lacks BatchMatMul/Transpose');
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel(makeFastBatchMatMul(matmul, transpose.kernelFunc));
}

async function tryTfjsNode(): Promise<boolean> {
  try {
    // Optional peer: resolved at run time only, so bundlers and installs without it are unaffected.
    const name = '@tensorflow/tfjs-node';
    await import(name);
    return tf.findBackend('tensorflow') !== null;
  } catch {
    return false;
  }
}

export interface EngineOptions {
  /**
   * Use the native addon (OpenBLAS kernels and fused ops) on the wasm backend when it is built: default true.
   * false restores the pure-wasm kernels, also after an earlier call turned them on.
   */
  readonly native?: boolean;
  /**
   * Opt-in: bf16 matrix products (fp32 accumulation, fp32 weights) when the addon was built with oneDNN and the
   * CPU has AVX512-BF16 or AMX; also `SEAL_NATIVE_BF16=1`. About 2× faster matmuls, ~1e-3 relative error.
   */
  readonly bf16?: boolean;
}

export async function initEngine(
  choice: BackendChoice = 'auto',
  opts: EngineOptions = {},
): Promise<EngineInfo> {
  let backend: BackendName;
  if (choice === 'auto') {
    backend = (await tryTfjsNode()) ? 'tensorflow' : 'wasm';
  } else {
    backend = choice;
    if (backend === 'tensorflow' && !(await tryTfjsNode())) {
      throw new SealError(
        '--backend tensorflow needs @tensorflow/tfjs-node, which is not installed (npm install @tensorflow/tfjs-node, or use --backend auto)',
      );
    }
  }
  if (backend === 'wasm') patchWasm();
  if (tf.getBackend() !== backend) {
    const ok = await tf.setBackend(backend);
    if (!ok) throw new Error(`could not initialise the ${backend} backend`);
  }
  await tf.ready();
  let native: NativeInfo;
  if (backend !== 'wasm') {
    disableNative();
    native = { available: false, detail: 'native kernels serve the wasm backend only' };
  } else if (opts.native === false) {
    disableNative();
    native = {
      available: false,
      detail: 'native acceleration switched off (initEngine option native: false)',
    };
  } else {
    native = enableNative({ bf16: opts.bf16 ?? process.env['SEAL_NATIVE_BF16'] === '1' });
  }
  const require = createRequire(import.meta.url);
  const tfjsVersion = (require('@tensorflow/tfjs-core/package.json') as { version: string }).version;
  current = {
    backend,
    tfjsVersion,
    native,
    node: process.version,
  };
  return current;
}

export function engineInfo(): EngineInfo {
  if (current === undefined) throw new Error('engine not initialised: call initEngine() first');
  return current;
}

export {
  type AdamWStep,
  adamwUpdateNative,
  nativeAdamWActive,
  nativeEnabled,
  nativeInfo,
  setNativeGemm,
} from './native/index.js';
export { tf } from './tf.js';
