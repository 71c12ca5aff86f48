/**
 * A replacement `BatchMatMul` for the wasm backend. The shipped kernel is fast (XNNPACK, ~30 GFLOPS) only for an
 * untransposed single matrix product and falls to a naive loop (~2.5 GFLOPS) for transposed operands — every
 * backward matmul — and for batches (attention). We transpose explicitly and loop over the batch with fresh 2-D
 * slices, each with a new tensor id: XNNPACK caches packed weights per id, so reusing one scratch tensor for
 * different data silently returns stale results (measured).
 */
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { copyToFresh, type WasmBackendLike } from './wasm-heap.js';

type KernelCall = (args: {
  inputs: Record<string, TensorInfo>;
  backend: unknown;
  attrs?: NamedAttrMap;
}) => TensorInfo;

export function makeFastBatchMatMul(original: KernelConfig, transpose: KernelFunc): KernelConfig {
  const orig = original.kernelFunc as unknown as KernelCall;
  const trans = transpose as unknown as KernelCall;

  const kernelFunc: KernelFunc = ({ inputs, backend, attrs }) => {
    const b = backend as unknown as WasmBackendLike;
    const a = inputs['a'] as TensorInfo;
    const bb = inputs['b'] as TensorInfo;
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    const aRank = a.shape.length;
    const bRank = bb.shape.length;
    const batchA = a.shape.slice(0, -2).reduce((p, d) => p * d, 1);
    const batchB = bb.shape.slice(0, -2).reduce((p, d) => p * d, 1);
    const m = (transposeA ? a.shape[aRank - 1] : a.shape[aRank - 2]) as number;
    const k = (transposeA ? a.shape[aRank - 2] : a.shape[aRank - 1]) as number;
    const n = (transposeB ? bb.shape[bRank - 2] : bb.shape[bRank - 1]) as number;
    const outBatchDims = broadcastBatch(a.shape.slice(0, -2), bb.shape.slice(0, -2));
    const outShape = [...outBatchDims, m, n];
    const batch = Math.max(batchA, batchB);
    if (batchA !== batchB && batchA !== 1 && batchB !== 1) {
      throw new Error(`BatchMatMul: batch dims ${a.shape} and ${bb.shape} do not broadcast`);
    }

    const temps: TensorInfo[] = [];
    const as3 = (t: TensorInfo, bt: number, r: number, c: number, tr: boolean): TensorInfo => {
      // Explicit transpose of the last two dims; the wasm Transpose kernel is a tight C++ loop.
      const x = { ...t, shape: [bt, tr ? c : r, tr ? r : c] };
      if (!tr) return x;
      const y = trans({ inputs: { x }, backend, attrs: { perm: [0, 2, 1] } });
      temps.push(y);
      return y;
    };
    const a3 = as3(a, batchA, m, k, transposeA);
    const b3 = as3(bb, batchB, k, n, transposeB);

    let out: TensorInfo;
    if (batchB === 1) {
      // (batch·m, k) · (k, n): one fast 2-D product covers every batch row.
      const aFlat = { ...a3, shape: [1, batchA * m, k] };
      out = orig({ inputs: { a: aFlat, b: { ...b3, shape: [1, k, n] } }, backend, attrs: noTranspose });
    } else {
      out = b.makeOutput([batch, m, n], 'float32');
      for (let i = 0; i < batch; i++) {
        const ai = copyToFresh(b, a3, batchA === 1 ? 0 : i * m * k, [1, m, k]);
        const bi = copyToFresh(b, b3, i * k * n, [1, k, n]);
        const oi = orig({ inputs: { a: ai, b: bi }, backend, attrs: noTranspose });
        const outV = b.typedArrayFromHeap(out) as Float32Array;
        outV.set(b.typedArrayFromHeap(oi) as Float32Array, i * m * n);
        b.disposeData(ai.dataId);
        b.disposeData(bi.dataId);
        b.disposeData(oi.dataId);
      }
    }
    for (const t of temps) b.disposeData(t.dataId);
    return { ...out, shape: outShape };
  };
  // Keep the original's setup: it binds the C++ entry point we call for each 2-D product.
  const config: KernelConfig = { kernelName: 'BatchMatMul', backendName: 'wasm', kernelFunc };
  return original.setupFunc === undefined ? config : { ...config, setupFunc: original.setupFunc };
}

const noTranspose = { transposeA: false, transposeB: false } as unknown as NamedAttrMap;

function broadcastBatch(a: number[], b: number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    out.push(Math.max(da, db));
  }
  return out;
}
