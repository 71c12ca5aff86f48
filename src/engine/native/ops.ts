/**
 * The fused operations on native kernels: each is a `tf.customGrad` whose forward and backward passes are one
 * native kernel each (see kernels.ts), saving what the backward pass needs instead of tfjs's tape of small ops.
 * Everything the backward pass reads goes through `save`, closed-over inputs included (mask, targets, weights):
 * the caller's tidy may dispose them before backprop runs.
 * Off the wasm backend (e.g. a test briefly on cpu) they defer to the composite implementation.
 */
import { compositeOps, type FusedOps } from '../fused.js';
import { type Tensor, tf } from '../tf.js';
import type { AdamWAttrs } from './seal-kernels.js';

type Grad = (dy: Tensor, saved: Tensor[]) => Tensor | Tensor[];

/** tf.customGrad with the typing it lacks: f receives the inputs and `save`. */
function custom(f: (inputs: Tensor[], save: (ts: Tensor[]) => void) => { value: Tensor; gradFunc: Grad }) {
  const g = tf.customGrad(((...args: unknown[]) => {
    const save = args[args.length - 1] as (ts: Tensor[]) => void;
    return f(args.slice(0, -1) as Tensor[], save);
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (...inputs: Tensor[]): Tensor => g(...inputs);
}

function run(name: string, inputs: Record<string, Tensor>, attrs: Record<string, number> = {}): Tensor[] {
  const out = tf.engine().runKernel<Tensor | Tensor[]>(name, inputs, attrs);
  return Array.isArray(out) ? out : [out];
}

const first = (ts: Tensor[]): Tensor => ts[0] as Tensor;

const onWasm = (...ts: Tensor[]): boolean =>
  tf.getBackend() === 'wasm' && ts.every((t) => t.dtype === 'float32');

export const nativeOps: FusedOps = {
  rmsNorm: (x, w, eps) => {
    if (!onWasm(x, w)) return compositeOps.rmsNorm(x, w, eps);
    return custom(([xi, wi], save) => {
      const [y, rstd] = run('SealRmsNorm', { x: xi!, w: wi! }, { eps });
      save([xi!, wi!, rstd!]);
      return {
        value: y!,
        gradFunc: (dy, [sx, sw, sr]) => run('SealRmsNormGrad', { x: sx!, w: sw!, rstd: sr!, dy }),
      };
    })(x, w);
  },
  layerNorm: (x, w, b, eps) => {
    if (!onWasm(x, w, b)) return compositeOps.layerNorm(x, w, b, eps);
    return custom(([xi, wi, bi], save) => {
      const [y, mean, rstd] = run('SealLayerNorm', { x: xi!, w: wi!, b: bi! }, { eps });
      save([xi!, wi!, mean!, rstd!]);
      return {
        value: y!,
        gradFunc: (dy, [sx, sw, sm, sr]) =>
          run('SealLayerNormGrad', { x: sx!, w: sw!, mean: sm!, rstd: sr!, dy }),
      };
    })(x, w, b);
  },
  geluNew: (x) => {
    if (!onWasm(x)) return compositeOps.geluNew(x);
    return custom(([xi], save) => {
      save([xi!]);
      return {
        value: first(run('SealGelu', { x: xi! })),
        gradFunc: (dy, [sx]) => first(run('SealGeluGrad', { x: sx!, dy })),
      };
    })(x);
  },
  swiglu: (gate, up) => {
    if (!onWasm(gate, up)) return compositeOps.swiglu(gate, up);
    return custom(([g, u], save) => {
      save([g!, u!]);
      return {
        value: first(run('SealSwiglu', { gate: g!, up: u! })),
        gradFunc: (dy, [sg, su]) => run('SealSwigluGrad', { gate: sg!, up: su!, dy }),
      };
    })(gate, up);
  },
  attention: (q, k, v, mask, scale) => {
    if (!onWasm(q, k, v, mask) || q.rank !== 4 || k.rank !== 4 || mask.rank !== 4)
      return compositeOps.attention(q, k, v, mask, scale);
    return custom(([qi, ki, vi], save) => {
      const [o, probs] = run('SealAttention', { q: qi!, k: ki!, v: vi!, mask }, { scale });
      save([qi!, ki!, vi!, probs!, mask]);
      return {
        value: o!,
        gradFunc: (dy, [sq, sk, sv, sp, sm]) =>
          run('SealAttentionGrad', { q: sq!, k: sk!, v: sv!, probs: sp!, mask: sm!, dy }, { scale }),
      };
    })(q, k, v);
  },
  crossEntropy: (logits, targets, weights) => {
    if (!onWasm(logits, weights) || targets.dtype !== 'int32' || logits.rank !== 2)
      return compositeOps.crossEntropy(logits, targets, weights);
    return custom(([lg], save) => {
      const [loss, lse] = run('SealCrossEntropy', { logits: lg!, targets, weights });
      save([lg!, lse!, targets, weights]);
      return {
        value: loss!,
        gradFunc: (dy, [sl, ss, st, sw]) =>
          first(run('SealCrossEntropyGrad', { logits: sl!, targets: st!, weights: sw!, lse: ss!, dy })),
      };
    })(logits);
  },
};

export interface AdamWStep {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** Decoupled weight decay for this parameter (0 = none). */
  readonly weightDecay: number;
  /** 1-based step number, for the bias corrections 1 − βᵗ. */
  readonly step: number;
}

/** Whether the fused AdamW kernel is registered on the active backend (native kernels on). */
export function nativeAdamWActive(): boolean {
  return tf.getKernel('SealAdamW', tf.getBackend()) !== undefined;
}

/**
 * One fused AdamW update with the arithmetic of src/train/optimizer.ts; returns new tensors [m, v, param]
 * (tfjs tensors are immutable: assign the param yourself). `m`/`v` undefined = first step (zero state).
 * Requires the native kernels to be active (`nativeEnabled()`) and float32 tensors on the wasm backend.
 */
export function adamwUpdateNative(
  param: Tensor,
  grad: Tensor,
  m: Tensor | undefined,
  v: Tensor | undefined,
  o: AdamWStep,
): [Tensor, Tensor, Tensor] {
  const attrs: AdamWAttrs = {
    lr: o.lr,
    beta1: o.beta1,
    beta2: o.beta2,
    eps: o.eps,
    decay: o.weightDecay > 0 ? 1 - o.lr * o.weightDecay : 1,
    bc1: 1 - o.beta1 ** o.step,
    bc2: 1 - o.beta2 ** o.step,
  };
  if (!nativeAdamWActive())
    throw new Error('adamwUpdateNative: native kernels are not active (check nativeEnabled())');
  const inputs: Record<string, Tensor> = { p: param, g: grad };
  if (m !== undefined && v !== undefined) {
    inputs['m'] = m;
    inputs['v'] = v;
  }
  const [p1, m1, v1] = run('SealAdamW', inputs, attrs as unknown as Record<string, number>);
  return [m1 as Tensor, v1 as Tensor, p1 as Tensor];
}
