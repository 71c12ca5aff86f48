import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../src/engine/index.js';
import { tf } from '../src/engine/tf.js';
import { LoraAdapter } from '../src/lora/adapter.js';
import { LoraConfigSchema } from '../src/lora/config.js';
import { Transformer } from '../src/model/model.js';
import { checksum } from '../src/model/params.js';
import { buildTokenizer } from '../src/seal/domains/people-pretrain.js';
import {
  GrpoConfigSchema,
  groupAdvantages,
  grpo,
  grpoGradients,
  grpoTokenTerm,
  grpoUpdate,
} from '../src/seal/outer/grpo.js';
import { sampledCompletion } from '../src/seal/outer/rollout.js';
import { completionExample, makeBatch } from '../src/train/data.js';
import { lmLoss } from '../src/train/step.js';
import { Rng } from '../src/util/rng.js';
import { RunDir } from '../src/util/run-dir.js';
import { tinyLlama } from './helpers/models.js';
import { tempDir } from './helpers/paths.js';
import { personContext, qaTask, tinySealProblem } from './helpers/seal.js';

describe('GRPO pieces', () => {
  it('group advantages: zero mean, unit sample std, zeros for a uniform group', () => {
    const a = groupAdvantages([0, 0.5, 1, 0.5]);
    expect(a.reduce((s, x) => s + x, 0)).toBeCloseTo(0, 10);
    const sd = Math.sqrt(a.reduce((s, x) => s + x * x, 0) / 3);
    expect(sd).toBeCloseTo(1, 3);
    expect(a[2]).toBeGreaterThan(0);
    expect(a[0]).toBeLessThan(0);
    expect(groupAdvantages([0.3, 0.3, 0.3])).toEqual([0, 0, 0]);
    expect(groupAdvantages([0, 1], false)).toEqual([-0.5, 0.5]);
    expect(groupAdvantages([])).toEqual([]);
  });

  it('the token coefficient is the derivative of the token loss (finite differences), zero when clipping binds', () => {
    const cases = [
      { lp: -1.0, old: -1.05, ref: -1.2, adv: 1.3 }, // inside the clip range
      { lp: -0.5, old: -1.0, ref: -0.8, adv: 1.0 }, // ρ = e^0.5 > 1.2, A > 0: clipped
      { lp: -1.5, old: -1.0, ref: -0.8, adv: -1.0 }, // ρ < 0.8, A < 0: clipped
      { lp: -0.5, old: -1.0, ref: -0.8, adv: -1.0 }, // ρ > 1.2 but A < 0: not clipped
    ];
    for (const c of cases) {
      const f = (x: number) => grpoTokenTerm(x, c.old, c.ref, c.adv, 0.2, 0.04, 0.1).loss;
      const h = 1e-5;
      const numeric = (f(c.lp + h) - f(c.lp - h)) / (2 * h);
      const t = grpoTokenTerm(c.lp, c.old, c.ref, c.adv, 0.2, 0.04, 0.1);
      expect(t.coef).toBeCloseTo(numeric, 6);
    }
    expect(grpoTokenTerm(-0.5, -1, -0.8, 1, 0.2, 0, 1).clipped).toBe(true);
    expect(grpoTokenTerm(-0.5, -1, -0.8, 1, 0.2, 0, 1).coef).toBe(0);
    // KL to the reference is zero where the policy equals it.
    expect(grpoTokenTerm(-1, -1, -1, 0, 0.2, 0.04, 1).klRef).toBe(0);
  });
});

describe('GRPO on a tiny model', () => {
  beforeAll(async () => {
    await initEngine('wasm');
  });

  it('raises log π of the positive-advantage completion and lowers the negative one; base untouched', () => {
    const contexts = [0, 1].map(personContext);
    const { tok } = buildTokenizer(
      contexts.map((c) => `${c.passage} good bad`),
      300,
    );
    const model = Transformer.init(tinyLlama({ vocabSize: tok.vocabSize, eosId: tok.eosId }), 3);
    const before = checksum(model.params);
    const policy = LoraAdapter.create(model, LoraConfigSchema.parse({ r: 4, alpha: 8 }), 1);
    const prompt = tok.encode('Passage: Person 0 was born in City0.\n', { addBos: true });
    const good = completionExample(prompt, tok.encode('Person 0 was born in City0.'));
    const bad = completionExample(prompt, tok.encode('good bad good bad'));
    const nll = (e: typeof good) => {
      const b = makeBatch([e], 255);
      const t = lmLoss(model, b, [policy]);
      const v = t.dataSync()[0] as number;
      t.dispose();
      return v;
    };
    const [g0, b0] = [nll(good), nll(bad)];
    const cfg = GrpoConfigSchema.parse({ lr: 5e-3, updateEpochs: 4, minibatchSize: 2, klCoef: 0.01 });
    const stats = grpoUpdate(
      { env: { model, tok, task: qaTask } },
      policy,
      [
        { example: good, advantage: 1 },
        { example: bad, advantage: -1 },
      ],
      cfg,
      7,
    );
    expect(nll(good)).toBeLessThan(g0 - 0.05);
    expect(nll(bad)).toBeGreaterThan(b0 + 0.05);
    expect(stats['steps']).toBe(4); // 4 epochs × 1 minibatch of 2
    expect(stats['approxKl']).toBeGreaterThan(0);
    // Tensor count flat: a second update allocates nothing that outlives it.
    const tensors = tf.memory().numTensors;
    grpoUpdate({ env: { model, tok, task: qaTask } }, policy, [{ example: good, advantage: 1 }], cfg, 8);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(checksum(model.params)).toBe(before);
  });

  it('its gradient equals autodiff of the plain clipped-surrogate + KL objective', () => {
    const { tok } = buildTokenizer(
      [0, 1].map((i) => `${personContext(i).passage} good bad`),
      300,
    );
    const model = Transformer.init(tinyLlama({ vocabSize: tok.vocabSize, eosId: tok.eosId }), 5);
    const policy = LoraAdapter.create(model, LoraConfigSchema.parse({ r: 4, alpha: 8 }), 2);
    // B ≠ 0, so π ≠ π_ref and the KL term has a gradient.
    const rng = new Rng(11);
    for (const m of policy.modules.values())
      m.b.assign(tf.randomUniform(m.b.shape, -0.05, 0.05, 'float32', rng.nextU32()));
    const prompt = tok.encode('Passage: Person 0 was born in City0.\n', { addBos: true });
    const samples = [
      { example: completionExample(prompt, tok.encode('Person 0 was born in City0.')), advantage: 1.3 },
      { example: completionExample(prompt, tok.encode('good bad good')), advantage: -0.7 },
    ];
    const p = { env: { model, tok, task: qaTask } };
    const cfg = { clipCoef: 0.2, klCoef: 0.04 };
    // π_old and π_ref at every target; π_old shifted by ±0.3 so some tokens fall outside the clip range.
    const chunk = samples.map((s, k) => {
      const b = makeBatch([s.example], 255);
      const lp = (deltas: LoraAdapter[]) =>
        tf.tidy(() => {
          const logits = model.forward(tf.tensor2d(b.ids, [1, b.t], 'int32'), { deltas });
          const logp = tf.logSoftmax(tf.reshape(logits, [b.t, model.config.vocabSize]));
          return tf.sum(tf.mul(logp, tf.oneHot(tf.tensor1d(b.targets, 'int32'), model.config.vocabSize)), 1);
        });
      const cur = lp([policy]);
      const ref = lp([]);
      const len = s.example.ids.length - 1;
      const old = Float32Array.from(
        cur.dataSync().slice(0, len),
        (v, t) => v + ((t + k) % 3 === 0 ? 0.3 : -0.3),
      );
      const refLogp = Float32Array.from(ref.dataSync().slice(0, len));
      cur.dispose();
      ref.dispose();
      return { ...s, oldLogp: old, refLogp };
    });
    policy.training = true;
    const ours = grpoGradients(p, policy, chunk, cfg);
    // The objective as written: per sequence, the token mean (over completion tokens) of
    // −min(ρA, clip(ρ, 1±ε)A) + β(e^(ref−lp) − (ref−lp) − 1), ρ = e^(lp−old); then the mean over sequences.
    const vars = policy.variables();
    const names = [...vars.keys()];
    const { value, grads } = tf.variableGrads(
      () => {
        const perSeq = chunk.map((s) => {
          const b = makeBatch([s.example], 255);
          const logits = model.forward(tf.tensor2d(b.ids, [1, b.t], 'int32'), {
            deltas: [policy],
            training: true,
          });
          const logp = tf.logSoftmax(tf.reshape(logits, [b.t, model.config.vocabSize]));
          const all = tf.sum(
            tf.mul(logp, tf.oneHot(tf.tensor1d(b.targets, 'int32'), model.config.vocabSize)),
            1,
          );
          const mask = Float32Array.from(b.weights).slice(0, s.oldLogp.length);
          const lp = tf.slice(all, [0], [s.oldLogp.length]);
          const ratio = tf.exp(tf.sub(lp, tf.tensor1d(s.oldLogp)));
          const surr = tf.neg(
            tf.minimum(tf.mul(ratio, s.advantage), tf.mul(tf.clipByValue(ratio, 0.8, 1.2), s.advantage)),
          );
          const d = tf.sub(tf.tensor1d(s.refLogp), lp);
          const kl = tf.sub(tf.sub(tf.exp(d), d), 1);
          const tok = tf.add(surr, tf.mul(kl, cfg.klCoef));
          const m = tf.tensor1d(mask);
          return tf.div(tf.sum(tf.mul(tok, m)), tf.sum(m));
        });
        return tf.div(tf.addN(perSeq), chunk.length) as tf.Scalar;
      },
      names.map((n) => vars.get(n)!),
    );
    policy.training = false;
    expect(ours.loss).toBeCloseTo(value.dataSync()[0]!, 5);
    expect(ours.clippedTokens).toBeGreaterThan(0);
    expect(ours.clippedTokens).toBeLessThan(ours.tokens);
    let num = 0;
    let den = 0;
    for (const n of names) {
      const a = ours.grads.get(n)!.dataSync();
      const b = grads[vars.get(n)!.name]!.dataSync();
      for (let i = 0; i < a.length; i++) {
        num += (a[i]! - b[i]!) ** 2;
        den += b[i]! ** 2;
      }
    }
    expect(den).toBeGreaterThan(0);
    expect(Math.sqrt(num / den)).toBeLessThan(1e-4);
  });

  it('runs rounds end to end, logs update statistics, moves toward positive advantages, never touches the base', async () => {
    // A random tiny model answers nothing right, so every reward would be 0 and every advantage too: score the answers
    // by an arbitrary deterministic rule instead (the parity of the answer's character codes), which varies with the self-edit
    // the inner loop trained on — all GRPO needs to have something to learn.
    const tiny = tinySealProblem();
    const problem = {
      ...tiny,
      env: {
        ...tiny.env,
        task: {
          ...tiny.env.task,
          scorer: {
            name: 'parity',
            score: (p: string) => [...p].reduce((s, ch) => s + ch.charCodeAt(0), 0) % 2,
          },
        },
      },
    };
    const model = problem.env.model;
    const before = checksum(model.params);
    const run = RunDir.create(tempDir(), 'test-grpo', {});
    const cfg = GrpoConfigSchema.parse({
      rounds: 2,
      contextsPerRound: 2,
      samplesPerContext: 4,
      maxNewTokens: 12,
      heldOutContexts: 1,
      inner: { epochs: 3, lr: 0.05, lora: { r: 2, alpha: 4 } },
      policyLora: { r: 2, alpha: 4 },
    });
    const result = await grpo(problem, cfg, run, { quiet: true });
    expect(result.rounds).toHaveLength(2);
    const recs = run.records();
    expect(recs.filter((r) => r['kind'] === 'selfedit')).toHaveLength(16);
    expect(recs.filter((r) => r['kind'] === 'round')).toHaveLength(2);
    expect(result.rounds[0]?.update).toBeDefined();
    expect(checksum(model.params)).toBe(before);
    // What the update was for: self-edits with a positive advantage in their group became likelier relative to those
    // with a negative one — Σ advantage × (NLL under the base − NLL under the trained generator) > 0.
    const edits = recs.filter((r) => r['kind'] === 'selfedit');
    const { tok } = problem.env;
    const nll = (r: Record<string, unknown>, deltas: [] | [typeof result.policy]) => {
      const c = problem.rlContexts.find((x) => x.id === r['context'])!;
      const completion = sampledCompletion(
        { ids: r['ids'] as number[], finish: r['finish'] as 'eos' | 'length' | 'stop' },
        tok.eosId,
      );
      const ex = completionExample(
        tok.encode(problem.domain.selfEditPrompt(c), { addBos: true }),
        completion,
      );
      const t = lmLoss(model, makeBatch([ex], model.config.maxSeqLen - 1), deltas);
      const v = t.dataSync()[0]!;
      t.dispose();
      return v;
    };
    let moved = 0;
    let informative = 0;
    for (const round of [1, 2]) {
      for (const ctx of new Set(edits.filter((r) => r['round'] === round).map((r) => r['context']))) {
        const group = edits.filter((r) => r['round'] === round && r['context'] === ctx);
        const mean = group.reduce((s, r) => s + (r['reward'] as number), 0) / group.length;
        for (const r of group) {
          const adv = (r['reward'] as number) - mean;
          if (adv === 0 || (r['ids'] as number[]).length === 0) continue;
          informative++;
          moved += adv * (nll(r, []) - nll(r, [result.policy]));
        }
      }
    }
    expect(informative).toBeGreaterThan(0);
    expect(moved).toBeGreaterThan(0);
  });
});
