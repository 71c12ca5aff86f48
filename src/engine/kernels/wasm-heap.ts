/** The slice of the wasm backend's internals our kernels use (it exports no types for them). */
import type { DataType, TensorInfo, TypedArray } from '@tensorflow/tfjs-core';

export interface WasmBackendLike {
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): TypedArray;
  disposeData(dataId: object, force?: boolean): boolean;
}

export function heapView(backend: WasmBackendLike, t: TensorInfo): TypedArray {
  return backend.typedArrayFromHeap(t);
}

/** A fresh wasm tensor holding a copy of `src[offset, offset + size)`; fresh ids keep XNNPACK's cache honest. */
export function copyToFresh(
  backend: WasmBackendLike,
  src: TensorInfo,
  offset: number,
  shape: number[],
): TensorInfo {
  const size = shape.reduce((p, d) => p * d, 1);
  const out = backend.makeOutput(shape, 'float32');
  const outV = backend.typedArrayFromHeap(out) as Float32Array;
  const srcV = backend.typedArrayFromHeap(src) as Float32Array;
  outV.set(srcV.subarray(offset, offset + size));
  return out;
}
