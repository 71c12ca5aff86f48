/** Model invariants: HF save/load round trip, KV cache = no cache, batched = one at a time, GQA and Qwen2 bias. */
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine, tf } from '../src/engine/index.js';
import { type ModelConfig, parseModelConfig } from '../src/model/config.js';
import { generate } from '../src/model/generate.js';
import { hfTensors, loadHfModel, saveHfModel } from '../src/model/io/hf.js';
import { KVCache } from '../src/model/kv-cache.js';
import { Transformer } from '../src/model/model.js';
import { checksum } from '../src/model/params.js';
import { tempDir } from './helpers/paths.js';

const gpt2Small = (over: Partial<ModelConfig> = {}): ModelConfig =>
  parseModelConfig(
    {
      arch: 'gpt2',
      modelType: 'gpt2',
      vocabSize: 97,
      dim: 32,
      nLayers: 2,
      nHeads: 4,
      nKvHeads: 4,
      hiddenDim: 128,
      maxSeqLen: 64,
      normEps: 1e-5,
      ropeTheta: 10000,
      tieEmbeddings: true,
      attnBias: true,
      eosId: 96,
      ...over,
    },
    'test',
  );
const llama = (over: Partial<ModelConfig> = {}): ModelConfig =>
  parseModelConfig(
    {
      arch: 'llama',
      modelType: 'llama',
      vocabSize: 101,
      dim: 48,
      nLayers: 2,
      nHeads: 6,
      nKvHeads: 2,
      hiddenDim: 96,
      maxSeqLen: 64,
      normEps: 1e-5,
      ropeTheta: 10000,
      tieEmbeddings: false,
      attnBias: false,
      ...over,
    },
    'test',
  );

function logitsNoCache(m: Transformer, ids: number[]): Float32Array {
  return tf.tidy(() => m.forward(tf.tensor2d([ids], [1, ids.length], 'int32')).dataSync() as Float32Array);
}

function logitsWithCache(m: Transformer, ids: number[], chunks: number[]): Float32Array {
  const cache = new KVCache(m.config.nLayers);
  const out: number[] = [];
  let at = 0;
  for (const n of chunks) {
    const part = ids.slice(at, at + n);
    at += n;
    const l = tf.tidy(() => m.forward(tf.tensor2d([part], [1, part.length], 'int32'), { cache }).dataSync());
    out.push(...l);
  }
  cache.dispose();
  return Float32Array.from(out);
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

describe('models', () => {
  beforeAll(async () => {
    await initEngine('wasm');
  });

  it.each([
    ['gpt2', gpt2Small()],
    ['llama GQA untied', llama()],
    ['qwen2 (q/k/v bias, tied)', llama({ modelType: 'qwen2', attnBias: true, tieEmbeddings: true })],
  ])('%s: HF save → load is bit-exact and keeps the logits', async (_, config) => {
    const m = Transformer.init(config, 7);
    const dir = `${tempDir()}/model`;
    await saveHfModel(m, dir);
    const { model: back } = await loadHfModel(dir);
    expect(back.config).toEqual(m.config);
    const a = hfTensors(m);
    const b = hfTensors(back);
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [name, t] of a) {
      expect(b.get(name)?.shape, name).toEqual(t.shape);
      expect(Buffer.from(b.get(name)!.data.buffer).equals(Buffer.from(t.data.buffer)), name).toBe(true);
    }
    expect(checksum(back.params)).toBe(checksum(m.params));
    const ids = [3, 14, 15, 92, 65, 35, 8, 9];
    expect(maxDiff(logitsNoCache(back, ids), logitsNoCache(m, ids))).toBe(0);
  });

  it('GPT-2 HF names follow GPT2LMHeadModel', () => {
    const names = [...hfTensors(Transformer.init(gpt2Small(), 1)).keys()];
    expect(names).toContain('transformer.h.0.attn.c_attn.weight');
    expect(names).toContain('transformer.wpe.weight');
    expect(names).not.toContain('lm_head.weight');
  });

  it.each([
    ['gpt2', gpt2Small()],
    ['llama GQA', llama()],
    ['qwen2', llama({ modelType: 'qwen2', attnBias: true })],
  ])('%s: logits with the KV cache equal a full forward pass (1e-5)', (_, config) => {
    const m = Transformer.init(config, 3);
    const ids = Array.from({ length: 20 }, (_, i) => (i * 37 + 5) % config.vocabSize);
    const full = logitsNoCache(m, ids);
    expect(maxDiff(logitsWithCache(m, ids, [7, 1, 1, 5, 6]), full)).toBeLessThan(1e-5);
    expect(maxDiff(logitsWithCache(m, ids, Array(20).fill(1)), full)).toBeLessThan(1e-5);
  });

  it('generation: cache = no cache, batched left-padded = one at a time, seeded sampling repeats', () => {
    const m = Transformer.init(llama({ eosId: 100 }), 11);
    const prompts = [[5, 6, 7, 8, 9], [1, 2], [42]];
    const opts = { maxNewTokens: 12, temperature: 0.9, topP: 0.9, topK: 50 };
    for (const temperature of [0, 0.9]) {
      const one = prompts.map((p) => generate(m, [p], { ...opts, temperature, seed: 5 }).tokens[0]);
      const noCache = prompts.map(
        (p) => generate(m, [p], { ...opts, temperature, seed: 5, useCache: false }).tokens[0],
      );
      expect(noCache).toEqual(one);
      if (temperature === 0) expect(generate(m, prompts, { ...opts, temperature }).tokens).toEqual(one);
    }
    const a = generate(m, prompts, { ...opts, seed: 9 });
    const b = generate(m, prompts, { ...opts, seed: 9 });
    const c = generate(m, prompts, { ...opts, seed: 10 });
    expect(b.tokens).toEqual(a.tokens);
    expect(c.tokens).not.toEqual(a.tokens);
  });

  it('generation stops on EOS and respects max new tokens', () => {
    const m = Transformer.init(gpt2Small(), 2);
    const greedy = generate(m, [[1, 2, 3]], { maxNewTokens: 5, temperature: 0 });
    expect(greedy.tokens[0]!.length).toBeLessThanOrEqual(5);
    const first = greedy.tokens[0]![0]!;
    const stopped = generate(m, [[1, 2, 3]], { maxNewTokens: 5, temperature: 0, eosId: first });
    expect(stopped.tokens[0]).toEqual([]);
    expect(stopped.finish[0]).toBe('eos');
  });

  it('forward leaks no tensors', () => {
    const m = Transformer.init(llama(), 1);
    generate(m, [[1, 2, 3]], { maxNewTokens: 2, temperature: 0 });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) generate(m, [[1, 2, 3], [4]], { maxNewTokens: 4, temperature: 0.5, seed: i });
    expect(tf.memory().numTensors).toBe(before);
  });
});
