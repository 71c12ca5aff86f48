/**
 * The decoder-only transformer: embeddings → blocks → final norm → head, for the GPT-2 and Llama families.
 * Parameters live in a `ParamMap` keyed by Hugging Face names; adapters enter through `deltas` and never write
 * into those parameters.
 */
import { type Tensor, type Tensor2D, type Tensor3D, tf } from '../engine/tf.js';
import { Rng } from '../util/rng.js';
import type { AttentionInputs } from './attention.js';
import { block, finalNorm } from './block.js';
import { headDim, type ModelConfig } from './config.js';
import type { KVCache } from './kv-cache.js';
import { type ForwardContext, type LinearDelta, param } from './linear.js';
import { initParamData, makeVariables, type ParamMap, paramSpecs } from './params.js';
import { type RopeTables, ropeTables } from './rope.js';

export interface ForwardOptions {
  /** Incremental decoding state; the new tokens are appended to it. */
  readonly cache?: KVCache;
  /** Position ids (B, T); default cache length + 0..T-1 for every row. */
  readonly positions?: readonly (readonly number[])[];
  /** Which key positions are real (1) or padding (0), (B, Tpast + T); default all real. */
  readonly keyMask?: readonly (readonly number[])[];
  /** Adapters to add to the linear layers for this call. */
  readonly deltas?: readonly LinearDelta[];
  /** Only compute logits at the last position → (B, 1, V). */
  readonly lastOnly?: boolean;
  /**
   * Only compute logits at these flattened positions (row·T + t) → (1, R, V). A loss that weights few positions
   * (an answer after a long prompt) skips the head and softmax everywhere else — about half of a small model's work.
   */
  readonly rows?: Int32Array;
  /** Differentiable path for the tied head (transposed matmul each call) instead of the cached transpose. */
  readonly training?: boolean;
}

/** What the blocks of one forward pass share. */
export interface PassState {
  readonly ctx: ForwardContext;
  readonly inp: AttentionInputs;
  readonly b: number;
  readonly t: number;
}

const MASKED = -1e9; // finite, so a fully masked (padding) row gives a uniform softmax rather than NaN

export class Transformer {
  private rope: RopeTables | undefined;
  private headCache: { id: object; t: Tensor } | undefined;

  constructor(
    readonly config: ModelConfig,
    readonly params: ParamMap,
  ) {}

  static init(config: ModelConfig, seed: number): Transformer {
    const rng = new Rng(seed);
    return new Transformer(
      config,
      makeVariables(paramSpecs(config), (s) => initParamData(config, s, rng)),
    );
  }

  get numParams(): number {
    let n = 0;
    for (const v of this.params.values()) n += v.size;
    return n;
  }

  private ropeTables(): RopeTables | undefined {
    if (this.config.arch !== 'llama') return undefined;
    this.rope ??= ropeTables(this.config.maxSeqLen, headDim(this.config), this.config.ropeTheta);
    return this.rope;
  }

  /** The head as (C, V). For a tied head outside training, a transposed copy is cached per embedding version. */
  private head(ctx: ForwardContext, training: boolean): { w: Tensor; transposed: boolean } {
    const c = this.config;
    if (!c.tieEmbeddings) return { w: param(ctx, 'lm_head.weight'), transposed: false };
    const emb = param(ctx, c.arch === 'gpt2' ? 'transformer.wte.weight' : 'model.embed_tokens.weight');
    if (training) return { w: emb, transposed: true };
    const id = (emb as unknown as { dataId: object }).dataId;
    if (this.headCache?.id !== id) {
      this.headCache?.t.dispose();
      this.headCache = { id, t: tf.keep(tf.transpose(emb)) };
    }
    return { w: this.headCache.t, transposed: false };
  }

  /**
   * Start of a forward pass: input tensors (positions, mask) and the embeddings x (B·T, C). With `layer` and `end`
   * this lets a trainer run the blocks one at a time (gradient checkpointing); `forward` composes the three.
   */
  begin(ids: Tensor2D, opts: ForwardOptions = {}): { state: PassState; x: Tensor2D } {
    const c = this.config;
    const [b, t] = ids.shape;
    if (b === 0 || t === 0) throw new Error('forward: empty input');
    const past = opts.cache?.length ?? 0;
    if (past + t > c.maxSeqLen)
      throw new Error(`sequence length ${past + t} exceeds the model's maxSeqLen ${c.maxSeqLen}`);
    const ctx: ForwardContext = { config: c, params: this.params, deltas: opts.deltas ?? [] };
    const posRows =
      opts.positions ?? Array.from({ length: b }, () => Array.from({ length: t }, (_, i) => past + i));
    const positions = tf.tensor2d(posRows.flat(), [b, t], 'int32');
    const mask = buildMask(b, t, past, opts.keyMask);
    const flatIds = tf.reshape(ids, [b * t]);
    let x: Tensor2D;
    switch (c.arch) {
      case 'gpt2': {
        const tok = tf.gather(param(ctx, 'transformer.wte.weight'), flatIds);
        const pos = tf.gather(param(ctx, 'transformer.wpe.weight'), tf.reshape(positions, [b * t]));
        x = tf.add<Tensor2D>(tok, pos);
        break;
      }
      case 'llama':
        x = tf.gather(param(ctx, 'model.embed_tokens.weight'), flatIds) as Tensor2D;
        break;
      default: {
        const never: never = c.arch;
        throw new Error(`unreachable arch ${String(never)}`);
      }
    }
    const inp: AttentionInputs = { positions, mask, rope: this.ropeTables(), cache: opts.cache };
    return { state: { ctx, inp, b, t }, x };
  }

  /** Block `l`: x (B·T, C) → (B·T, C). */
  layer(state: PassState, l: number, x: Tensor2D): Tensor2D {
    return block(state.ctx, l, x, state.b, state.t, state.inp);
  }

  /** Final norm and head: x (B·T, C) → logits (B, T, V), or (B, 1, V) with `lastOnly`. */
  end(
    state: PassState,
    x: Tensor2D,
    opts: Pick<ForwardOptions, 'lastOnly' | 'training' | 'rows'> = {},
  ): Tensor3D {
    const c = this.config;
    let { b, t } = state;
    let h = finalNorm(state.ctx, x); // (B·T, C)
    let tOut = t;
    if (opts.rows !== undefined) {
      h = tf.gather(h, tf.tensor1d(opts.rows, 'int32')) as Tensor2D; // (R, C)
      b = 1;
      tOut = opts.rows.length;
    } else if (opts.lastOnly === true && t > 1) {
      h = tf.reshape(tf.slice(tf.reshape(h, [b, t, c.dim]), [0, t - 1, 0], [b, 1, c.dim]), [b, c.dim]);
      tOut = 1;
    }
    const { w, transposed } = this.head(state.ctx, opts.training === true);
    const logits = tf.matMul(h, w as Tensor2D, false, transposed);
    return tf.reshape(logits, [b, tOut, c.vocabSize]);
  }

  /** Final hidden states (B, T, C) before the head. */
  hidden(ids: Tensor2D, opts: ForwardOptions = {}): Tensor3D {
    const { state, x: x0 } = this.begin(ids, opts);
    let x = x0;
    for (let l = 0; l < this.config.nLayers; l++) x = this.layer(state, l, x);
    opts.cache?.advance(state.t);
    return tf.reshape(finalNorm(state.ctx, x), [state.b, state.t, this.config.dim]);
  }

  /** ids (B, T) int32 → logits (B, T, V), or (B, 1, V) with `lastOnly`. */
  forward(ids: Tensor2D, opts: ForwardOptions = {}): Tensor3D {
    const { state, x: x0 } = this.begin(ids, opts);
    let x = x0;
    for (let l = 0; l < this.config.nLayers; l++) x = this.layer(state, l, x);
    opts.cache?.advance(state.t);
    return this.end(state, x, opts);
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.rope?.cos.dispose();
    this.rope?.sin.dispose();
    this.headCache?.t.dispose();
  }
}

/** Additive attention mask (B, 1, T, Tk): causal over absolute time, and padding keys masked out. */
function buildMask(b: number, t: number, past: number, keyMask: ForwardOptions['keyMask']): Tensor {
  const tk = past + t;
  const rows = keyMask === undefined ? 1 : b;
  const data = new Float32Array(rows * t * tk);
  for (let r = 0; r < rows; r++) {
    const km = keyMask?.[r];
    if (km !== undefined && km.length !== tk)
      throw new Error(`keyMask row ${r} has ${km.length} entries, expected ${tk}`);
    for (let i = 0; i < t; i++) {
      const base = (r * t + i) * tk;
      for (let j = 0; j < tk; j++) {
        const allowed = j <= past + i && (km === undefined || km[j] !== 0);
        data[base + j] = allowed ? 0 : MASKED;
      }
    }
  }
  return tf.tensor4d(data, [rows, 1, t, tk]);
}
