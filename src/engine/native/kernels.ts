/**
 * Native kernels for the wasm backend: replacements for tfjs kernels (BatchMatMul, Sum, GatherV2,
 * UnsortedSegmentSum, Identity), each falling back to the kernel it replaced for cases it does not cover, and our
 * own `Seal*` kernels behind the fused ops (see ops.ts). Registration is reversible so native can be switched off
 * in a running process (tests compare both paths).
 */
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from '../tf.js';
import { heap, type Inputs, inp, internals, off, size, type WasmBackendInternals } from './heap.js';
import type { NativeAddon } from './loader.js';
import { sealKernels } from './seal-kernels.js';

/** Returns undefined when the case is not covered and the replaced kernel should run. */
type Override = (b: WasmBackendInternals, inputs: Inputs, attrs: NamedAttrMap) => TensorInfo | undefined;

function matmul(n: NativeAddon): Override {
  return (b, inputs, attrs) => {
    const a = inp(inputs, 'a');
    const bb = inp(inputs, 'b');
    if (a.dtype !== 'float32' || bb.dtype !== 'float32') return undefined;
    const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const ra = a.shape.length;
    const rb = bb.shape.length;
    const batchA = size(a.shape.slice(0, -2));
    const batchB = size(bb.shape.slice(0, -2));
    const m = (transposeA ? a.shape[ra - 1] : a.shape[ra - 2]) as number;
    const k = (transposeA ? a.shape[ra - 2] : a.shape[ra - 1]) as number;
    const n2 = (transposeB ? bb.shape[rb - 2] : bb.shape[rb - 1]) as number;
    const outBatch = broadcastBatch(a.shape.slice(0, -2), bb.shape.slice(0, -2));
    // Only flat broadcasting (one side a single matrix, or equal batches) maps onto one stride per operand.
    if (outBatch === undefined || (batchA !== batchB && batchA !== 1 && batchB !== 1)) return undefined;
    if (batchA !== batchB && size(outBatch) !== Math.max(batchA, batchB)) return undefined;
    const batch = Math.max(batchA, batchB);
    const out = b.makeOutput([...outBatch, m, n2], 'float32');
    n.gemm(
      heap(b),
      transposeA ? 1 : 0,
      transposeB ? 1 : 0,
      batch,
      m,
      n2,
      k,
      off(b, a),
      batchA === 1 ? 0 : m * k,
      off(b, bb),
      batchB === 1 ? 0 : k * n2,
      off(b, out),
    );
    return out;
  };
}

function broadcastBatch(a: number[], b: number[]): number[] | undefined {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1;
    const db = b[b.length - r + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return undefined;
    out.push(Math.max(da, db));
  }
  return out;
}

function sum(n: NativeAddon): Override {
  return (b, inputs, attrs) => {
    const x = inp(inputs, 'x');
    if (x.dtype !== 'float32' || size(x.shape) === 0) return undefined;
    const { axis, keepDims } = attrs as unknown as { axis: number | number[] | null; keepDims: boolean };
    const axes = [...new Set(tf.util.parseAxisParam(axis ?? x.shape.map((_, i) => i), x.shape))].sort(
      (p, q) => p - q,
    );
    if (axes.length === 0) return undefined;
    const first = axes[0] as number;
    const last = axes[axes.length - 1] as number;
    if (last - first + 1 !== axes.length) return undefined; // not one contiguous block of axes
    const outShape = keepDims
      ? x.shape.map((d, i) => (i >= first && i <= last ? 1 : d))
      : x.shape.filter((_, i) => i < first || i > last);
    const out = b.makeOutput(outShape, 'float32');
    n.sumMid(
      heap(b),
      off(b, x),
      off(b, out),
      size(x.shape.slice(0, first)),
      size(x.shape.slice(first, last + 1)),
      size(x.shape.slice(last + 1)),
    );
    return out;
  };
}

function gather(n: NativeAddon): Override {
  return (b, inputs, attrs) => {
    const x = inp(inputs, 'x');
    const idx = inp(inputs, 'indices');
    const { axis, batchDims } = attrs as unknown as { axis: number; batchDims: number };
    const ax = axis < 0 ? axis + x.shape.length : axis;
    if (ax !== 0 || batchDims !== 0 || idx.dtype !== 'int32') return undefined;
    if (x.dtype !== 'float32' && x.dtype !== 'int32') return undefined;
    const rowLen = size(x.shape.slice(1));
    const out = b.makeOutput([...idx.shape, ...x.shape.slice(1)], x.dtype);
    n.gatherRows(heap(b), off(b, x), off(b, idx), off(b, out), size(idx.shape), rowLen, x.shape[0] ?? 0);
    return out;
  };
}

function segmentSum(n: NativeAddon): Override {
  return (b, inputs, attrs) => {
    const x = inp(inputs, 'x');
    const ids = inp(inputs, 'segmentIds');
    if (x.dtype !== 'float32' || ids.dtype !== 'int32') return undefined;
    const { numSegments } = attrs as unknown as { numSegments: number };
    const tail = x.shape.slice(ids.shape.length);
    const out = b.makeOutput([numSegments, ...tail], 'float32');
    n.segmentSum(heap(b), off(b, x), off(b, ids), off(b, out), size(ids.shape), size(tail), numSegments);
    return out;
  };
}

/** x viewed as (outer, axis, inner): each output is a column block of that matrix. */
function splitV(n: NativeAddon): Override {
  return (b, inputs, attrs) => {
    const x = inp(inputs, 'x');
    if (x.dtype !== 'float32' && x.dtype !== 'int32') return undefined;
    const { numOrSizeSplits, axis } = attrs as unknown as {
      numOrSizeSplits: number | number[];
      axis: number;
    };
    const ax = tf.util.parseAxisParam(axis, x.shape)[0] as number;
    const sizes = tf.backend_util.prepareSplitSize(x, numOrSizeSplits, ax);
    const outer = size(x.shape.slice(0, ax));
    const inner = size(x.shape.slice(ax + 1));
    const total = (x.shape[ax] ?? 0) * inner;
    const outs = sizes.map((s) =>
      b.makeOutput(
        x.shape.map((d, i) => (i === ax ? s : d)),
        x.dtype,
      ),
    );
    const h = heap(b);
    let col = 0;
    sizes.forEach((s, i) => {
      const cols = s * inner;
      if (cols > 0 && outer > 0)
        n.copy2d(h, off(b, x) + col * 4, off(b, outs[i] as TensorInfo), outer, cols, total, cols);
      col += cols;
    });
    return outs as unknown as TensorInfo;
  };
}

function concat(n: NativeAddon): Override {
  return (b, inputs, attrs) => {
    const all = Object.values(inputs);
    const xs = all.filter((t) => size(t.shape) > 0);
    const x0 = all[0];
    if (x0 === undefined || xs.length < 2 || xs.some((t) => t.dtype !== x0.dtype)) return undefined;
    if (x0.dtype !== 'float32' && x0.dtype !== 'int32') return undefined;
    const ax = tf.util.parseAxisParam(attrs['axis'] as number, x0.shape)[0] as number;
    const outShape = tf.backend_util.computeOutShape(
      xs.map((t) => t.shape),
      ax,
    );
    const outer = size(outShape.slice(0, ax));
    const inner = size(outShape.slice(ax + 1));
    const total = (outShape[ax] ?? 0) * inner;
    const out = b.makeOutput(outShape, x0.dtype);
    const h = heap(b);
    let col = 0;
    for (const t of xs) {
      const cols = (t.shape[ax] ?? 0) * inner;
      n.copy2d(h, off(b, t), off(b, out) + col * 4, outer, cols, cols, total);
      col += cols;
    }
    return out;
  };
}

/** Same shapes, or one operand a trailing block of the other (a bias row): out[i] = big[i] + small[i mod n]. */
function add(n: NativeAddon): Override {
  return (b, inputs) => {
    const x = inp(inputs, 'a');
    const y = inp(inputs, 'b');
    if (x.dtype !== 'float32' || y.dtype !== 'float32') return undefined;
    const [big, small] = size(x.shape) >= size(y.shape) ? [x, y] : [y, x];
    const firstReal = small.shape.findIndex((d) => d !== 1);
    const core = firstReal < 0 ? [] : small.shape.slice(firstReal);
    const trailing = big.shape.slice(big.shape.length - core.length);
    if (core.length > big.shape.length || core.some((d, i) => d !== trailing[i])) return undefined;
    if (small.shape.length > big.shape.length || size(big.shape) === 0) return undefined;
    const out = b.makeOutput(big.shape, 'float32');
    n.addBcast(heap(b), off(b, big), off(b, small), off(b, out), size(big.shape), size(small.shape));
    return out;
  };
}

/** Permutations that keep the last axis last (attention's head split and merge): whole rows move. */
function transpose(n: NativeAddon): Override {
  return (b, inputs, attrs) => {
    const x = inp(inputs, 'x');
    const perm = (attrs as unknown as { perm: number[] }).perm;
    const rank = x.shape.length;
    if (rank < 2 || rank > 6 || perm[rank - 1] !== rank - 1 || size(x.shape) === 0) return undefined;
    if (x.dtype !== 'float32' && x.dtype !== 'int32') return undefined;
    const rowStride: number[] = [];
    for (let i = 0; i < rank - 1; i++) rowStride.push(size(x.shape.slice(i + 1, rank - 1)));
    const lead = perm.slice(0, -1);
    const out = b.makeOutput(
      perm.map((p) => x.shape[p] as number),
      x.dtype,
    );
    n.permuteRows(
      heap(b),
      off(b, x),
      off(b, out),
      rank,
      x.shape[rank - 1] as number,
      ...lead.map((p) => x.shape[p] as number),
      ...lead.map((p) => rowStride[p] as number),
    );
    return out;
  };
}

/**
 * The wasm Identity copies the data, and tfjs clones (Identity) every tensor it saves for backprop. Tensors are
 * immutable, so sharing the buffer (as Reshape and the cpu backend's Identity do) is enough.
 */
const identity: Override = (b, inputs) => {
  const x = inp(inputs, 'x');
  if (x.dtype === 'string') return undefined;
  b.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};

function overrides(n: NativeAddon): Record<string, Override> {
  return {
    BatchMatMul: matmul(n),
    Sum: sum(n),
    GatherV2: gather(n),
    UnsortedSegmentSum: segmentSum(n),
    Identity: identity,
    SplitV: splitV(n),
    Concat: concat(n),
    Add: add(n),
    Transpose: transpose(n),
  };
}

let registered: { replaced: KernelConfig[]; ours: string[] } | undefined;

/** Installs the native kernels on the wasm backend (idempotent). */
export function registerNativeKernels(n: NativeAddon): void {
  if (registered !== undefined) return;
  const replaced: KernelConfig[] = [];
  const ours: string[] = [];
  for (const [name, impl] of Object.entries(overrides(n))) {
    const prev = tf.getKernel(name, 'wasm');
    if (prev === undefined) continue;
    const fallback = prev.kernelFunc as unknown as (args: {
      inputs: Inputs;
      backend: unknown;
      attrs: NamedAttrMap;
    }) => TensorInfo;
    const kernelFunc: KernelFunc = ({ inputs, backend, attrs }) => {
      const i = inputs as unknown as Inputs;
      const a = (attrs ?? {}) as NamedAttrMap;
      return impl(internals(backend), i, a) ?? fallback({ inputs: i, backend, attrs: a });
    };
    tf.unregisterKernel(name, 'wasm');
    // The replaced kernel's setup binds its wasm entry point, which the fallback path still calls.
    const cfg: KernelConfig = { kernelName: name, backendName: 'wasm', kernelFunc };
    tf.registerKernel(prev.setupFunc === undefined ? cfg : { ...cfg, setupFunc: prev.setupFunc });
    replaced.push(prev);
  }
  for (const [name, impl] of Object.entries(sealKernels(n))) {
    const kernelFunc: KernelFunc = ({ inputs, backend, attrs }) =>
      impl(internals(backend), inputs as unknown as Inputs, (attrs ?? {}) as NamedAttrMap);
    if (tf.getKernel(name, 'wasm') !== undefined) tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc });
    ours.push(name);
  }
  registered = { replaced, ours };
}

/** Puts back the kernels that `registerNativeKernels` replaced. */
export function unregisterNativeKernels(): void {
  if (registered === undefined) return;
  for (const prev of registered.replaced) {
    tf.unregisterKernel(prev.kernelName, 'wasm');
    tf.registerKernel(prev);
  }
  for (const name of registered.ours) tf.unregisterKernel(name, 'wasm');
  registered = undefined;
}
