/**
 * The benchmark configurations of shared/notes/engine-measurements.md. bench/pytorch_ref.py mirrors these numbers
 * by hand: change both together, or the ratios compare different work.
 */
import type { ModelConfig } from '../../model/config.js';
import { parseModelConfig } from '../../model/config.js';

export interface ShapeSpec {
  readonly vocab: number;
  readonly dim: number;
  readonly layers: number;
  readonly heads: number;
  readonly seq: number;
  readonly batch: number;
  /** Learned positions; ≥ seq, and ≥ prompt + new tokens for generation. */
  readonly maxSeqLen: number;
}

export const SHAPES = {
  A: { vocab: 512, dim: 128, layers: 4, heads: 4, seq: 128, batch: 16, maxSeqLen: 128 },
  B: { vocab: 50257, dim: 768, layers: 12, heads: 12, seq: 256, batch: 2, maxSeqLen: 1024 },
} as const satisfies Record<string, ShapeSpec>;

/** Toy shapes for `--tiny`: every code path runs, in well under a second. */
export const TINY_SHAPES = {
  A: { vocab: 64, dim: 32, layers: 2, heads: 2, seq: 16, batch: 2, maxSeqLen: 16 },
  B: { vocab: 96, dim: 48, layers: 2, heads: 4, seq: 16, batch: 2, maxSeqLen: 64 },
} as const satisfies Record<string, ShapeSpec>;

export function shapes(tiny: boolean): { A: ShapeSpec; B: ShapeSpec } {
  return tiny ? TINY_SHAPES : SHAPES;
}

/** Our GPT-2 family: learned positions, LayerNorm, GELU (tanh), tied head, MLP 4·d, biases everywhere. */
export function gpt2Config(s: ShapeSpec): ModelConfig {
  return parseModelConfig(
    {
      arch: 'gpt2',
      modelType: 'gpt2',
      vocabSize: s.vocab,
      dim: s.dim,
      nLayers: s.layers,
      nHeads: s.heads,
      nKvHeads: s.heads,
      hiddenDim: 4 * s.dim,
      maxSeqLen: s.maxSeqLen,
      normEps: 1e-5,
      ropeTheta: 10000,
      tieEmbeddings: true,
      attnBias: true,
    },
    'bench',
  );
}

/**
 * LoRA on the attention input and output projections only. PEFT suffix matching means a bare `c_proj` would also
 * catch `mlp.c_proj`, so the targets carry their parent module.
 */
export const LORA = { r: 8, alpha: 16, targetModules: ['attn.c_attn', 'attn.c_proj'] } as const;

export const TRAIN = { lr: 1e-3, clipNorm: 1.0, seed: 1234 } as const;

/**
 * Model FLOPs of one training step (multiply-adds count 2), the work any implementation must do, not what ours
 * happens to execute. Forward per token: every weight matrix (per block 12·d² — qkv 3d², out d², MLP 8d² — and the
 * tied head d·V) plus attention's two S×S products over the full causal square (4·S·d per block, as computed).
 * Full fine-tuning: backward = 2× forward (gradients of activations and of weights). LoRA: the frozen weights need
 * only the activation gradients (1× forward); the adapters' own products, 3 forward + 3 backward per matrix of
 * rank r, are added exactly. Norms, GELU, softmax and the optimizer are left out (< 2% here).
 */
export function trainFlopsPerStep(
  s: ShapeSpec,
  lora?: { readonly r: number; readonly targets: 'attn' },
): number {
  const tokens = s.batch * s.seq;
  const weights = 12 * s.layers * s.dim * s.dim + s.dim * s.vocab;
  const forward = tokens * (2 * weights + 4 * s.seq * s.dim * s.layers);
  if (lora === undefined) return 3 * forward;
  // Adapters on c_attn (d → 3d) and c_proj (d → d): x·A (d·r), (x·A)·B (r·out), each 2 FLOPs per multiply-add;
  // backward: dB, d(x·A), dA — the same three products again, twice over (forward 1×, backward 2×).
  const adapterForward =
    tokens * 2 * s.layers * (s.dim * lora.r + lora.r * 3 * s.dim + s.dim * lora.r + lora.r * s.dim);
  // Attention's backward needs both S×S products' gradients (2× its forward) even when only adapters train.
  const attention = tokens * 4 * s.seq * s.dim * s.layers;
  return 2 * forward + attention + 3 * adapterForward;
}

export interface GenSpec {
  readonly promptLen: number;
  readonly newTokens: number;
}

/** stories260K decodes from BOS; B from a 16-token prompt (notes: "50 new tokens from a 16-token prompt"). */
export function genSpecs(tiny: boolean): { stories: GenSpec; B: GenSpec } {
  return tiny
    ? { stories: { promptLen: 1, newTokens: 8 }, B: { promptLen: 4, newTokens: 4 } }
    : { stories: { promptLen: 1, newTokens: 200 }, B: { promptLen: 16, newTokens: 50 } };
}

/** Path of the bundled stories260K checkpoint, relative to the package root. */
export const STORIES_PATH = 'assets/models/stories260K/stories260K.bin';
