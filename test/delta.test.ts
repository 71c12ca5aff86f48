import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../src/engine/index.js';
import { type Tensor2D, tf } from '../src/engine/tf.js';
import { RowGroupedDelta, SummedDelta } from '../src/model/linear.js';
import { Transformer } from '../src/model/model.js';
import { checksum } from '../src/model/params.js';
import { answerUnder, nllUnder, together } from '../src/seal/delta/apply.js';
import { DeltaTrainConfigSchema, minibatchesOf } from '../src/seal/delta/config.js';
import { prepareContexts } from '../src/seal/delta/direct.js';
import { contextEmbedding, readContext } from '../src/seal/delta/embedding.js';
import {
  evaluateEdits,
  generatorConditions,
  knownPicks,
  neighbourPicks,
  shuffledSource,
} from '../src/seal/delta/eval.js';
import { EditGenerator, EditGeneratorConfigSchema } from '../src/seal/delta/generator.js';
import { editToAdapter, loadEditGenerator, saveEditGenerator } from '../src/seal/delta/io.js';
import {
  answerBatch,
  answerNll,
  baseTargets,
  DeltaRewardSchema,
  deltaReward,
  textBatch,
} from '../src/seal/delta/reward.js';
import { NO_EDIT, routedEdits, ScopeRouter } from '../src/seal/delta/route.js';
import { evaluateStacks, generatedStack, stackGroups, summariseStacks } from '../src/seal/delta/stack.js';
import { tokenPolicyGradient } from '../src/seal/delta/token-train.js';
import { editFor, trainEditGenerator } from '../src/seal/delta/train.js';
import { buildTokenizer } from '../src/seal/domains/people-pretrain.js';
import { answerQuestions } from '../src/seal/inner/qa-eval.js';
import { exactMatchScorer } from '../src/tasks/squad-score.js';
import type { Context } from '../src/tasks/types.js';
import { stackBatches } from '../src/train/data.js';
import { tinyLlama } from './helpers/models.js';
import { tempDir } from './helpers/paths.js';

const ctx = (i: number): Context => ({
  id: `p${i}`,
  title: `Person ${i}`,
  passage: `Person ${i} was born in City${i}. Person ${i} works at Firm${i}.`,
  questions: [
    { question: `Where was Person ${i} born?`, answers: [`City${i}`] },
    { question: `Where does Person ${i} work?`, answers: [`Firm${i}`] },
  ],
});
const task = {
  answerPrompt: (_: unknown, q: { question: string }) => `Q: ${q.question}\nA:`,
  answerStop: ['\n'],
  scorer: exactMatchScorer,
};

/** Mean answer NLL of the first and of the last three training logs. */
const firstAndLastNll = (logs: readonly { nll: number }[]): [number, number] => {
  const mean = (ls: readonly { nll: number }[]) => ls.reduce((s, l) => s + l.nll, 0) / ls.length;
  return [mean(logs.slice(0, 3)), mean(logs.slice(-3))];
};

describe('EditGenerator (weight-delta self-edits) on a tiny model', () => {
  const contexts = [0, 1, 2, 3].map(ctx);
  let env: { model: Transformer; tok: ReturnType<typeof buildTokenizer>['tok']; task: typeof task };

  beforeAll(async () => {
    await initEngine('wasm');
    const { tok } = buildTokenizer(
      contexts.map(
        (c) => `${c.passage}\n${c.questions.map((q) => `Q: ${q.question}\nA: ${q.answers[0]}`).join('\n')}`,
      ),
      320,
    );
    env = {
      model: Transformer.init(tinyLlama({ vocabSize: tok.vocabSize, eosId: tok.eosId }), 2),
      tok,
      task,
    };
  });

  /** "Known people": questions whose gold answers are the base model's own answers, so the base knows them all. */
  const knownPeople = () => {
    const asked = [4, 5, 6].map(ctx);
    const base = answerQuestions(env.model, env.tok, env.task, asked);
    return asked.map((c) => ({
      ...c,
      questions: c.questions.map((q) => ({
        ...q,
        answers: [base.find((a) => a.contextId === c.id && a.question === q.question)!.prediction],
      })),
    }));
  };

  it('starts as the exact zero edit: edited logits equal the base, and the base is never written', () => {
    const gen = new EditGenerator(env.model, EditGeneratorConfigSchema.parse({ latent: 16, hidden: 16 }));
    const before = checksum(env.model.params);
    const { embedding: emb, hidden } = readContext(env.model, env.tok, contexts[0]!.passage, gen.layer);
    expect(Math.abs(emb.reduce((s, x) => s + x, 0) / emb.length)).toBeLessThan(1e-4); // normalised
    expect(gen.fastVariables().length).toBeGreaterThan(0); // the fast-weight part is on by default
    const [same, norm] = tf.tidy(() => {
      const z = gen.meanLatent(tf.tensor2d(emb, [1, emb.length]) as Tensor2D);
      const edit = gen.edit(z, hidden);
      const ids = tf.tensor2d([[1, 5, 9, 12]], [1, 4], 'int32') as Tensor2D;
      const a = env.model.forward(ids).dataSync();
      const b = env.model.forward(ids, { deltas: [edit] }).dataSync();
      return [a.every((x, i) => x === b[i]), edit.normSq().dataSync()[0]!];
    });
    expect(same).toBe(true);
    expect(norm).toBe(0);
    // A non-zero latent does change the output (the decoder is live), still without touching the base.
    const changed = tf.tidy(() => {
      const edit = gen.edit(tf.fill([1, 16], 0.5) as Tensor2D);
      const ids = tf.tensor2d([[1, 5, 9, 12]], [1, 4], 'int32') as Tensor2D;
      const a = env.model.forward(ids).dataSync();
      const b = env.model.forward(ids, { deltas: [edit] }).dataSync();
      return a.some((x, i) => Math.abs(x - b[i]!) > 1e-6);
    });
    expect(changed).toBe(true);
    // So does a non-zero fast-weight value map, with a zero latent.
    const v = gen.fastVariables()[1]!;
    v.assign(tf.fill(v.shape, 0.1));
    const fastChanged = tf.tidy(() => {
      const edit = gen.edit(tf.zeros([1, 16]) as Tensor2D, hidden);
      const ids = tf.tensor2d([[1, 5, 9, 12]], [1, 4], 'int32') as Tensor2D;
      const a = env.model.forward(ids).dataSync();
      const b = env.model.forward(ids, { deltas: [edit] }).dataSync();
      return a.some((x, i) => Math.abs(x - b[i]!) > 1e-6);
    });
    expect(fastChanged).toBe(true);
    expect(checksum(env.model.params)).toBe(before);
    hidden.dispose();
    gen.dispose();
  });

  it('direct gradient: the answer cross-entropy of the training contexts falls', async () => {
    const before = checksum(env.model.params);
    const cfg = DeltaTrainConfigSchema.parse({
      generator: {
        latent: 16,
        hidden: 32,
        rank: 4,
        targetModules: ['q_proj', 'v_proj', 'o_proj', 'up_proj', 'down_proj'],
      },
      reward: { magnitude: 0 },
      optimizer: { kind: 'direct', steps: 60, batchContexts: 2, learningRate: 1e-2, warmupSteps: 5 },
    });
    const { generator, logs } = await trainEditGenerator(env, contexts, cfg, { quiet: true });
    // A random 2-layer model is hard to steer: the step-1 cross-entropy (~ln V) falls by ~0.4–0.5 nats here.
    const last = logs.slice(-5).reduce((s, l) => s + l.nll, 0) / 5;
    expect(last).toBeLessThan(logs[0]!.nll - 0.3);
    expect(checksum(env.model.params)).toBe(before);
    // The edit comes from the context: a training context's answers are likelier under its own edit than under
    // the edit generated from another passage.
    const own = (i: number, from: number) => {
      const { edit, dispose } = editFor(
        env,
        generator,
        `${contexts[from]!.title}\n${contexts[from]!.passage}`,
      );
      const x = tf.tidy(() => answerNll(env, answerBatch(env, contexts[i]!), [edit]).dataSync()[0]!);
      dispose();
      return x;
    };
    const matched = [0, 1, 2, 3].map((i) => own(i, i));
    const shuffled = [0, 1, 2, 3].map((i) => own(i, (i + 1) % 4));
    expect(matched.reduce((a, b) => a + b) / 4).toBeLessThan(shuffled.reduce((a, b) => a + b) / 4 - 0.1);
    generator.dispose();
    // No leak: a second run (model caches now warm) ends with the same tensor count it started with.
    const tensors = tf.memory().numTensors;
    (
      await trainEditGenerator(
        env,
        contexts,
        // Two locality people per edit: the pairs path, leak-checked too.
        DeltaTrainConfigSchema.parse({
          ...cfg,
          optimizer: { kind: 'direct', steps: 3, neighboursPerEdit: 2 },
        }),
        { quiet: true },
      )
    ).generator.dispose();
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it("soft locality and the text term are KLs to the base: zero at the zero edit, where hard is the base's own CE", async () => {
    const first = async (localityLoss: 'hard' | 'soft', steps: number) => {
      const { generator, logs } = await trainEditGenerator(
        env,
        contexts,
        DeltaTrainConfigSchema.parse({
          generator: { latent: 8, hidden: 16 },
          optimizer: { kind: 'direct', steps, batchContexts: 4, learningRate: 1e-2, localityLoss, textKl: 1 },
        }),
        { quiet: true },
      );
      generator.dispose();
      return logs;
    };
    // Step 1 sees the untrained generator: exactly the zero edit.
    const [hard] = await first('hard', 1);
    expect(hard!.locality).toBeGreaterThan(0.01);
    const soft = await first('soft', 6);
    expect(soft[0]!.locality).toBe(0);
    expect(soft.slice(1).some((l) => (l.locality ?? 0) > 0)).toBe(true);
    // The text term (edit j on the next drawn person's biography) likewise: zero first, then positive.
    expect(soft[0]!.textKl).toBe(0);
    expect(soft.slice(1).some((l) => (l.textKl ?? 0) > 0)).toBe(true);
    // The policy gradient's neighbour reward takes the same two forms.
    const gen = new EditGenerator(env.model, EditGeneratorConfigSchema.parse({ latent: 8, hidden: 16 }));
    const [known] = knownPeople();
    const neighbourOf = (neighbourLoss: 'hard' | 'soft', z: number) =>
      tf.tidy(() => {
        const edit = gen.edit(tf.fill([1, 8], z) as Tensor2D);
        const batch = answerBatch(env, known!);
        return deltaReward(
          env,
          contexts[0]!,
          edit,
          DeltaRewardSchema.parse({ neighbour: 1, neighbourLoss }),
          {
            answers: answerBatch(env, contexts[0]!),
            neighbour: neighbourLoss === 'hard' ? baseTargets(env, batch) : batch,
          },
        ).neighbour;
      });
    expect(neighbourOf('soft', 0)).toBe(0);
    expect(neighbourOf('hard', 0)).toBeGreaterThan(0.01);
    expect(neighbourOf('soft', 0.5)).toBeGreaterThan(0);
    gen.dispose();
  });

  it('stacked training: groups of edits summed (SummedDelta = the list of deltas), sizes checked', async () => {
    const gen = new EditGenerator(env.model, EditGeneratorConfigSchema.parse({ latent: 8, hidden: 16 }));
    // Give the fast values a nonzero edit so the two edits differ from the base.
    for (const v of gen.fastVariables().filter((_, i) => i % 2 === 1))
      v.assign(tf.randomNormal(v.shape, 0, 0.05, 'float32', 7));
    const a = editFor(env, gen, contexts[0]!.passage);
    const b = editFor(env, gen, contexts[1]!.passage);
    const ids = tf.tensor2d([[1, 5, 9, 12]], [1, 4], 'int32') as Tensor2D;
    const [list, summed, base] = tf.tidy(() => [
      Array.from(env.model.forward(ids, { deltas: [a.edit, b.edit] }).dataSync()),
      Array.from(env.model.forward(ids, { deltas: [new SummedDelta([a.edit, b.edit])] }).dataSync()),
      Array.from(env.model.forward(ids).dataSync()),
    ]);
    summed.forEach((x, i) => {
      expect(x).toBeCloseTo(list[i]!, 4);
    });
    expect(summed.some((x, i) => Math.abs(x - base[i]!) > 1e-3)).toBe(true);
    a.dispose();
    b.dispose();
    ids.dispose();
    gen.dispose();
    expect(
      DeltaTrainConfigSchema.safeParse({ optimizer: { kind: 'direct', stackTrain: 3 } }).error?.issues[0]
        ?.message,
    ).toBe('a power of two');
    const tensors = tf.memory().numTensors;
    const { generator, logs } = await trainEditGenerator(
      env,
      contexts,
      DeltaTrainConfigSchema.parse({
        generator: { latent: 8, hidden: 16 },
        optimizer: {
          kind: 'direct',
          steps: 4,
          batchContexts: 4,
          stackTrain: 4,
          textKl: 1,
          localityLoss: 'soft',
        },
      }),
      { quiet: true },
    );
    expect(logs.every((l) => Number.isFinite(l.nll) && Number.isFinite(l.locality ?? 0))).toBe(true);
    generator.dispose();
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it('PPO over the latent runs CleanRL-style updates with their diagnostics; REINFORCE is one epoch', async () => {
    const before = checksum(env.model.params);
    for (const kind of ['ppo', 'reinforce'] as const) {
      const cfg = DeltaTrainConfigSchema.parse({
        generator: { latent: 8, hidden: 16 },
        optimizer: {
          kind,
          totalTimesteps: 64,
          numEnvs: 4,
          numSteps: 8,
          ...(kind === 'ppo' ? { numMinibatches: 2 } : {}),
        },
      });
      const { generator, logs } = await trainEditGenerator(env, contexts, cfg, { quiet: true });
      expect(logs).toHaveLength(2);
      for (const l of logs) {
        expect(Number.isFinite(l.reward)).toBe(true);
        expect(l.ppo?.approxKl).toBeDefined();
        expect(Number.isFinite(l.ppo!.explainedVariance)).toBe(true);
      }
      // The policy moved: its mean latent for a context is no longer exactly zero.
      const emb = contextEmbedding(env.model, env.tok, contexts[0]!.passage, generator.layer);
      // Policy-gradient optimisers do not train the fast-weight part: it stays the zero edit.
      for (const v of generator.fastVariables().filter((_, i) => i % 2 === 1))
        expect(tf.tidy(() => tf.max(tf.abs(v)).dataSync()[0])).toBe(0);
      const z = tf.tidy(() => generator.meanLatent(tf.tensor2d(emb, [1, emb.length]) as Tensor2D).dataSync());
      expect(z.some((x) => x !== 0)).toBe(true);
      generator.dispose();
    }
    expect(checksum(env.model.params)).toBe(before);
  });

  it('PPO over per-token codes reaches the fast weights: the answer cross-entropy falls with no direct step', async () => {
    const before = checksum(env.model.params);
    const generator = {
      latent: 8,
      hidden: 16,
      fastCode: 4,
      initCodeLogStd: -2,
      targetModules: ['q_proj', 'v_proj', 'o_proj', 'up_proj', 'down_proj'],
    };
    // Without a code there is nothing per token to sample: a clear error naming the field.
    expect(() => DeltaTrainConfigSchema.parse({ optimizer: { kind: 'ppo', action: 'tokens' } })).toThrow(
      /optimizer\.action|fastCode/,
    );
    const cfg = DeltaTrainConfigSchema.parse({
      generator,
      reward: { magnitude: 0 },
      optimizer: {
        kind: 'ppo',
        action: 'tokens',
        totalTimesteps: 640,
        numEnvs: 4,
        numSteps: 8,
        learningRate: 1e-2,
      },
    });
    const { generator: gen, logs } = await trainEditGenerator(env, contexts, cfg, { quiet: true });
    expect(logs).toHaveLength(20);
    for (const l of logs) expect(Number.isFinite(l.reward) && Number.isFinite(l.ppo!.approxKl)).toBe(true);
    // A random 2-layer model is hard to steer by any method (the direct gradient: ~0.4 nats in 60 steps); here
    // the cross-entropy falls by ~0.07 nats over 20 updates of 32 sampled edits.
    const [first, last] = firstAndLastNll(logs);
    expect(last).toBeLessThan(first - 0.04);
    // The code map moved; the base did not.
    expect(tf.tidy(() => tf.max(tf.abs(gen.code!.m)).dataSync()[0])).toBeGreaterThan(0);
    expect(checksum(env.model.params)).toBe(before);
    gen.dispose();
  });

  it('sharedNeighbour: the edits sampled for one context are checked on one known person; otherwise each edit draws its own', () => {
    const gen = new EditGenerator(
      env.model,
      EditGeneratorConfigSchema.parse({ latent: 8, hidden: 16, fastGate: true }),
    );
    const items = prepareContexts(env, gen, contexts);
    // Eight known people, each batch wrapped to record which person the reward read.
    let read = new Set<number>();
    const neighbours = [0, 1, 2, 3, 4, 5, 6, 7].map(
      (i) =>
        new Proxy(answerBatch(env, ctx(10 + i)), {
          get(target, key, receiver) {
            read.add(i);
            return Reflect.get(target, key, receiver);
          },
        }),
    );
    const peoplePerUpdate = (sharedNeighbour: boolean) => {
      const sizes: number[] = [];
      read = new Set();
      tokenPolicyGradient(
        env,
        gen,
        items,
        {
          kind: 'ppo',
          action: 'gate',
          totalTimesteps: 8 * 6,
          batch: 8,
          samplesPerContext: 4,
          sharedNeighbour,
          updateEpochs: 1,
          numMinibatches: 1,
          learningRate: 1e-3,
          annealLr: true,
          clipCoef: 0.2,
          vfCoef: 0.5,
          maxGradNorm: 0.5,
          targetKl: null,
        },
        DeltaRewardSchema.parse({ neighbour: 1, neighbourLoss: 'soft' }),
        0,
        {
          neighbours,
          quiet: true,
          onUpdate: () => {
            sizes.push(read.size);
            read = new Set();
          },
        },
      );
      return sizes;
    };
    // Two contexts (of 4 edits each) an update: at most 2 people with a shared draw, more with a draw per edit.
    const shared = peoplePerUpdate(true);
    expect(shared).toHaveLength(6);
    expect(shared.every((n) => n >= 1 && n <= 2)).toBe(true);
    expect(peoplePerUpdate(false).some((n) => n > 2)).toBe(true);
    for (const it of items) it.hidden.dispose();
    gen.dispose();
  });

  it('PPO over per-token writes learns the write gate alone (and so does the direct gradient with learn "gate"): on a warm start whose gate is reset, the answer cross-entropy falls', async () => {
    const before = checksum(env.model.params);
    const generator = { latent: 8, hidden: 16, fastGate: true };
    expect(() => DeltaTrainConfigSchema.parse({ optimizer: { kind: 'ppo', action: 'gate' } })).toThrow(
      /optimizer\.action|fastGate/,
    );
    // Minibatches per epoch: CleanRL's 4 for the latent action, 1 for the token actions, unless set.
    expect(minibatchesOf({ action: 'latent' })).toBe(4);
    expect(minibatchesOf({ action: 'gate' })).toBe(1);
    expect(minibatchesOf({ action: 'gate', numMinibatches: 2 })).toBe(2);
    // The shared locality person is a token-action option: the latent action is refused, naming the field.
    expect(() =>
      DeltaTrainConfigSchema.parse({ optimizer: { kind: 'ppo', action: 'latent', sharedNeighbour: true } }),
    ).toThrow(/sharedNeighbour/);
    // The keys and values from a short direct-gradient run, then every gate back to 0.5.
    const warm = DeltaTrainConfigSchema.parse({
      generator,
      reward: { magnitude: 0 },
      optimizer: { kind: 'direct', steps: 40, batchContexts: 4, learningRate: 1e-2 },
    });
    const { generator: gen } = await trainEditGenerator(env, contexts, warm, { quiet: true });
    gen.resetGate();
    const { hidden } = readContext(env.model, env.tok, contexts[0]!.passage, gen.layer);
    // The sampled writes enter as the gate: writes of σ(logits) are the default edit, no writes no fast-weight edit.
    tf.tidy(() => {
      const z = tf.zeros([1, 8]) as Tensor2D;
      const p = tf.sigmoid(gen.gateLogits(hidden)) as Tensor2D;
      const module = [...gen.decoder.keys()][0]!;
      const mean = gen.edit(z, hidden).weight(module)!.dataSync();
      const same = gen.edit(z, hidden, undefined, p).weight(module)!.dataSync();
      expect(Array.from(same)).toEqual(Array.from(mean));
      const none = gen
        .edit(z, hidden, undefined, tf.zerosLike(p) as Tensor2D)
        .weight(module)!
        .dataSync();
      expect(Math.max(...Array.from(none, Math.abs))).toBe(0);
    });
    hidden.dispose();
    const kv = gen.fastVariables().filter((v) => v !== gen.gate!.g && v !== gen.gate!.b);
    const kvBefore = kv.map((v) => Array.from(v.dataSync()));
    const cfg = DeltaTrainConfigSchema.parse({
      generator,
      reward: { magnitude: 0 },
      optimizer: {
        kind: 'ppo',
        action: 'gate',
        totalTimesteps: 640,
        numEnvs: 4,
        numSteps: 8,
        learningRate: 3e-2,
      },
    });
    const { logs } = await trainEditGenerator(env, contexts, cfg, { quiet: true, from: gen });
    expect(logs).toHaveLength(20);
    for (const l of logs) expect(Number.isFinite(l.reward) && Number.isFinite(l.ppo!.approxKl)).toBe(true);
    const [first, last] = firstAndLastNll(logs);
    expect(last, `answer NLL ${first} → ${last}`).toBeLessThan(first - 0.04);
    // Only the gate moved: keys and values are the warm start's; the base is untouched.
    expect(tf.tidy(() => tf.max(tf.abs(gen.gate!.g)).dataSync()[0])).toBeGreaterThan(0);
    expect(kv.map((v) => Array.from(v.dataSync()))).toEqual(kvBefore);
    // The Gaussian over gate logits (the evaluated edit is its mean action): from the reset gate again, the answer
    // cross-entropy falls too, and again only the gate moves.
    gen.resetGate();
    const logit = DeltaTrainConfigSchema.parse({
      generator,
      reward: { magnitude: 0 },
      optimizer: { ...cfg.optimizer, action: 'gate-logit', gateLogStd: 0 },
    });
    const { logs: gl } = await trainEditGenerator(env, contexts, logit, { quiet: true, from: gen });
    expect(gl).toHaveLength(20);
    const [gFirst, gLast] = firstAndLastNll(gl);
    expect(gLast, `answer NLL ${gFirst} → ${gLast}`).toBeLessThan(gFirst - 0.04);
    expect(kv.map((v) => Array.from(v.dataSync()))).toEqual(kvBefore);
    expect(() => DeltaTrainConfigSchema.parse({ optimizer: { kind: 'ppo', action: 'gate-logit' } })).toThrow(
      /gate-logit.*fastGate/,
    );
    // The direct gradient on the same part (learn "gate"): from the reset gate again, only g and b move.
    expect(() => DeltaTrainConfigSchema.parse({ optimizer: { kind: 'direct', learn: 'gate' } })).toThrow(
      /optimizer\.learn|fastGate/,
    );
    gen.resetGate();
    const enc = gen.encoderVariables().map((v) => Array.from(v.dataSync()));
    const direct = DeltaTrainConfigSchema.parse({
      generator,
      reward: { magnitude: 0 },
      optimizer: {
        kind: 'direct',
        learn: 'gate',
        steps: 20,
        batchContexts: 4,
        learningRate: 3e-2,
        warmupSteps: 0,
      },
    });
    const { logs: dl } = await trainEditGenerator(env, contexts, direct, { quiet: true, from: gen });
    expect(dl[dl.length - 1]!.nll).toBeLessThan(dl[0]!.nll);
    expect(tf.tidy(() => tf.max(tf.abs(gen.gate!.g)).dataSync()[0])).toBeGreaterThan(0);
    expect(kv.map((v) => Array.from(v.dataSync()))).toEqual(kvBefore);
    expect(gen.encoderVariables().map((v) => Array.from(v.dataSync()))).toEqual(enc);
    expect(checksum(env.model.params)).toBe(before);
    gen.dispose();
  });

  it('PPO warm-started by the direct gradient: direct steps first (fast weights trained), then PPO updates', async () => {
    const cfg = DeltaTrainConfigSchema.parse({
      generator: { latent: 8, hidden: 16 },
      reward: { accuracy: 1 },
      optimizer: { kind: 'ppo', totalTimesteps: 32, numEnvs: 4, numSteps: 8, warmStartSteps: 3 },
    });
    const { generator, logs } = await trainEditGenerator(env, contexts, cfg, { quiet: true });
    expect(logs.map((l) => l.step)).toEqual([1, 2, 3, 4]);
    expect(logs[2]!.ppo).toBeUndefined();
    expect(logs[3]!.ppo?.approxKl).toBeDefined();
    const v = generator.fastVariables()[1]!;
    expect(tf.tidy(() => tf.max(tf.abs(v)).dataSync()[0])).toBeGreaterThan(0);
    generator.dispose();
  });

  it('stacked batches with a RowGroupedDelta give each edit its own loss (one forward pass for all edits)', () => {
    const gen = new EditGenerator(env.model, EditGeneratorConfigSchema.parse({ latent: 8, hidden: 16 }));
    for (const v of gen.fastVariables()) v.assign(tf.randomNormal(v.shape, 0, 0.2, 'float32', 7));
    const views = contexts.slice(0, 3).map((c) => readContext(env.model, env.tok, c.passage, gen.layer));
    const batches = contexts.slice(0, 3).map((c, i) => answerBatch(env, c, c.questions.slice(0, i + 1)));
    const [separate, grouped] = tf.tidy(() => {
      const edits = views.map((v) => gen.edit(tf.zeros([1, 8]) as Tensor2D, v.hidden));
      const each = batches.map((b, i) => answerNll(env, b, [edits[i]!]).dataSync()[0]!);
      const sum = (b: (typeof batches)[number]) => b.weights.reduce((s, w) => s + w, 0);
      const stacked = stackBatches(batches.map((b) => ({ batch: b, scale: 1 / sum(b) })));
      const g = answerNll(env, stacked.batch, [new RowGroupedDelta(edits, stacked.rows)]).dataSync()[0]!;
      return [each.reduce((s, x) => s + x, 0) / each.length, g];
    });
    expect(grouped).toBeCloseTo(separate, 4);
    for (const v of views) v.hidden.dispose();
    gen.dispose();
  });

  it('edit evaluation: the zero edit leaves neighbours, known people and held-out text unchanged; ES/PS/NS/retention/drawdown reported', () => {
    const gen = new EditGenerator(env.model, EditGeneratorConfigSchema.parse({ latent: 8, hidden: 16 }));
    const known = knownPeople();
    const conds = generatorConditions(env, gen, contexts, 'delta');
    const scores = evaluateEdits(env, contexts, conds, {
      paraphrases: new Map(
        contexts.map((c) => [
          c.id,
          [
            {
              question: `What city is Person ${c.id.slice(1)} from?`,
              answers: [c.questions[0]!.answers[0]!],
            },
          ],
        ]),
      ),
      neighbourhood: contexts,
      known,
      knownPerEdit: 2,
      heldOutText: textBatch(env, ['City0 and City1 are cities.', 'Firm2 is a firm.']),
    });
    expect(Object.keys(scores)).toEqual(['delta', 'delta_shuffled']);
    expect(scores['delta']!.ns.mean).toBe(1);
    expect(scores['delta']!.retention).toMatchObject({ mean: 1, n: 4 });
    expect(scores['delta']!.drawdown.mean).toBe(0);
    expect(scores['delta']!.es.n).toBe(4);
    expect(scores['delta']!.perContext).toHaveLength(4);
    // A large random edit changes what the model knows, and retention sees it.
    const loud = evaluateEdits(
      env,
      contexts,
      [
        {
          name: 'random',
          make: () => ({ delta: gen.edit(tf.fill([1, 8], 40) as Tensor2D), ms: 0 }),
        },
      ],
      {
        paraphrases: new Map(),
        neighbourhood: contexts,
        known,
        heldOutText: textBatch(env, ['Firm2 is a firm.']),
      },
    );
    expect(loud['random']!.retention.mean).toBeLessThan(1);
    expect(loud['random']!.drawdown.mean).toBeGreaterThan(0);
    // answerNll agrees with itself under the zero edit and the base.
    const b = answerBatch(env, contexts[0]!);
    const [x, y] = tf.tidy(() => [
      answerNll(env, b, []).dataSync()[0]!,
      answerNll(env, b, [gen.edit(tf.zeros([1, 8]) as Tensor2D)]).dataSync()[0]!,
    ]);
    expect(x).toBe(y);
    gen.dispose();
  });

  it("neighbour sets never include the edited person or the shuffled control's source; known picks rotate", () => {
    const people = Array.from({ length: 7 }, (_, i) => ctx(i));
    for (let i = 0; i < people.length; i++) {
      const picks = neighbourPicks(i, people, people, 3).map((c) => c.id);
      expect(picks).toHaveLength(3);
      expect(new Set(picks).size).toBe(3);
      expect(picks).not.toContain(people[i]!.id);
      expect(picks).not.toContain(people[shuffledSource(i, people.length)]!.id);
    }
    // Before this rule, person i's first neighbour was person i + 1: the shuffled control's source.
    expect(shuffledSource(6, 7)).toBe(0);
    expect(neighbourPicks(0, people.slice(0, 2), people.slice(0, 2), 2)).toEqual([]);
    expect(knownPicks(0, people, 3).map((c) => c.id)).toEqual(['p0', 'p1', 'p2']);
    expect(knownPicks(2, people, 3).map((c) => c.id)).toEqual(['p6', 'p0', 'p1']);
    expect(knownPicks(0, people.slice(0, 2), 3)).toHaveLength(2);
  });

  it('stacked edits: disjoint groups; a stack of one scores as the edit alone; an empty stack changes nothing', () => {
    expect(stackGroups(5, 2)).toEqual([
      [0, 1],
      [2, 3],
    ]);
    expect(stackGroups(3, 4)).toEqual([]);
    const gen = new EditGenerator(env.model, EditGeneratorConfigSchema.parse({ latent: 8, hidden: 16 }));
    const v = gen.fastVariables()[1]!;
    v.assign(tf.fill(v.shape, 0.05)); // a live edit
    const known = knownPeople();
    const heldOutText = textBatch(env, ['City0 and City1 are cities.', 'Firm2 is a firm.']);
    const alone = evaluateEdits(env, contexts, generatorConditions(env, gen, contexts, 'd').slice(0, 1), {
      paraphrases: new Map(),
      neighbourhood: contexts,
      known,
      heldOutText,
    })['d']!;
    const router = ScopeRouter.build(
      env.model,
      env.tok,
      [4, 5].map((i) => ctx(i).passage),
    );
    const rows = evaluateStacks(
      env,
      contexts,
      [
        generatedStack(env, gen, contexts, 'd', { kind: 'sum' }),
        generatedStack(env, gen, contexts, 'r', { kind: 'routed', router }),
        { name: 'none', make: () => ({ apply: together([]), ms: 0 }) },
      ],
      { sizes: [1, 2, 4], known, heldOutText },
    );
    const ones = rows.filter((r) => r.condition === 'd' && r.size === 1);
    expect(ones.map((r) => r.members[0]!.es)).toEqual(alone.perContext.map((r) => r.es));
    expect(ones.map((r) => r.drawdown)).toEqual(alone.perContext.map((r) => r.drawdown));
    expect(ones[0]!.drawdown).not.toBe(0);
    // Routed, a stack of one is the edit alone too (its rows scored one by one: the drawdown up to rounding).
    const routedOnes = rows.filter((r) => r.condition === 'r' && r.size === 1);
    expect(routedOnes.map((r) => r.members[0]!.es)).toEqual(alone.perContext.map((r) => r.es));
    expect(routedOnes.map((r) => r.retention)).toEqual(alone.perContext.map((r) => r.retention));
    routedOnes.forEach((r, i) => {
      expect(r.drawdown).toBeCloseTo(alone.perContext[i]!.drawdown, 5);
    });
    const table = summariseStacks(rows);
    expect(table.map((t) => `${t.condition}${t.size}:${t.es.n}`)).toEqual([
      'd1:4',
      'r1:4',
      'none1:4',
      'd2:4',
      'r2:4',
      'none2:4',
      'd4:4',
      'r4:4',
      'none4:4',
    ]);
    router.dispose();
    for (const t of table.filter((x) => x.condition === 'none')) {
      expect(t.retention.mean).toBe(1);
      expect(t.drawdown.mean).toBe(0);
    }
    gen.dispose();
  });

  it('scope router: the score is its formula; a passage routes to its own scope, or to none when the background holds it; routed edits equal the routed-to edit alone; NO_EDIT = base; a bad route is refused', () => {
    const gen = new EditGenerator(env.model, EditGeneratorConfigSchema.parse({ latent: 8, hidden: 16 }));
    const v = gen.fastVariables()[1]!;
    v.assign(tf.fill(v.shape, 0.05));
    const router = ScopeRouter.build(
      env.model,
      env.tok,
      [4, 5].map((i) => ctx(i).passage),
    );
    const enc = (t: string) => env.tok.encode(t, { addBos: true });
    const texts = contexts.map((c) => `${c.title}\n${c.passage}`);
    const scopes = texts.map((t) => router.states(enc(t)));
    // Every token of a passage finds itself in its own scope (similarity 1), so no scope beats its own.
    texts.forEach((t, i) => {
      const s = router.scores(scopes, enc(t));
      expect(s).toHaveLength(contexts.length);
      expect(router.route(scopes, enc(t))).toBe(i);
      expect(Math.max(...s)).toBe(s[i]);
    });
    // The score is the formula: s_i(q) = max_t [max_k q_t·k − max_b q_t·b], over the states the router reads (the
    // background rows are the background documents' own states).
    const bgDocs = [4, 5].map((i) => ctx(i).passage);
    const rows = (t: Tensor2D) => t.arraySync();
    const dot = (a: number[], b: number[]) => a.reduce((x, y, j) => x + y * b[j]!, 0);
    const bgRows = bgDocs.flatMap((d) => {
      const st = router.states(enc(d));
      const r = rows(st);
      st.dispose();
      return r;
    });
    const scopeRows = scopes.map(rows);
    const query = enc(contexts[2]!.questions[0]!.question);
    const qs = router.states(query);
    const q = rows(qs);
    qs.dispose();
    const want = scopeRows.map((k) =>
      Math.max(
        ...q.map(
          (qt) => Math.max(...k.map((kk) => dot(qt, kk))) - Math.max(...bgRows.map((b) => dot(qt, b))),
        ),
      ),
    );
    router.scores(scopes, query).forEach((x, i) => {
      expect(x).toBeCloseTo(want[i]!, 4);
    });
    for (const s of scopes) s.dispose();
    // A passage the background already holds explains nothing better than the background: every score ≤ 0, no edit.
    const knows = ScopeRouter.build(env.model, env.tok, [...bgDocs, texts[0]!]);
    const own = [knows.states(enc(texts[0]!))];
    expect(knows.scores(own, enc(texts[0]!))[0]).toBeCloseTo(0, 5);
    expect(knows.route(own, enc(texts[0]!))).toBe(NO_EDIT);
    for (const s of own) s.dispose();
    knows.dispose();
    expect(() => ScopeRouter.build(env.model, env.tok, [])).toThrow(/background/);
    expect(() => router.states(enc(''))).toThrow(/after BOS/);
    // A routing that sends every input to edit 1 is edit 1 on every input.
    const made = contexts.map((_, i) => editFor(env, gen, texts[i]!));
    const edits = made.map((m) => m.edit);
    const scoped = routedEdits(router, edits, texts.map(enc));
    const toOne = { ...scoped.apply, route: () => 1 } as const;
    const key = (a: { contextId: string; question: string; prediction: string }) =>
      `${a.contextId}|${a.question}|${a.prediction}`;
    const sorted = (xs: readonly { contextId: string; question: string; prediction: string }[]) =>
      xs.map(key).sort();
    expect(sorted(answerUnder(env, contexts, toOne))).toEqual(
      sorted(answerUnder(env, contexts, together([edits[1]!]))),
    );
    const batch = textBatch(env, ['City0 and City1 are cities.', 'Firm2 is a firm.', 'Person 3 works.']);
    expect(nllUnder(env, batch, toOne)).toBeCloseTo(nllUnder(env, batch, together([edits[1]!])), 5);
    expect(nllUnder(env, batch, { kind: 'routed', edits: [], route: () => 0 })).toBeCloseTo(
      nllUnder(env, batch, together([])),
      5,
    );
    expect(nllUnder(env, batch, toOne)).not.toBeCloseTo(nllUnder(env, batch, together([])), 5); // the edit is live
    // Routed by the scopes, each context's questions go to its own passage's edit on this model? Not asserted: a
    // random tiny model need not; the val figures are in experiments/results/session15/delta.
    expect(() => routedEdits(router, edits, texts.slice(1).map(enc))).toThrow(/scopes/);
    // NO_EDIT is no edit; any other index outside the edits is a router bug, refused by both measures.
    const none = { ...scoped.apply, route: () => NO_EDIT } as const;
    expect(nllUnder(env, batch, none)).toBeCloseTo(nllUnder(env, batch, together([])), 5);
    expect(sorted(answerUnder(env, contexts, none))).toEqual(
      sorted(answerUnder(env, contexts, together([]))),
    );
    for (const bad of [edits.length, -2, 0.5]) {
      const broken = { ...scoped.apply, route: () => bad } as const;
      expect(() => nllUnder(env, batch, broken)).toThrow(RangeError);
      expect(() => answerUnder(env, contexts, broken)).toThrow(RangeError);
    }
    scoped.dispose();
    for (const m of made) m.dispose();
    router.dispose();
    gen.dispose();
  });

  it('save → load reproduces the generator; one edit converts to an equivalent PEFT-style LoRA adapter', async () => {
    const cfg = DeltaTrainConfigSchema.parse({
      generator: { latent: 8, hidden: 16 },
      optimizer: { kind: 'direct', steps: 5, batchContexts: 2, learningRate: 1e-2 },
    });
    const { generator } = await trainEditGenerator(env, contexts, cfg, { quiet: true });
    const dir = join(tempDir(), 'gen');
    await saveEditGenerator(generator, dir);
    const loaded = await loadEditGenerator(env.model, dir);
    const ids = tf.tensor2d([[1, 5, 9, 12, 3]], [1, 5], 'int32') as Tensor2D;
    const logits = (gen: EditGenerator) => {
      const { edit, dispose } = editFor(env, gen, contexts[1]!.passage);
      const out = tf.tidy(() => env.model.forward(ids, { deltas: [edit] }).dataSync());
      const adapter = editToAdapter(gen, edit);
      const viaAdapter = tf.tidy(() => env.model.forward(ids, { deltas: [adapter] }).dataSync());
      // Latent part (rank 4) and fast-weight part (one rank per passage token) stacked into one LoRA pair.
      expect(adapter.config.r).toBe(4 + env.tok.encode(contexts[1]!.passage, { addBos: true }).length);
      dispose();
      adapter.dispose();
      return { out, viaAdapter };
    };
    const a = logits(generator);
    const b = logits(loaded);
    expect(Array.from(b.out)).toEqual(Array.from(a.out));
    for (let i = 0; i < a.out.length; i++) expect(a.viaAdapter[i]).toBeCloseTo(a.out[i]!, 4);
    // The same round trip with a per-token code (fastCode): its map M is saved and the adapter still equals the edit.
    const coded = (
      await trainEditGenerator(
        env,
        contexts,
        DeltaTrainConfigSchema.parse({ ...cfg, generator: { latent: 8, hidden: 16, fastCode: 3 } }),
        { quiet: true },
      )
    ).generator;
    const codedDir = join(tempDir(), 'coded');
    await saveEditGenerator(coded, codedDir);
    const codedBack = await loadEditGenerator(env.model, codedDir);
    expect(tf.tidy(() => tf.max(tf.abs(codedBack.code!.m)).dataSync()[0])).toBeGreaterThan(0);
    const c1 = logits(coded);
    const c2 = logits(codedBack);
    expect(Array.from(c2.out)).toEqual(Array.from(c1.out));
    for (let i = 0; i < c1.out.length; i++) expect(c1.viaAdapter[i]).toBeCloseTo(c1.out[i]!, 4);
    coded.dispose();
    codedBack.dispose();
    expect(
      a.out.some((x, i) => Math.abs(x - (tf.tidy(() => env.model.forward(ids).dataSync())[i] ?? 0)) > 1e-6),
    ).toBe(true);
    // A generator saved for another shape is refused, naming the tensor, and nothing is half-loaded.
    const other = Transformer.init(tinyLlama({ vocabSize: env.tok.vocabSize, dim: 48, hiddenDim: 96 }), 3);
    await expect(loadEditGenerator(other, dir)).rejects.toThrow(/encoder\.0|edit_/);
    await expect(loadEditGenerator(env.model, tempDir())).rejects.toThrow(/edit_generator\.json/);
    // A generator saved before the fast-weight part existed (no `fastWeights` field) loads as latent-only.
    const old = new EditGenerator(
      env.model,
      EditGeneratorConfigSchema.parse({ latent: 8, hidden: 16, fastWeights: false }),
    );
    const oldDir = join(tempDir(), 'old-gen');
    await saveEditGenerator(old, oldDir);
    const cfgFile = join(oldDir, 'edit_generator.json');
    const raw = JSON.parse(readFileSync(cfgFile, 'utf8')) as { config: Record<string, unknown> };
    delete raw.config['fastWeights'];
    writeFileSync(cfgFile, JSON.stringify(raw));
    const reloaded = await loadEditGenerator(env.model, oldDir);
    expect(reloaded.fastVariables()).toHaveLength(0);
    ids.dispose();
    generator.dispose();
    loaded.dispose();
    other.dispose();
    old.dispose();
    reloaded.dispose();
  });
});
