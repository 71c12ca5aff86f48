/** Addresses of tensors in the wasm backend's heap, for the native kernels. */
import type { DataType, TensorInfo } from '@tensorflow/tfjs-core';

/** The slice of the wasm backend's internals the native kernels touch (it exports no types for them). */
export interface WasmBackendInternals {
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  incRef(dataId: object): void;
  readonly dataIdMap: { get(dataId: object): { memoryOffset: number } };
  readonly wasm: { readonly HEAPU8: Uint8Array };
}

export type Inputs = Record<string, TensorInfo>;

export function inp(inputs: Inputs, name: string): TensorInfo {
  const t = inputs[name];
  if (t === undefined) throw new Error(`native kernel: missing input ${name}`);
  return t;
}

export function internals(backend: unknown): WasmBackendInternals {
  return backend as WasmBackendInternals;
}

/** Byte offset of a tensor's data in the heap. */
export function off(b: WasmBackendInternals, t: TensorInfo): number {
  return b.dataIdMap.get(t.dataId).memoryOffset;
}

/**
 * The heap itself. Take it only after the last `makeOutput` of a kernel: an allocation may grow the memory, which
 * detaches every earlier ArrayBuffer of it.
 */
export function heap(b: WasmBackendInternals): ArrayBuffer {
  return b.wasm.HEAPU8.buffer as ArrayBuffer;
}

export function size(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
