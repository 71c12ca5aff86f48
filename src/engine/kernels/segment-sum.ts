/**
 * `UnsortedSegmentSum` for the wasm backend, which ships none. It is the gradient of `gather` (the embedding
 * lookup); without it tfjs falls back to the cpu backend and copies every tensor across (12.7 s of a 16.8 s step,
 * measured). A scatter-add straight on the wasm heap costs one pass over the gradient.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { heapView, type WasmBackendLike } from './wasm-heap.js';

const unsortedSegmentSum: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = backend as unknown as WasmBackendLike;
  const x = inputs['x'] as TensorInfo;
  const segmentIds = inputs['segmentIds'] as TensorInfo;
  const numSegments = (attrs as { numSegments: number }).numSegments;
  if (x.dtype !== 'float32') throw new Error(`UnsortedSegmentSum (wasm): dtype ${x.dtype} not supported`);
  const inner = x.shape.slice(segmentIds.shape.length).reduce((p, d) => p * d, 1);
  const outShape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
  const out = b.makeOutput(outShape, 'float32');
  // Views taken after makeOutput: allocation may grow (and so detach) the wasm memory.
  const outV = heapView(b, out) as Float32Array;
  const xV = heapView(b, x) as Float32Array;
  const ids = heapView(b, segmentIds);
  outV.fill(0);
  for (let i = 0; i < ids.length; i++) {
    const seg = ids[i] as number;
    if (seg < 0 || seg >= numSegments) continue;
    const src = i * inner;
    const dst = seg * inner;
    for (let j = 0; j < inner; j++) outV[dst + j] = (outV[dst + j] as number) + (xV[src + j] as number);
  }
  return out;
};

export const unsortedSegmentSumWasm: KernelConfig = {
  kernelName: 'UnsortedSegmentSum',
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSum,
};
