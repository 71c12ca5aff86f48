/** LoRA invariants and the PEFT on-disk format. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine, tf } from '../src/engine/index.js';
import { SealError } from '../src/errors.js';
import { LoraAdapter } from '../src/lora/adapter.js';
import { LoraConfigSchema } from '../src/lora/config.js';
import { ADAPTER_WEIGHTS, loadAdapter, saveAdapter } from '../src/lora/io.js';
import { readSafetensors, writeSafetensors } from '../src/model/io/safetensors.js';
import type { LinearDelta } from '../src/model/linear.js';
import { Transformer } from '../src/model/model.js';
import { checksum } from '../src/model/params.js';
import { tinyGpt2, tinyLlama } from './helpers/models.js';
import { tempDir } from './helpers/paths.js';

const IDS = [1, 5, 9, 13, 2, 40, 33, 7];

function logits(m: Transformer, deltas: readonly LinearDelta[] = []): Float32Array {
  return tf.tidy(
    () => m.forward(tf.tensor2d([IDS], [1, IDS.length], 'int32'), { deltas }).dataSync() as Float32Array,
  );
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

/** Gives B random values so the adapter actually changes the model. */
function randomizeB(adapter: LoraAdapter, seed: number): void {
  let k = seed;
  for (const m of adapter.modules.values()) m.b.assign(tf.randomNormal(m.b.shape, 0, 0.05, 'float32', k++));
}

describe('LoRA', () => {
  beforeAll(async () => {
    await initEngine('wasm');
  });

  it.each([
    ['llama', tinyLlama()],
    ['gpt2', tinyGpt2()],
  ])('%s: a zero-B adapter leaves the output exactly unchanged', (_, config) => {
    const m = Transformer.init(config, 1);
    const a = LoraAdapter.create(m, LoraConfigSchema.parse({}), 2);
    expect(maxDiff(logits(m, [a]), logits(m))).toBe(0);
  });

  it('merge → unmerge restores the weights (1e-6); merged output = unmerged (1e-4)', () => {
    const m = Transformer.init(tinyLlama(), 3);
    const a = LoraAdapter.create(m, LoraConfigSchema.parse({ r: 4, alpha: 8 }), 4);
    randomizeB(a, 5);
    const w0 = new Map([...m.params].map(([k, v]) => [k, v.dataSync().slice()]));
    const unmerged = logits(m, [a]);
    expect(maxDiff(unmerged, logits(m))).toBeGreaterThan(1e-3);
    a.merge(m);
    expect(maxDiff(logits(m), unmerged)).toBeLessThan(1e-4);
    a.unmerge(m);
    for (const [k, v] of m.params)
      expect(maxDiff(v.dataSync() as Float32Array, w0.get(k) as Float32Array), k).toBeLessThan(1e-6);
  });

  it('several adapters share one base without copying it, each enabled per call', () => {
    const m = Transformer.init(tinyLlama(), 6);
    const sum = checksum(m.params);
    const a = LoraAdapter.create(m, LoraConfigSchema.parse({ targetModules: ['q_proj', 'v_proj'] }), 1);
    const b = LoraAdapter.create(m, LoraConfigSchema.parse({ targetModules: ['down_proj'] }), 2);
    randomizeB(a, 10);
    randomizeB(b, 20);
    const base = logits(m);
    const la = logits(m, [a]);
    const lb = logits(m, [b]);
    expect(maxDiff(la, lb)).toBeGreaterThan(1e-3);
    expect(maxDiff(logits(m, [a, b]), la)).toBeGreaterThan(1e-3);
    a.enabled = false;
    expect(maxDiff(logits(m, [a]), base)).toBe(0);
    expect(checksum(m.params)).toBe(sum);
  });

  it('PEFT round trip is bit-exact; config and keys follow PEFT', async () => {
    const m = Transformer.init(tinyLlama(), 7);
    const a = LoraAdapter.create(
      m,
      LoraConfigSchema.parse({ r: 4, alpha: 16, targetModules: ['q_proj', 'v_proj'] }),
      8,
    );
    randomizeB(a, 30);
    const dir = join(tempDir(), 'adapter');
    await saveAdapter(a, m, dir, { baseModel: 'tiny' });
    const cfg = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(cfg).toMatchObject({
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      r: 4,
      lora_alpha: 16,
      target_modules: ['q_proj', 'v_proj'],
      base_model_name_or_path: 'tiny',
    });
    const w = await readSafetensors(join(dir, ADAPTER_WEIGHTS));
    expect(w.get('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight')?.shape).toEqual([4, 32]);
    expect(w.get('base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight')?.shape).toEqual([16, 4]);
    const back = await loadAdapter(dir, m);
    for (const [k, v] of a.variables()) {
      const got = back.variables().get(k);
      expect(got, k).toBeDefined();
      expect(
        Buffer.from((got!.dataSync() as Float32Array).buffer).equals(
          Buffer.from((v.dataSync() as Float32Array).buffer),
        ),
        k,
      ).toBe(true);
    }
    expect(back.scaling).toBe(4);
    expect(maxDiff(logits(m, [back]), logits(m, [a]))).toBe(0);
  });

  it('loads an adapter written by hand in PEFT layout (as PEFT would save it)', async () => {
    const m = Transformer.init(tinyGpt2(), 9);
    const dir = tempDir();
    const r = 2;
    // PEFT: lora_A.weight (r, in), lora_B.weight (out, r); GPT-2's c_attn is Conv1D (in 32, out 96).
    const aData = Float32Array.from({ length: r * 32 }, (_, i) => Math.sin(i));
    const bData = Float32Array.from({ length: 96 * r }, (_, i) => Math.cos(i) * 0.1);
    await writeSafetensors(join(dir, 'adapter_model.safetensors'), {
      'base_model.model.transformer.h.0.attn.c_attn.lora_A.weight': { shape: [r, 32], data: aData },
      'base_model.model.transformer.h.0.attn.c_attn.lora_B.weight': { shape: [96, r], data: bData },
    });
    writeFileSync(
      join(dir, 'adapter_config.json'),
      JSON.stringify({
        peft_type: 'LORA',
        task_type: 'CAUSAL_LM',
        r,
        lora_alpha: 4,
        lora_dropout: 0.05,
        target_modules: ['c_attn'],
        fan_in_fan_out: true,
        bias: 'none',
      }),
    );
    const ad = await loadAdapter(dir, m);
    expect(ad.scaling).toBe(2);
    const pair = ad.modules.get('transformer.h.0.attn.c_attn')!;
    // Our A is (in, r): A[i][j] = PEFT A[j][i].
    expect(pair.a.shape).toEqual([32, r]);
    expect(pair.a.arraySync()).toEqual(Array.from({ length: 32 }, (_, i) => [aData[i]!, aData[32 + i]!]));
    expect(pair.b.shape).toEqual([r, 96]);
    // The delta for input x is scaling · (x·Aᵀ_peft)·Bᵀ_peft, PEFT's forward.
    const x = tf.tensor2d([Array.from({ length: 32 }, (_, i) => (i % 5) - 2)]);
    const got = ad.delta('transformer.h.0.attn.c_attn', x)!.dataSync();
    const xa = [0, 1].map((j) =>
      Array.from({ length: 32 }, (_, i) => ((i % 5) - 2) * aData[j * 32 + i]!).reduce((s, v) => s + v, 0),
    );
    const want = Array.from(
      { length: 96 },
      (_, o) => 2 * (xa[0]! * bData[o * r]! + xa[1]! * bData[o * r + 1]!),
    );
    expect(maxDiff(got as Float32Array, Float32Array.from(want))).toBeLessThan(1e-4);
  });

  it('bad adapters: clear errors, nothing loaded', async () => {
    const m = Transformer.init(tinyLlama(), 11);
    const a = LoraAdapter.create(m, LoraConfigSchema.parse({ r: 4, targetModules: ['q_proj'] }), 1);
    const good = join(tempDir(), 'a');
    await saveAdapter(a, m, good);
    // Wrong shapes: the adapter was made for another model width.
    const other = Transformer.init(tinyLlama({ dim: 48, nHeads: 4, nKvHeads: 2 }), 1);
    const before = tf.memory().numTensors;
    await expect(loadAdapter(good, other)).rejects.toThrow(/adapter_model\.safetensors.*shape/);
    // Corrupt weights file.
    const corrupt = join(tempDir(), 'c');
    await saveAdapter(a, m, corrupt);
    const f = join(corrupt, ADAPTER_WEIGHTS);
    writeFileSync(f, readFileSync(f).subarray(0, 40));
    await expect(loadAdapter(corrupt, m)).rejects.toThrow(SealError);
    await expect(loadAdapter(corrupt, m)).rejects.toThrow(/adapter_model\.safetensors/);
    // Bad config field.
    const badCfg = join(tempDir(), 'b');
    await saveAdapter(a, m, badCfg);
    const cfgPath = join(badCfg, 'adapter_config.json');
    writeFileSync(cfgPath, JSON.stringify({ ...JSON.parse(readFileSync(cfgPath, 'utf8')), r: 0 }));
    await expect(loadAdapter(badCfg, m)).rejects.toThrow(/adapter_config\.json.*"r"/);
    expect(tf.memory().numTensors).toBe(before);
    // Saving over an existing adapter is refused without overwrite.
    await expect(saveAdapter(a, m, good)).rejects.toThrow(/not empty/);
  });
});
