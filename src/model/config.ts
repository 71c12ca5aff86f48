/**
 * The typed model configuration, and its mapping to and from Hugging Face `config.json` (GPT2LMHeadModel,
 * LlamaForCausalLM, Qwen2ForCausalLM, MistralForCausalLM). Validated once here; everything downstream trusts it.
 */
import { z } from 'zod';
import { SealError } from '../errors.js';

const int = (min: number) => z.number().int().min(min);

export const ModelConfigSchema = z
  .object({
    arch: z
      .enum(['gpt2', 'llama'])
      .describe('Family: gpt2 (LayerNorm, GELU, learned positions) or llama (RMSNorm, RoPE, SwiGLU)'),
    modelType: z
      .string()
      .describe('Hugging Face model_type written back on save (gpt2, llama, qwen2, mistral)'),
    vocabSize: int(1).describe('Vocabulary size'),
    dim: int(1).describe('Hidden size (d_model)'),
    nLayers: int(1).describe('Number of transformer blocks'),
    nHeads: int(1).describe('Attention heads'),
    nKvHeads: int(1).describe('Key/value heads (grouped-query attention); = nHeads for multi-head attention'),
    hiddenDim: int(1).describe('MLP inner size'),
    maxSeqLen: int(1).describe('Maximum positions (context length)'),
    normEps: z.number().positive().describe('Epsilon of LayerNorm / RMSNorm'),
    ropeTheta: z.number().positive().describe('RoPE base (llama only)'),
    tieEmbeddings: z.boolean().describe('Output head shares the token embedding'),
    attnBias: z.boolean().describe('q/k/v projections have biases (Qwen2)'),
    bosId: int(0).optional().describe('Beginning-of-sequence token id'),
    eosId: int(0).optional().describe('End-of-sequence token id'),
  })
  .superRefine((c, ctx) => {
    if (c.dim % c.nHeads !== 0)
      ctx.addIssue({
        code: 'custom',
        path: ['dim'],
        message: `dim ${c.dim} is not divisible by nHeads ${c.nHeads}`,
      });
    if (c.nHeads % c.nKvHeads !== 0)
      ctx.addIssue({
        code: 'custom',
        path: ['nKvHeads'],
        message: `nHeads ${c.nHeads} is not divisible by nKvHeads ${c.nKvHeads}`,
      });
    if (c.arch === 'llama' && (c.dim / c.nHeads) % 2 !== 0)
      ctx.addIssue({ code: 'custom', path: ['dim'], message: 'head size must be even for RoPE' });
  });

export type ModelConfig = z.infer<typeof ModelConfigSchema>;

export function headDim(c: ModelConfig): number {
  return c.dim / c.nHeads;
}

/** Validate a config built in code or read from our own checkpoints; `where` names the source in errors. */
export function parseModelConfig(raw: unknown, where: string): ModelConfig {
  const r = ModelConfigSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new SealError(
      `invalid model config field ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
      where,
    );
  }
  return r.data;
}

type Json = Record<string, unknown>;

function field(json: Json, file: string, names: readonly string[], required = true): number | undefined {
  for (const n of names) {
    const v = json[n];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new SealError(`field "${n}" must be a number, got ${JSON.stringify(v)}`, file);
    return v;
  }
  if (required) throw new SealError(`missing field "${names[0]}"`, file);
  return undefined;
}

function firstId(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (Array.isArray(v) && typeof v[0] === 'number') return v[0];
  return undefined;
}

/** Read a Hugging Face config.json object. Unknown architectures are rejected by name. */
export function fromHfConfig(json: Json, file: string): ModelConfig {
  const modelType = json['model_type'];
  if (typeof modelType !== 'string') throw new SealError('missing field "model_type"', file);
  const bos = firstId(json['bos_token_id']);
  const eos = firstId(json['eos_token_id']);
  const ids = { ...(bos === undefined ? {} : { bosId: bos }), ...(eos === undefined ? {} : { eosId: eos }) };
  switch (modelType) {
    case 'gpt2': {
      const dim = field(json, file, ['n_embd', 'hidden_size'])!;
      return parseModelConfig(
        {
          arch: 'gpt2',
          modelType,
          vocabSize: field(json, file, ['vocab_size']),
          dim,
          nLayers: field(json, file, ['n_layer', 'num_hidden_layers']),
          nHeads: field(json, file, ['n_head', 'num_attention_heads']),
          nKvHeads: field(json, file, ['n_head', 'num_attention_heads']),
          hiddenDim: field(json, file, ['n_inner'], false) ?? 4 * dim,
          maxSeqLen: field(json, file, ['n_positions', 'max_position_embeddings']),
          normEps: field(json, file, ['layer_norm_epsilon'], false) ?? 1e-5,
          ropeTheta: 10000,
          tieEmbeddings: json['tie_word_embeddings'] !== false,
          attnBias: true,
          ...ids,
        },
        file,
      );
    }
    case 'llama':
    case 'qwen2':
    case 'mistral': {
      const nHeads = field(json, file, ['num_attention_heads'])!;
      if (json['rope_scaling'] !== undefined && json['rope_scaling'] !== null)
        throw new SealError('rope_scaling is not supported yet', file);
      return parseModelConfig(
        {
          arch: 'llama',
          modelType,
          vocabSize: field(json, file, ['vocab_size']),
          dim: field(json, file, ['hidden_size']),
          nLayers: field(json, file, ['num_hidden_layers']),
          nHeads,
          nKvHeads: field(json, file, ['num_key_value_heads'], false) ?? nHeads,
          hiddenDim: field(json, file, ['intermediate_size']),
          maxSeqLen: field(json, file, ['max_position_embeddings'], false) ?? 2048,
          normEps: field(json, file, ['rms_norm_eps'], false) ?? 1e-6,
          ropeTheta: field(json, file, ['rope_theta'], false) ?? 10000,
          tieEmbeddings: json['tie_word_embeddings'] === true,
          attnBias: modelType === 'qwen2' || json['attention_bias'] === true,
          ...ids,
        },
        file,
      );
    }
    default:
      throw new SealError(
        `unknown architecture model_type "${modelType}" (supported: gpt2, llama, qwen2, mistral)`,
        file,
      );
  }
}

/** The config.json transformers expects for this model. */
export function toHfConfig(c: ModelConfig): Json {
  const ids = {
    ...(c.bosId === undefined ? {} : { bos_token_id: c.bosId }),
    ...(c.eosId === undefined ? {} : { eos_token_id: c.eosId }),
  };
  switch (c.arch) {
    case 'gpt2':
      return {
        architectures: ['GPT2LMHeadModel'],
        model_type: 'gpt2',
        vocab_size: c.vocabSize,
        n_embd: c.dim,
        n_layer: c.nLayers,
        n_head: c.nHeads,
        n_inner: c.hiddenDim,
        n_positions: c.maxSeqLen,
        n_ctx: c.maxSeqLen,
        activation_function: 'gelu_new',
        layer_norm_epsilon: c.normEps,
        tie_word_embeddings: c.tieEmbeddings,
        torch_dtype: 'float32',
        ...ids,
      };
    case 'llama': {
      const arch =
        c.modelType === 'qwen2'
          ? 'Qwen2ForCausalLM'
          : c.modelType === 'mistral'
            ? 'MistralForCausalLM'
            : 'LlamaForCausalLM';
      return {
        architectures: [arch],
        model_type: c.modelType === 'qwen2' || c.modelType === 'mistral' ? c.modelType : 'llama',
        vocab_size: c.vocabSize,
        hidden_size: c.dim,
        intermediate_size: c.hiddenDim,
        num_hidden_layers: c.nLayers,
        num_attention_heads: c.nHeads,
        num_key_value_heads: c.nKvHeads,
        max_position_embeddings: c.maxSeqLen,
        rms_norm_eps: c.normEps,
        rope_theta: c.ropeTheta,
        hidden_act: 'silu',
        tie_word_embeddings: c.tieEmbeddings,
        attention_bias: c.attnBias,
        mlp_bias: false,
        torch_dtype: 'float32',
        ...ids,
      };
    }
    default: {
      const never: never = c.arch;
      throw new Error(`unreachable arch ${String(never)}`);
    }
  }
}
