/**
 * Finds and loads the optional native addon (native/build/Release/seal_native.node, built by
 * scripts/build-native.mjs with a C++ toolchain; OpenBLAS is used when installed). Never throws: a missing or broken addon only means the
 * wasm kernels stay in charge, and the reason is reported through `EngineInfo.native`.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

type KernelCall = (heap: ArrayBuffer, ...args: number[]) => void;

/** The addon's exports; argument lists are documented beside each kernel in native/src/*.cc. */
export interface NativeAddon {
  readonly gemm: KernelCall;
  /** One product with every BLAS parameter: transA, transB, m, n, k, alpha, aOff, lda, bOff, ldb, beta, cOff, ldc,
   * threads (0 calling thread, 1 as BatchMatMul, 2 the pool whatever the size). Offsets in bytes. */
  readonly sgemm: KernelCall;
  readonly rmsNormFwd: KernelCall;
  readonly rmsNormBwd: KernelCall;
  readonly layerNormFwd: KernelCall;
  readonly layerNormBwd: KernelCall;
  readonly geluFwd: KernelCall;
  readonly geluBwd: KernelCall;
  readonly swigluFwd: KernelCall;
  readonly swigluBwd: KernelCall;
  readonly attentionFwd: KernelCall;
  readonly attentionBwd: KernelCall;
  readonly xentFwd: KernelCall;
  readonly xentBwd: KernelCall;
  readonly sumMid: KernelCall;
  readonly gatherRows: KernelCall;
  readonly segmentSum: KernelCall;
  readonly adamw: KernelCall;
  readonly copy2d: KernelCall;
  readonly addBcast: KernelCall;
  readonly permuteRows: KernelCall;
  info(): string;
  /** Threads the main thread's parallel regions use now: the pool size, or fewer while other processes are busy. */
  threadsNow(): number;
  /** Switches bf16 matrix products on or off (builds with oneDNN only); returns whether they are on. */
  setBf16(on: boolean): boolean;
  /** Selects the matrix-product path; returns the one in use. Throws for 'openblas' in a build without it. */
  setGemm(path: 'auto' | 'own' | 'openblas'): 'own' | 'openblas';
  /** Selects our SGEMM's instruction-set variant; returns the one in use. Throws when this CPU cannot run it. */
  setGemmIsa(isa: 'auto' | 'avx512' | 'avx2' | 'scalar'): 'avx512' | 'avx2' | 'scalar';
  gemmConfig(): NativeGemmConfig;
}

/** The addon's matrix-product configuration. */
export interface NativeGemmConfig {
  /** The path BatchMatMul and attention use. */
  readonly path: 'own' | 'openblas';
  /** Our SGEMM's instruction-set variant in use. */
  readonly isa: 'avx512' | 'avx2' | 'scalar';
  /** The variants this CPU can run. */
  readonly isas: ReadonlyArray<'avx512' | 'avx2' | 'scalar'>;
  /** Whether the addon was built with OpenBLAS. */
  readonly openblas: boolean;
}

export type LoadResult =
  | { readonly addon: NativeAddon; readonly detail: string }
  | { readonly addon: undefined; readonly detail: string };

const ADDON = join('native', 'build', 'Release', 'seal_native.node');

/** The package root holds native/; from src/engine/native, dist/engine/native or a compiled bench it is a few levels up. */
function findAddon(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = join(dir, ADDON);
    if (existsSync(p)) return p;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

let cached: LoadResult | undefined;

export function loadNative(): LoadResult {
  if (cached !== undefined) return cached;
  cached = load();
  return cached;
}

function load(): LoadResult {
  if (process.env['SEAL_NATIVE'] === '0') return { addon: undefined, detail: 'disabled by SEAL_NATIVE=0' };
  const path = findAddon();
  if (path === undefined)
    return {
      addon: undefined,
      detail:
        'native addon not built (needs a C++ toolchain; npm run build:native, see scripts/build-native.mjs)',
    };
  // OpenBLAS must not start its own threads (it reads this when loaded): the addon's pool parallelises every
  // call (see native/src/blas.cc). Set only around the load, so child processes see the user's environment.
  // The same for OpenMP, which oneDNN (the optional bf16 products) runs on.
  const saved = {
    OPENBLAS_NUM_THREADS: process.env['OPENBLAS_NUM_THREADS'],
    OMP_NUM_THREADS: process.env['OMP_NUM_THREADS'],
  };
  process.env['OPENBLAS_NUM_THREADS'] = '1';
  process.env['OMP_NUM_THREADS'] = '1';
  try {
    const require = createRequire(import.meta.url);
    const addon = require(path) as NativeAddon;
    // An addon built before the SGEMM switch lacks it: rebuild rather than fail later.
    if (typeof addon.setGemm !== 'function')
      return { addon: undefined, detail: 'native addon is out of date: run npm run build:native' };
    return { addon, detail: addon.info() };
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
    return { addon: undefined, detail: `native addon failed to load: ${msg}` };
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
