/**
 * Shaping the fast-weight write's keys: whitening (ROME's C⁻¹k; the maths, the measured moments, the generator with
 * it) and the learned per-token write gate.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../src/engine/index.js';
import { type Tensor2D, tf } from '../src/engine/tf.js';
import type { LinearDelta } from '../src/model/linear.js';
import { Transformer } from '../src/model/model.js';
import { checksum } from '../src/model/params.js';
import { DeltaTrainConfigSchema } from '../src/seal/delta/config.js';
import { generatorConditions } from '../src/seal/delta/eval.js';
import { EditGenerator } from '../src/seal/delta/generator.js';
import { loadEditGenerator, saveEditGenerator } from '../src/seal/delta/io.js';
import { editFor, trainEditGenerator } from '../src/seal/delta/train.js';
import { inputSecondMoments, ridgeInverse } from '../src/seal/delta/whitening.js';
import { buildTokenizer } from '../src/seal/domains/people-pretrain.js';
import { exactMatchScorer } from '../src/tasks/squad-score.js';
import type { Context } from '../src/tasks/types.js';
import { Rng } from '../src/util/rng.js';
import { tinyLlama } from './helpers/models.js';
import { tempDir } from './helpers/paths.js';

const ctx = (i: number): Context => ({
  id: `p${i}`,
  title: `Person ${i}`,
  passage: `Person ${i} was born in City${i}. Person ${i} works at Firm${i}.`,
  questions: [{ question: `Where was Person ${i} born?`, answers: [`City${i}`] }],
});

/** Four people, a tokenizer on their text and a tiny model that answers in the people world's Q/A format. */
function tinyEnv() {
  const contexts = [0, 1, 2, 3].map(ctx);
  const { tok } = buildTokenizer(
    contexts.map((c) => `${c.passage}\nQ: ${c.questions[0]!.question}\nA: ${c.questions[0]!.answers[0]}`),
    320,
  );
  const env = {
    model: Transformer.init(tinyLlama({ vocabSize: tok.vocabSize, eosId: tok.eosId }), 2),
    tok,
    task: {
      answerPrompt: (_: unknown, q: { question: string }) => `Q: ${q.question}\nA:`,
      answerStop: ['\n'],
      scorer: exactMatchScorer,
    },
  };
  return { contexts, env };
}

beforeAll(async () => {
  await initEngine('wasm');
});

describe('key whitening', () => {
  it('ridgeInverse inverts a symmetric positive-definite matrix (times tr/n) and leaves isotropic ones at I', () => {
    const n = 6;
    const rng = new Rng(3);
    const g = Array.from({ length: n * n }, () => rng.normal());
    const c = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += g[i * n + k]! * g[j * n + k]!;
        c[i * n + j] = s + (i === j ? 0.5 : 0);
      }
    const inv = ridgeInverse(c, n, 0);
    let trace = 0;
    for (let i = 0; i < n; i++) trace += c[i * n + i]!;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += c[i * n + k]! * inv[k * n + j]!;
        expect(s / (trace / n)).toBeCloseTo(i === j ? 1 : 0, 4);
      }
    const iso = ridgeInverse(
      Float64Array.from({ length: 9 }, (_, k) => (k % 4 === 0 ? 2.5 : 0)),
      3,
      0,
    );
    expect(Array.from(iso).map((x) => Number(x.toFixed(6)))).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    expect(() => ridgeInverse([0, 0, 0, -1], 2, 0)).toThrow(/not positive definite/);
  });

  it("inputSecondMoments is E[x xᵀ] of the module's inputs over every token", () => {
    const { tok } = buildTokenizer([ctx(0).passage, ctx(1).passage], 300);
    const model = Transformer.init(tinyLlama({ vocabSize: tok.vocabSize }), 5);
    const module = 'model.layers.1.mlp.down_proj';
    const texts = [ctx(0).passage, ctx(1).passage];
    const m = inputSecondMoments(model, tok, texts, [module]).get(module)!;
    // The same by hand: collect the inputs, then average their outer products.
    const rows: number[][] = [];
    const spy: LinearDelta = {
      delta: (name, x) => {
        if (name === module) {
          const d = x.arraySync() as number[][];
          rows.push(...d);
        }
        return undefined;
      },
    };
    for (const t of texts) {
      const ids = tok.encode(t, { addBos: true });
      tf.tidy(() => {
        model.forward(tf.tensor2d(ids, [1, ids.length], 'int32') as Tensor2D, { deltas: [spy] });
      });
    }
    expect(m.dim).toBe(64);
    for (const [i, j] of [
      [0, 0],
      [3, 7],
      [63, 1],
    ] as const) {
      const want = rows.reduce((s, r) => s + r[i]! * r[j]!, 0) / rows.length;
      expect(m.c[i * m.dim + j]).toBeCloseTo(want, 4);
    }
    model.dispose();
  });

  it('a generator with whitened keys: still the zero edit at init, trains, and saves/loads its whitening', async () => {
    const { contexts, env } = tinyEnv();
    const before = checksum(env.model.params);
    const cfg = DeltaTrainConfigSchema.parse({
      generator: { latent: 8, hidden: 16, whitenKeys: true },
      optimizer: { kind: 'direct', steps: 3, batchContexts: 2, learningRate: 1e-2 },
    });
    // Untrained: V = 0, so the edit is exactly zero whatever the whitening.
    const fresh = new EditGenerator(env.model, cfg.generator);
    const ids = tf.tensor2d([[1, 5, 9, 12]], [1, 4], 'int32') as Tensor2D;
    const zero = editFor(env, fresh, contexts[0]!.passage);
    const same = tf.tidy(() => {
      const a = env.model.forward(ids).dataSync();
      const b = env.model.forward(ids, { deltas: [zero.edit] }).dataSync();
      return a.every((x, i) => x === b[i]);
    });
    expect(same).toBe(true);
    zero.dispose();
    fresh.dispose();
    const { generator } = await trainEditGenerator(env, contexts, cfg, { quiet: true });
    // The whitening was measured (not the identity placeholder) …
    const cinv = generator.namedTensors().get('model.layers.0.self_attn.o_proj.fast_Cinv')!;
    const offDiagonal = tf.tidy(() => tf.max(tf.abs(tf.sub(cinv, tf.eye(cinv.shape[0]!)))).dataSync()[0]!);
    expect(offDiagonal).toBeGreaterThan(1e-3);
    // … and survives save → load: the same edit, bit for bit.
    const dir = join(tempDir(), 'gen');
    await saveEditGenerator(generator, dir);
    const loaded = await loadEditGenerator(env.model, dir);
    const out = (g: EditGenerator) => {
      const e = editFor(env, g, contexts[1]!.passage);
      const y = tf.tidy(() => env.model.forward(ids, { deltas: [e.edit] }).dataSync());
      e.dispose();
      return Array.from(y);
    };
    const a = out(generator);
    expect(out(loaded)).toEqual(a);
    expect(a.some((x, i) => x !== (tf.tidy(() => env.model.forward(ids).dataSync())[i] ?? 0))).toBe(true);
    // The keys do go through it: with the identity in its place the same generator makes another edit.
    loaded.setKeyWhitening(
      new Map(
        [...loaded.decoder].map(([name, m]) => [
          name,
          Float32Array.from({ length: m.inFeatures ** 2 }, (_, k) => (k % (m.inFeatures + 1) === 0 ? 1 : 0)),
        ]),
      ),
    );
    expect(out(loaded)).not.toEqual(a);
    expect(checksum(env.model.params)).toBe(before);
    ids.dispose();
    generator.dispose();
    loaded.dispose();
    env.model.dispose();
  });
});

describe('the write gate', () => {
  it('halves every key at init (still the zero edit), learns, and saves/loads', async () => {
    const { contexts, env } = tinyEnv();
    const before = checksum(env.model.params);
    const cfg = DeltaTrainConfigSchema.parse({
      generator: { latent: 8, hidden: 16, fastGate: true },
      optimizer: { kind: 'direct', steps: 3, batchContexts: 2, learningRate: 1e-2 },
    });
    const module = 'model.layers.0.self_attn.o_proj';
    const fresh = new EditGenerator(env.model, cfg.generator);
    const made = editFor(env, fresh, contexts[0]!.passage);
    const hidden = made.edit.hidden!;
    // σ(0) = 1/2: each key is half of h·K (times fastScale / T).
    const gap = tf.tidy(() => {
      const keys = made.edit.fastFactors(module)!.keys;
      const want = tf.mul(tf.matMul(hidden, fresh.decoder.get(module)!.fast!.k), 0.5 / hidden.shape[0]);
      return tf.max(tf.abs(tf.sub(keys, want))).dataSync()[0]!;
    });
    expect(gap).toBeLessThan(1e-6);
    const ids = tf.tensor2d([[1, 5, 9, 12]], [1, 4], 'int32') as Tensor2D;
    const base = tf.tidy(() => Array.from(env.model.forward(ids).dataSync()));
    expect(tf.tidy(() => Array.from(env.model.forward(ids, { deltas: [made.edit] }).dataSync()))).toEqual(
      base,
    );
    made.dispose();
    fresh.dispose();
    const { generator } = await trainEditGenerator(env, contexts, cfg, { quiet: true });
    const g = generator.namedTensors().get('fast_gate.g')!;
    expect(tf.tidy(() => tf.max(tf.abs(g)).dataSync()[0]!)).toBeGreaterThan(0);
    const dir = join(tempDir(), 'gen-gate');
    await saveEditGenerator(generator, dir);
    const loaded = await loadEditGenerator(env.model, dir);
    const out = (gen: EditGenerator) => {
      const e = editFor(env, gen, contexts[1]!.passage);
      const y = tf.tidy(() => Array.from(env.model.forward(ids, { deltas: [e.edit] }).dataSync()));
      e.dispose();
      return y;
    };
    const a = out(generator);
    expect(out(loaded)).toEqual(a);
    expect(a).not.toEqual(base);
    expect(checksum(env.model.params)).toBe(before);
    // Writes at the mode: a token writes its whole key where σ(h·g + b) > ½, nothing elsewhere.
    const gate = generator.gate!;
    const keysOf = (writes: 'probability' | 'mode') => {
      const e = editFor(env, generator, contexts[1]!.passage, writes);
      const k = tf.tidy(() => Array.from(e.edit.fastFactors(module)!.keys.dataSync()));
      e.dispose();
      return k;
    };
    const original = gate.b.dataSync()[0]!;
    tf.tidy(() => gate.b.assign(tf.fill(gate.b.shape, 50))); // every probability ≈ 1: the mode writes every token fully
    const full = tf.tidy(() => {
      const e = editFor(env, generator, contexts[1]!.passage);
      const h = e.edit.hidden!;
      const want = Array.from(
        tf.mul(tf.matMul(h, generator.decoder.get(module)!.fast!.k), 1 / h.shape[0]).dataSync(),
      );
      e.dispose();
      return want;
    });
    keysOf('mode').forEach((k, i) => {
      expect(k).toBeCloseTo(full[i]!, 6);
    });
    // b at minus the median logit: about half the tokens write fully (logit > 0), the others not at all.
    const e1 = editFor(env, generator, contexts[1]!.passage);
    const hg = tf.tidy(() => Array.from(tf.matMul(e1.edit.hidden!, gate.g).dataSync()));
    e1.dispose();
    const median = [...hg].sort((a, b) => a - b)[hg.length >> 1]!;
    tf.tidy(() => gate.b.assign(tf.fill(gate.b.shape, -median + 1e-3)));
    const width = full.length / hg.length;
    const mixed = keysOf('mode');
    let writers = 0;
    hg.forEach((l, t) => {
      const writes = l - median + 1e-3 > 0;
      if (writes) writers++;
      for (let j = 0; j < width; j++)
        expect(mixed[t * width + j]).toBeCloseTo(writes ? full[t * width + j]! : 0, 6);
    });
    expect(writers).toBeGreaterThan(0);
    expect(writers).toBeLessThan(hg.length);
    tf.tidy(() => gate.b.assign(tf.fill(gate.b.shape, -50))); // every probability ≈ 0: the mode writes nothing
    expect(keysOf('mode').every((k) => k === 0)).toBe(true);
    expect(keysOf('probability').some((k) => k !== 0)).toBe(true); // σ(−50) is tiny, not 0
    tf.tidy(() => gate.b.assign(tf.fill(gate.b.shape, original)));
    const names = generatorConditions(env, generator, contexts, 'd').map((c) => c.name);
    expect(names).toEqual(['d', 'd_shuffled', 'd_mode']);
    ids.dispose();
    generator.dispose();
    loaded.dispose();
    env.model.dispose();
  });
});
