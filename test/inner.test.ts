/** The inner loop never touches the base, leaks no tensors, and its reward responds to what the self-edit says. */
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine, tf } from '../src/engine/index.js';
import { Transformer } from '../src/model/model.js';
import { checksum } from '../src/model/params.js';
import { buildTokenizer } from '../src/seal/domains/people-pretrain.js';
import { InnerLoopConfigSchema, runInnerLoop } from '../src/seal/inner/inner-loop.js';
import { exactMatchScorer } from '../src/tasks/squad-score.js';
import type { Context } from '../src/tasks/types.js';
import { tinyLlama } from './helpers/models.js';

const context: Context = {
  id: 'c1',
  title: 'Ann Lee',
  passage: 'Ann Lee was born in Paris. She studied Physics.',
  questions: [
    { question: 'Where was Ann Lee born?', answers: ['Paris'] },
    { question: 'What did Ann Lee study?', answers: ['Physics'] },
  ],
};
const task = {
  answerPrompt: (_: unknown, q: { question: string }) => `Q: ${q.question}\nA:`,
  answerStop: ['\n'],
  scorer: exactMatchScorer,
};

describe('inner loop', () => {
  beforeAll(async () => {
    await initEngine('wasm');
  });

  it('20 inner loops: base checksum identical, tensor count flat', () => {
    const { tok } = buildTokenizer(
      ['Q: Where was Ann Lee born?\nA: Paris\n', 'Ann Lee studied Physics.', context.passage],
      300,
    );
    const model = Transformer.init(tinyLlama({ vocabSize: tok.vocabSize, eosId: tok.eosId }), 1);
    const env = { model, tok, task };
    const cfg = InnerLoopConfigSchema.parse({ epochs: 2, lr: 1e-3, lora: { r: 4, alpha: 8 } });
    const before = checksum(model.params);
    runInnerLoop(env, context, ['Ann Lee\nAnn Lee was born in Paris.'], cfg, 0);
    const tensors = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) {
      const r = runInnerLoop(
        env,
        context,
        ['Ann Lee\nAnn Lee was born in Paris.', 'Ann Lee\nQ: What did Ann Lee study?\nA: Physics'],
        cfg,
        i,
      );
      expect(r.diverged).toBe(false);
      expect(r.steps).toBe(2);
      // One repeat; its score is the mean over the context's questions, each answered once.
      expect(r.perRepeat).toHaveLength(1);
      expect(r.accuracy).toBe(r.perRepeat[0]);
      expect(r.answers).toHaveLength(context.questions.length);
      expect(r.accuracy).toBe(r.answers.filter((a) => a.score === 1).length / context.questions.length);
    }
    expect(tf.memory().numTensors).toBe(tensors);
    expect(checksum(model.params)).toBe(before);
  });

  it('the reward is the accuracy after learning the self-edit; a self-edit stating the answers earns it', () => {
    const qa = 'Q: Where was Ann Lee born?\nA: Paris';
    const qa2 = 'Q: What did Ann Lee study?\nA: Physics';
    const { tok } = buildTokenizer([qa, qa2, context.passage], 300);
    const model = Transformer.init(
      tinyLlama({ vocabSize: tok.vocabSize, eosId: tok.eosId, dim: 48, nHeads: 4, nKvHeads: 4 }),
      2,
    );
    const emb = model.params.get('model.embed_tokens.weight')!;
    emb.assign(tf.tidy(() => tf.mul(emb, 25)));
    const env = { model, tok, task };
    const cfg = InnerLoopConfigSchema.parse({ epochs: 150, lr: 5e-3, lora: { r: 8, alpha: 16 } });
    // A tiny random-init model answers reliably only some of the time, so look across seeds: the reward must
    // follow what the self-edit says (stating the answers beats stating nothing useful).
    let goodSum = 0;
    let uselessSum = 0;
    for (const seed of [1, 2, 3]) {
      const good = runInnerLoop(env, context, [qa, qa2], cfg, seed);
      const useless = runInnerLoop(env, context, ['Ann Lee\nThe sky is blue today.'], cfg, seed);
      expect(good.finalLoss).toBeLessThan(0.3); // the two questions share a prefix: ~log 2 bits at the fork are irreducible
      goodSum += good.accuracy;
      uselessSum += useless.accuracy;
    }
    expect(uselessSum).toBe(0);
    expect(goodSum / 3).toBeGreaterThanOrEqual(0.5);
  });
});
