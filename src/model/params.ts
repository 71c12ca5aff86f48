/**
 * The parameter table of a model: every tensor's Hugging Face name, its shape as we hold it, and how it maps to
 * the HF layout. Linear weights are held as [in, out] so the forward pass is a plain `x · W` — the only matmul
 * layout that wasm runs fast — while HF `nn.Linear` stores [out, in]; GPT-2's Conv1D already stores [in, out].
 * Loading, saving, initialisation and checksums all walk this one table.
 */
import { createHash } from 'node:crypto';
import { tf, type Variable } from '../engine/tf.js';
import type { Rng } from '../util/rng.js';
import { headDim, type ModelConfig } from './config.js';

export type ParamKind = 'embedding' | 'linear' | 'norm' | 'bias';

export interface ParamSpec {
  /** HF state-dict name, e.g. `model.layers.0.self_attn.q_proj.weight`. */
  readonly name: string;
  /** Shape as held here ([in, out] for linear weights). */
  readonly shape: readonly number[];
  readonly kind: ParamKind;
  /** True when the HF tensor is the transpose of ours (nn.Linear weights). */
  readonly hfTransposed: boolean;
}

function linearSpec(name: string, inDim: number, outDim: number, hfTransposed: boolean): ParamSpec {
  return { name, shape: [inDim, outDim], kind: 'linear', hfTransposed };
}

export function paramSpecs(c: ModelConfig): ParamSpec[] {
  const specs: ParamSpec[] = [];
  const vec = (name: string, n: number, kind: ParamKind): void => {
    specs.push({ name, shape: [n], kind, hfTransposed: false });
  };
  switch (c.arch) {
    case 'gpt2': {
      specs.push({
        name: 'transformer.wte.weight',
        shape: [c.vocabSize, c.dim],
        kind: 'embedding',
        hfTransposed: false,
      });
      specs.push({
        name: 'transformer.wpe.weight',
        shape: [c.maxSeqLen, c.dim],
        kind: 'embedding',
        hfTransposed: false,
      });
      for (let i = 0; i < c.nLayers; i++) {
        const p = `transformer.h.${i}`;
        vec(`${p}.ln_1.weight`, c.dim, 'norm');
        vec(`${p}.ln_1.bias`, c.dim, 'bias');
        specs.push(linearSpec(`${p}.attn.c_attn.weight`, c.dim, 3 * c.dim, false));
        vec(`${p}.attn.c_attn.bias`, 3 * c.dim, 'bias');
        specs.push(linearSpec(`${p}.attn.c_proj.weight`, c.dim, c.dim, false));
        vec(`${p}.attn.c_proj.bias`, c.dim, 'bias');
        vec(`${p}.ln_2.weight`, c.dim, 'norm');
        vec(`${p}.ln_2.bias`, c.dim, 'bias');
        specs.push(linearSpec(`${p}.mlp.c_fc.weight`, c.dim, c.hiddenDim, false));
        vec(`${p}.mlp.c_fc.bias`, c.hiddenDim, 'bias');
        specs.push(linearSpec(`${p}.mlp.c_proj.weight`, c.hiddenDim, c.dim, false));
        vec(`${p}.mlp.c_proj.bias`, c.dim, 'bias');
      }
      vec('transformer.ln_f.weight', c.dim, 'norm');
      vec('transformer.ln_f.bias', c.dim, 'bias');
      if (!c.tieEmbeddings) specs.push(linearSpec('lm_head.weight', c.dim, c.vocabSize, true));
      return specs;
    }
    case 'llama': {
      const kv = c.nKvHeads * headDim(c);
      specs.push({
        name: 'model.embed_tokens.weight',
        shape: [c.vocabSize, c.dim],
        kind: 'embedding',
        hfTransposed: false,
      });
      for (let i = 0; i < c.nLayers; i++) {
        const p = `model.layers.${i}`;
        vec(`${p}.input_layernorm.weight`, c.dim, 'norm');
        for (const [m, out] of [
          ['q_proj', c.dim],
          ['k_proj', kv],
          ['v_proj', kv],
        ] as const) {
          specs.push(linearSpec(`${p}.self_attn.${m}.weight`, c.dim, out, true));
          if (c.attnBias) vec(`${p}.self_attn.${m}.bias`, out, 'bias');
        }
        specs.push(linearSpec(`${p}.self_attn.o_proj.weight`, c.dim, c.dim, true));
        vec(`${p}.post_attention_layernorm.weight`, c.dim, 'norm');
        specs.push(linearSpec(`${p}.mlp.gate_proj.weight`, c.dim, c.hiddenDim, true));
        specs.push(linearSpec(`${p}.mlp.up_proj.weight`, c.dim, c.hiddenDim, true));
        specs.push(linearSpec(`${p}.mlp.down_proj.weight`, c.hiddenDim, c.dim, true));
      }
      vec('model.norm.weight', c.dim, 'norm');
      if (!c.tieEmbeddings) specs.push(linearSpec('lm_head.weight', c.dim, c.vocabSize, true));
      return specs;
    }
    default: {
      const never: never = c.arch;
      throw new Error(`unreachable arch ${String(never)}`);
    }
  }
}

/** GPT-2-style init: N(0, 0.02) for matrices, residual projections scaled by 1/sqrt(2L), ones/zeros for norms/biases. */
export function initParamData(c: ModelConfig, spec: ParamSpec, rng: Rng): Float32Array {
  const n = spec.shape.reduce((p, d) => p * d, 1);
  const data = new Float32Array(n);
  switch (spec.kind) {
    case 'norm':
      data.fill(1);
      return data;
    case 'bias':
      return data;
    case 'embedding':
    case 'linear': {
      const residual = /(c_proj|o_proj|down_proj)\.weight$/.test(spec.name);
      const std = residual ? 0.02 / Math.sqrt(2 * c.nLayers) : 0.02;
      for (let i = 0; i < n; i++) data[i] = rng.normal() * std;
      return data;
    }
    default: {
      const never: never = spec.kind;
      throw new Error(`unreachable kind ${String(never)}`);
    }
  }
}

/** A named set of trainable tensors. */
export type ParamMap = Map<string, Variable>;

export function makeVariables(
  specs: readonly ParamSpec[],
  data: (spec: ParamSpec) => Float32Array,
): ParamMap {
  const params: ParamMap = new Map();
  for (const s of specs)
    params.set(
      s.name,
      tf.tidy(() => tf.variable(tf.tensor(data(s), [...s.shape]), true)),
    );
  return params;
}

/** SHA-256 over names, shapes and bytes in name order: proves the frozen base was never touched. */
export function checksum(params: ParamMap): string {
  const h = createHash('sha256');
  for (const name of [...params.keys()].sort()) {
    const v = params.get(name)!;
    h.update(`${name}:${v.shape.join('x')};`);
    const d = v.dataSync() as Float32Array;
    h.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  }
  return h.digest('hex');
}
