/**
 * Our own kernels behind the fused ops (ops.ts runs them through `tf.engine().runKernel`), one per forward and
 * backward pass, and the fused AdamW update. Float32 inputs unless noted; outputs are allocated before the heap
 * is taken (see heap.ts).
 */
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { heap, type Inputs, inp, off, size, type WasmBackendInternals } from './heap.js';
import type { NativeAddon } from './loader.js';

export type Impl = (
  b: WasmBackendInternals,
  inputs: Inputs,
  attrs: NamedAttrMap,
) => TensorInfo | TensorInfo[];

export function sealKernels(n: NativeAddon): Record<string, Impl> {
  const f32 = (b: WasmBackendInternals, shape: number[]) => b.makeOutput(shape, 'float32');
  const rowsOf = (x: TensorInfo): [number, number] => {
    const c = x.shape[x.shape.length - 1] ?? 1;
    return [c === 0 ? 0 : size(x.shape) / c, c];
  };
  return {
    SealRmsNorm: (b, i, attrs) => {
      const x = inp(i, 'x');
      const [rows, c] = rowsOf(x);
      const y = f32(b, x.shape);
      const rstd = f32(b, [rows]);
      n.rmsNormFwd(
        heap(b),
        off(b, x),
        off(b, inp(i, 'w')),
        off(b, y),
        off(b, rstd),
        rows,
        c,
        attrs['eps'] as number,
      );
      return [y, rstd];
    },
    SealRmsNormGrad: (b, i) => {
      const x = inp(i, 'x');
      const [rows, c] = rowsOf(x);
      const dx = f32(b, x.shape);
      const dw = f32(b, [c]);
      const h = heap(b);
      n.rmsNormBwd(
        h,
        off(b, x),
        off(b, inp(i, 'w')),
        off(b, inp(i, 'rstd')),
        off(b, inp(i, 'dy')),
        off(b, dx),
        off(b, dw),
        rows,
        c,
      );
      return [dx, dw];
    },
    SealLayerNorm: (b, i, attrs) => {
      const x = inp(i, 'x');
      const [rows, c] = rowsOf(x);
      const y = f32(b, x.shape);
      const mean = f32(b, [rows]);
      const rstd = f32(b, [rows]);
      const h = heap(b);
      const eps = attrs['eps'] as number;
      n.layerNormFwd(
        h,
        off(b, x),
        off(b, inp(i, 'w')),
        off(b, inp(i, 'b')),
        off(b, y),
        off(b, mean),
        off(b, rstd),
        rows,
        c,
        eps,
      );
      return [y, mean, rstd];
    },
    SealLayerNormGrad: (b, i) => {
      const x = inp(i, 'x');
      const [rows, c] = rowsOf(x);
      const dx = f32(b, x.shape);
      const dw = f32(b, [c]);
      const db = f32(b, [c]);
      const h = heap(b);
      const o = (name: string) => off(b, inp(i, name));
      n.layerNormBwd(
        h,
        o('x'),
        o('w'),
        o('mean'),
        o('rstd'),
        o('dy'),
        off(b, dx),
        off(b, dw),
        off(b, db),
        rows,
        c,
      );
      return [dx, dw, db];
    },
    SealGelu: (b, i) => {
      const x = inp(i, 'x');
      const y = f32(b, x.shape);
      n.geluFwd(heap(b), off(b, x), off(b, y), size(x.shape));
      return y;
    },
    SealGeluGrad: (b, i) => {
      const x = inp(i, 'x');
      const dx = f32(b, x.shape);
      n.geluBwd(heap(b), off(b, x), off(b, inp(i, 'dy')), off(b, dx), size(x.shape));
      return dx;
    },
    SealSwiglu: (b, i) => {
      const g = inp(i, 'gate');
      const y = f32(b, g.shape);
      n.swigluFwd(heap(b), off(b, g), off(b, inp(i, 'up')), off(b, y), size(g.shape));
      return y;
    },
    SealSwigluGrad: (b, i) => {
      const g = inp(i, 'gate');
      const dg = f32(b, g.shape);
      const du = f32(b, g.shape);
      n.swigluBwd(
        heap(b),
        off(b, g),
        off(b, inp(i, 'up')),
        off(b, inp(i, 'dy')),
        off(b, dg),
        off(b, du),
        size(g.shape),
      );
      return [dg, du];
    },
    SealAttention: (b, i, attrs) => {
      const q = inp(i, 'q');
      const mask = inp(i, 'mask');
      const d = attnDims(q, inp(i, 'k'), mask, attrs);
      const o = f32(b, q.shape);
      const [bq, g, rt, , tk] = d as [number, number, number, number, number];
      const p = f32(b, [bq, g, rt, tk]);
      const h = heap(b);
      n.attentionFwd(
        h,
        off(b, q),
        off(b, inp(i, 'k')),
        off(b, inp(i, 'v')),
        off(b, mask),
        off(b, o),
        off(b, p),
        ...d,
      );
      return [o, p];
    },
    SealAttentionGrad: (b, i, attrs) => {
      const q = inp(i, 'q');
      const k = inp(i, 'k');
      const d = attnDims(q, k, inp(i, 'mask'), attrs);
      const dq = f32(b, q.shape);
      const dk = f32(b, k.shape);
      const dv = f32(b, k.shape);
      const h = heap(b);
      const o = (name: string) => off(b, inp(i, name));
      n.attentionBwd(
        h,
        o('q'),
        o('k'),
        o('v'),
        o('probs'),
        o('dy'),
        off(b, dq),
        off(b, dk),
        off(b, dv),
        ...d,
      );
      return [dq, dk, dv];
    },
    SealCrossEntropy: (b, i) => {
      const x = inp(i, 'logits');
      const [rows, v] = rowsOf(x);
      const lse = f32(b, [rows]);
      const loss = f32(b, []);
      const h = heap(b);
      n.xentFwd(
        h,
        off(b, x),
        off(b, inp(i, 'targets')),
        off(b, inp(i, 'weights')),
        off(b, lse),
        off(b, loss),
        rows,
        v,
      );
      return [loss, lse];
    },
    SealCrossEntropyGrad: (b, i) => {
      const x = inp(i, 'logits');
      const [rows, v] = rowsOf(x);
      const dx = f32(b, x.shape);
      const h = heap(b);
      const o = (name: string) => off(b, inp(i, name));
      n.xentBwd(h, o('logits'), o('targets'), o('weights'), o('lse'), o('dy'), off(b, dx), rows, v);
      return dx;
    },
    SealAdamW: (b, i, attrs) => {
      const p = inp(i, 'p');
      const m = i['m'];
      const v = i['v'];
      const po = f32(b, p.shape);
      const mo = f32(b, p.shape);
      const vo = f32(b, p.shape);
      const a = attrs as unknown as AdamWAttrs;
      const h = heap(b);
      n.adamw(
        h,
        off(b, p),
        off(b, inp(i, 'g')),
        m === undefined ? 0 : off(b, m),
        v === undefined ? 0 : off(b, v),
        off(b, po),
        off(b, mo),
        off(b, vo),
        size(p.shape),
        a.lr,
        a.beta1,
        a.beta2,
        a.eps,
        a.decay,
        a.bc1,
        a.bc2,
        m === undefined || v === undefined ? 0 : 1,
      );
      return [po, mo, vo];
    },
  };
}

export interface AdamWAttrs {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** Multiplier of the parameter before the step: 1 − lr·weightDecay, or 1 without decay. */
  readonly decay: number;
  readonly bc1: number;
  readonly bc2: number;
}

/** [B, G, R·T, T, Tk, D, mask batch, scale] for q (B, G, R·T, D), k (B, G, Tk, D), mask (MB, 1, T, Tk). */
function attnDims(q: TensorInfo, k: TensorInfo, mask: TensorInfo, attrs: NamedAttrMap): number[] {
  const [bq, g, rt, d] = q.shape as [number, number, number, number];
  const [, , t, tk] = mask.shape as [number, number, number, number];
  return [bq, g, rt, t, k.shape[2] ?? tk, d, mask.shape[0] ?? 1, attrs['scale'] as number];
}
