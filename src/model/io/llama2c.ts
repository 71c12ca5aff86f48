/**
 * Reader for llama2.c checkpoints (Karpathy's `run.c` format, "version 0"): a 7 × int32 header then float32
 * arrays in a fixed order. llama2.c applies RoPE to adjacent pairs (2i, 2i+1); Hugging Face Llama rotates halves
 * (i, i + D/2). We permute q/k rows per head to the HF convention on load — the same permutation transformers'
 * `convert_llama_weights_to_hf.py` applies — so the model code has one RoPE and export to HF is a plain save.
 */
import { readFile } from 'node:fs/promises';
import { SealError } from '../../errors.js';
import { type ModelConfig, parseModelConfig } from '../config.js';
import { Transformer } from '../model.js';
import { makeVariables, paramSpecs } from '../params.js';
import { assertFinite } from './safetensors.js';

const HEADER_BYTES = 7 * 4;

/** Rows of an [nHeads·D, cols] matrix reordered from interleaved pairs to halves within each head. */
export function permutePairsToHalves(w: Float32Array, nHeads: number, d: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  const half = d / 2;
  for (let h = 0; h < nHeads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const src = (h * d + 2 * i + j) * cols;
        const dst = (h * d + j * half + i) * cols;
        out.set(w.subarray(src, src + cols), dst);
      }
    }
  }
  return out;
}

/** [rows, cols] row-major → [cols, rows]. */
export function transpose2d(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c] as number;
  return out;
}

export async function loadLlama2c(path: string): Promise<Transformer> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (e) {
    throw new SealError(`cannot read llama2.c checkpoint: ${(e as Error).message}`, path);
  }
  if (buf.length < HEADER_BYTES)
    throw new SealError(`file is ${buf.length} bytes, shorter than the 28-byte llama2.c header`, path);
  const hdr = new Int32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + HEADER_BYTES));
  const [dim, hidden, nLayers, nHeads, nKvHeads, rawVocab, seqLen] = Array.from(hdr) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const vocab = Math.abs(rawVocab);
  const sane = (v: number) => v > 0 && v < 1 << 20;
  if (
    ![dim, hidden, nLayers, nHeads, nKvHeads, vocab, seqLen].every(sane) ||
    dim % nHeads !== 0 ||
    nHeads % nKvHeads !== 0
  )
    throw new SealError(
      `not a llama2.c checkpoint: implausible header ${JSON.stringify({ dim, hidden, nLayers, nHeads, nKvHeads, vocab, seqLen })}`,
      path,
    );
  const d = dim / nHeads;
  const kv = nKvHeads * d;
  const config: ModelConfig = parseModelConfig(
    {
      arch: 'llama',
      modelType: 'llama',
      vocabSize: vocab,
      dim,
      nLayers,
      nHeads,
      nKvHeads,
      hiddenDim: hidden,
      maxSeqLen: seqLen,
      normEps: 1e-5,
      ropeTheta: 10000,
      tieEmbeddings: rawVocab > 0,
      attnBias: false,
      bosId: 1,
      eosId: 2,
    },
    path,
  );
  const sizes = {
    emb: vocab * dim,
    norm: nLayers * dim,
    wq: nLayers * dim * dim,
    wk: nLayers * kv * dim,
    wv: nLayers * kv * dim,
    wo: nLayers * dim * dim,
    w1: nLayers * hidden * dim,
    w2: nLayers * dim * hidden,
    w3: nLayers * hidden * dim,
    rope: seqLen * (d / 2),
  };
  const needed =
    sizes.emb +
    2 * sizes.norm +
    sizes.wq +
    sizes.wk +
    sizes.wv +
    sizes.wo +
    sizes.w1 +
    sizes.w2 +
    sizes.w3 +
    dim +
    (rawVocab < 0 ? 2 * sizes.rope + sizes.emb : 0);
  const available = (buf.length - HEADER_BYTES) / 4;
  if (available < needed)
    throw new SealError(
      `truncated: header implies ${needed * 4 + HEADER_BYTES} bytes, file has ${buf.length}`,
      path,
    );
  const floats = new Float32Array(
    buf.buffer.slice(
      buf.byteOffset + HEADER_BYTES,
      buf.byteOffset + buf.length - ((buf.length - HEADER_BYTES) % 4),
    ),
  );
  let off = 0;
  const take = (n: number): Float32Array => {
    const a = floats.subarray(off, off + n);
    off += n;
    return a;
  };
  const emb = take(sizes.emb);
  const attNorm = take(sizes.norm);
  const wq = take(sizes.wq);
  const wk = take(sizes.wk);
  const wv = take(sizes.wv);
  const wo = take(sizes.wo);
  const ffnNorm = take(sizes.norm);
  const w1 = take(sizes.w1);
  const w2 = take(sizes.w2);
  const w3 = take(sizes.w3);
  const finalNorm = take(dim);
  take(2 * sizes.rope); // legacy RoPE tables, unused
  const wcls = rawVocab < 0 ? take(sizes.emb) : undefined;

  const layerSlice = (a: Float32Array, l: number, n: number) => a.subarray(l * n, (l + 1) * n);
  const data = new Map<string, Float32Array>();
  data.set('model.embed_tokens.weight', emb);
  for (let l = 0; l < nLayers; l++) {
    const p = `model.layers.${l}`;
    data.set(`${p}.input_layernorm.weight`, layerSlice(attNorm, l, dim));
    data.set(`${p}.post_attention_layernorm.weight`, layerSlice(ffnNorm, l, dim));
    // Matrices are [out][in]; we hold linear weights as [in, out].
    data.set(
      `${p}.self_attn.q_proj.weight`,
      transpose2d(permutePairsToHalves(layerSlice(wq, l, dim * dim), nHeads, d, dim), dim, dim),
    );
    data.set(
      `${p}.self_attn.k_proj.weight`,
      transpose2d(permutePairsToHalves(layerSlice(wk, l, kv * dim), nKvHeads, d, dim), kv, dim),
    );
    data.set(`${p}.self_attn.v_proj.weight`, transpose2d(layerSlice(wv, l, kv * dim), kv, dim));
    data.set(`${p}.self_attn.o_proj.weight`, transpose2d(layerSlice(wo, l, dim * dim), dim, dim));
    data.set(`${p}.mlp.gate_proj.weight`, transpose2d(layerSlice(w1, l, hidden * dim), hidden, dim));
    data.set(`${p}.mlp.down_proj.weight`, transpose2d(layerSlice(w2, l, dim * hidden), dim, hidden));
    data.set(`${p}.mlp.up_proj.weight`, transpose2d(layerSlice(w3, l, hidden * dim), hidden, dim));
  }
  data.set('model.norm.weight', finalNorm);
  if (wcls !== undefined) data.set('lm_head.weight', transpose2d(wcls, vocab, dim));
  for (const [name, a] of data) assertFinite(a, path, name);
  return new Transformer(
    config,
    makeVariables(paramSpecs(config), (s) => {
      const a = data.get(s.name);
      if (a === undefined) throw new Error(`llama2c loader produced no ${s.name}`);
      return a;
    }),
  );
}
