/**
 * The grid domain through the seam (src/seal/domains/grids.ts): a grid task as a context, the recipe self-edit
 * parsed (malformed → rejected with its reason) and expanded into training sequences over the demonstrations only,
 * loss masks that take the loss on the trained segments only, the grids task spec, and an inner loop and a ReST-EM
 * round on a tiny random model (plumbing: rewards are exact grid matches, the base never changes).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine, tf } from '../src/engine/index.js';
import type { Variable } from '../src/engine/tf.js';
import { Transformer } from '../src/model/model.js';
import { checksum } from '../src/model/params.js';
import { answersInFrame, scoredContext } from '../src/seal/domain.js';
import { gridDomain, recipeSeed } from '../src/seal/domains/grids.js';
import {
  InnerLoopConfigSchema,
  runInnerLoop,
  type TrainingText,
  trainingExample,
} from '../src/seal/inner/inner-loop.js';
import { TaskSpecSchema, taskFromSpec } from '../src/seal/inner/task-spec.js';
import { RestEmConfigSchema, restEm } from '../src/seal/outer/rest-em.js';
import type { SealProblem } from '../src/seal/outer/rollout.js';
import { ParseOptionsSchema } from '../src/seal/selfedit/parse.js';
import { GRID_ALPHABET, gridToText, solvePrompt } from '../src/tasks/grids/grid.js';
import {
  formatRecipe,
  RECIPE_ALPHABET,
  type Recipe,
  RecipeSchema,
  recipePrompt,
  turnedTask,
} from '../src/tasks/grids/recipe.js';
import { answerTokenBound, contextGridTask, gridAnswering, gridContext } from '../src/tasks/grids/task.js';
import { generateGridWorld } from '../src/tasks/grids/world.js';
import { charTokenizer } from '../src/tokenizer/char.js';
import { makeBatch } from '../src/train/data.js';
import { accumulateGradients } from '../src/train/step.js';
import { RunDir } from '../src/util/run-dir.js';
import { tinyLlama } from './helpers/models.js';
import { tempDir } from './helpers/paths.js';

const world = generateGridWorld({ seed: 3, pretrainTasks: 0, rlTasks: 6, valTasks: 2, testTasks: 0 });
const rl = world.splits.rl.map(gridContext);
const recipe = (over: Partial<Recipe> = {}): Recipe =>
  RecipeSchema.parse({
    augment: ['rot', 'flip'],
    copies: 4,
    leaveOneOut: true,
    lr: 3e-3,
    epochs: 2,
    loss: 'outputs',
    ...over,
  });
const defaults = { inner: InnerLoopConfigSchema.parse({ seqLen: 512 }), parse: ParseOptionsSchema.parse({}) };

describe('grid tasks as contexts', () => {
  it('round-trips every task: demonstrations in the passage, the solve prompt as question, the output as gold', () => {
    for (const t of world.splits.rl) {
      const c = gridContext(t);
      expect(c.questions).toHaveLength(1);
      expect(c.questions[0]!.question).toBe(solvePrompt(t));
      expect(c.questions[0]!.answers).toEqual([gridToText(t.test[0].output)]);
      const back = contextGridTask(c);
      expect(back.train).toEqual(t.train);
      expect(back.test).toEqual(t.test);
    }
  });

  it('an unsolved test input is asked with no gold; a context that is not a grid task is refused', () => {
    const t = world.splits.rl[0]!;
    const c = gridContext({ id: 'x', train: t.train, test: [{ input: t.test[0].input }] });
    expect(c.questions[0]!.answers).toEqual([]);
    expect(contextGridTask(c).test).toEqual([{ input: t.test[0].input }]);
    expect(() => contextGridTask({ ...c, passage: 'Ann Lee was born in Paris.' })).toThrow(
      /x is not a grid task/,
    );
  });

  it('the grids task spec answers with the solve prompt, stops at the empty line, scores exact grids', () => {
    const task = taskFromSpec(TaskSpecSchema.parse({ kind: 'grids', maxSide: 6 }));
    const c = rl[0]!;
    const q = c.questions[0]!;
    expect(task.answerPrompt(c, q)).toBe(q.question);
    expect(task.answerStop).toEqual(['\n\n']);
    expect(task.answerMaxTokens).toBe(answerTokenBound(6));
    expect(task.scorer.score(`${q.answers[0]}\n\n`, q.answers)).toBe(1);
    expect(task.scorer.score(`${q.answers[0]}1`, q.answers)).toBe(0);
    expect(gridAnswering(6).answerMaxTokens).toBe(43);
  });
});

describe('the grid domain plan', () => {
  it('a malformed recipe is rejected with its reason', () => {
    for (const bad of ['', 'augment: rot\n', 'hello', formatRecipe(recipe()).replace('lr: 3e-3', 'lr: 5')]) {
      const plan = gridDomain.plan(bad, rl[0]!, defaults);
      expect(plan.kind).toBe('rejected');
      if (plan.kind === 'rejected') expect(plan.reason).toMatch(/^malformed recipe: /);
    }
  });

  it('a recipe trains with its own lr and epochs on the demonstrations only, deterministically', () => {
    const c = rl[0]!;
    const r = recipe();
    const plan = gridDomain.plan(formatRecipe(r), c, defaults);
    expect(plan.kind).toBe('train');
    if (plan.kind !== 'train') return;
    expect(plan.cfg.lr).toBe(3e-3);
    expect(plan.cfg.epochs).toBe(2);
    expect(plan.cfg.lora).toEqual(defaults.inner.lora);
    // leave-one-out × 4 copies; sequences are segments (loss on outputs) and never hold the test output.
    const demos = contextGridTask(c).train.length;
    expect(plan.sequences).toHaveLength(demos * 4);
    const testOut = c.questions[0]!.answers[0]!;
    for (const s of plan.sequences) {
      expect(typeof s).not.toBe('string');
      const text = (s as readonly { text: string }[]).map((g) => g.text).join('');
      expect(text.length).toBeLessThanOrEqual(510);
      expect(text.includes(`out\n${testOut}\n\n`)).toBe(false);
    }
    expect(gridDomain.plan(formatRecipe(r), c, defaults)).toEqual(plan);
    expect(recipeSeed(c.id, r)).not.toBe(recipeSeed(rl[1]!.id, r));
    // Loss on all tokens: plain strings.
    const all = gridDomain.plan(formatRecipe(recipe({ loss: 'all', leaveOneOut: false })), c, defaults);
    expect(all.kind === 'train' && all.sequences.every((s) => typeof s === 'string')).toBe(true);
    expect(all.kind === 'train' && all.sequences).toHaveLength(4);
  });

  it('a turned recipe poses the turned test and turns answers back; an unturned one poses nothing', () => {
    const c = rl[2]!;
    expect(gridDomain.plan(formatRecipe(recipe()), c, defaults)).not.toHaveProperty('posed');
    expect(gridDomain.plan(formatRecipe(recipe({ turn: 0 })), c, defaults)).not.toHaveProperty('posed');
    const plan = gridDomain.plan(formatRecipe(recipe({ turn: 90 })), c, defaults);
    if (plan.kind !== 'train' || plan.posed === undefined) throw new Error('expected a posed plan');
    const task = contextGridTask(c);
    expect(plan.posed.context).toEqual(gridContext(turnedTask(task, { turn: 90 })));
    expect(scoredContext(plan, c)).toBe(plan.posed.context);
    // The turned gold answer maps back to the task's own gold; text that is no grid is kept as it is.
    const turnedGold = plan.posed.context.questions[0]!.answers[0]!;
    expect(turnedGold).not.toBe(c.questions[0]!.answers[0]);
    expect(plan.posed.answerBack(turnedGold)).toBe(c.questions[0]!.answers[0]);
    expect(plan.posed.answerBack('no grid')).toBe('no grid');
    const answered = {
      contextId: c.id,
      question: plan.posed.context.questions[0]!.question,
      kind: 'test0',
      prediction: turnedGold,
      golds: [turnedGold],
      score: 1,
      heldOut: false,
    };
    expect(answersInFrame(plan, c, [answered])).toEqual([
      {
        ...answered,
        question: c.questions[0]!.question,
        golds: c.questions[0]!.answers,
        prediction: c.questions[0]!.answers[0],
      },
    ]);
  });

  it('the self-edit prompt is the recipe prompt of the demonstrations', () => {
    expect(gridDomain.selfEditPrompt(rl[1]!)).toBe(recipePrompt(world.splits.rl[1]!));
  });

  it('a recipe whose sequences cannot fit the context is rejected', () => {
    const tiny = { ...defaults, inner: { ...defaults.inner, seqLen: 8 } };
    const plan = gridDomain.plan(formatRecipe(recipe()), rl[0]!, tiny);
    expect(plan.kind === 'rejected' && plan.reason).toMatch(/no training sequence fits 8 tokens/);
  });
});

describe('loss masks', () => {
  beforeAll(async () => {
    await initEngine('wasm');
  });

  const { tok } = charTokenizer(GRID_ALPHABET + RECIPE_ALPHABET);

  it('plain text trains every token after BOS; segments train their own tokens (EOS follows the last)', () => {
    const plain = trainingExample(tok, 'in\n12\n');
    expect(plain.targetMask).toBeUndefined();
    expect(plain.ids).toEqual([tok.bosId, ...tok.encode('in\n12\n'), tok.eosId]);
    const seg = trainingExample(tok, [
      { text: 'in\n1\nout\n', train: false },
      { text: '2\n\n', train: true },
    ]);
    expect(seg.ids).toEqual([tok.bosId, ...tok.encode('in\n1\nout\n2\n\n'), tok.eosId]);
    expect(seg.targetMask).toEqual([0, ...Array(9).fill(0), 1, 1, 1, 1]);
  });

  it('masked tokens contribute zero gradient', () => {
    const model = Transformer.init(tinyLlama({ vocabSize: tok.vocabSize, eosId: tok.eosId }), 4);
    const vars = model.params as ReadonlyMap<string, Variable>;
    const grads = (text: TrainingText) => {
      const batch = makeBatch([trainingExample(tok, text)], 64);
      const { loss, grads } = accumulateGradients(model, vars, [batch]);
      const flat = [...grads.values()].map((g) => Array.from(g.dataSync()));
      for (const g of grads.values()) g.dispose();
      return { loss, flat };
    };
    const withTail = (tail: string, train: boolean): TrainingText => [
      { text: 'in\n12\nout\n', train: false },
      { text: '21\n\n', train: true },
      { text: tail, train },
    ];
    // Tokens after the trained ones cannot change its predictions (causal attention), so two different masked
    // tails give identical gradients exactly when masked tokens add nothing; trained tails do change them.
    const a = grads(withTail('in\n34\n', false));
    const b = grads(withTail('out\n9\n', false));
    expect(b.loss).toBe(a.loss);
    expect(b.flat).toEqual(a.flat);
    const c = grads(withTail('in\n34\n', true));
    const d = grads(withTail('out\n9\n', true));
    expect(c.loss).not.toBe(d.loss);
    const differs = c.flat.some((g, i) => g.some((x, j) => x !== d.flat[i]![j]));
    expect(differs).toBe(true);
    model.dispose();
  });
});

describe('grid inner loop and outer loop through the seam (tiny random model)', () => {
  beforeAll(async () => {
    await initEngine('wasm');
  });

  it('an inner loop on a recipe plan answers the test input; ReST-EM rolls out recipes and logs rejections', async () => {
    const { tok } = charTokenizer(GRID_ALPHABET + RECIPE_ALPHABET);
    const model = Transformer.init(
      tinyLlama({ vocabSize: tok.vocabSize, eosId: tok.eosId, maxSeqLen: 512 }),
      5,
    );
    const env = { model, tok, task: taskFromSpec(TaskSpecSchema.parse({ kind: 'grids', maxSide: 6 })) };
    const before = checksum(model.params);
    const inner = InnerLoopConfigSchema.parse({ seqLen: 512, lora: { r: 2, alpha: 4 }, batchSize: 8 });
    const plan = gridDomain.plan(formatRecipe(recipe({ epochs: 1, copies: 2 })), rl[0]!, {
      ...defaults,
      inner,
    });
    expect(plan.kind).toBe('train');
    if (plan.kind !== 'train') return;
    runInnerLoop(env, rl[0]!, plan.sequences, plan.cfg, 0); // warm-up: one-time caches (RoPE tables …)
    const tensors = tf.memory().numTensors;
    const r = runInnerLoop(env, rl[0]!, plan.sequences, plan.cfg, 1);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(r.diverged).toBe(false);
    expect(r.steps).toBe(Math.ceil(plan.sequences.length / 8));
    expect(r.answers).toHaveLength(1);
    expect(r.answers[0]!.golds).toEqual(rl[0]!.questions[0]!.answers);
    expect([0, 1]).toContain(r.accuracy);

    const problem: SealProblem = {
      env,
      rlContexts: rl.slice(0, 4),
      heldOut: world.splits.val.map(gridContext).slice(0, 1),
      domain: gridDomain,
    };
    const run = RunDir.create(tempDir(), 'grid-domain-run', {});
    const cfg = RestEmConfigSchema.parse({
      rounds: 1,
      contextsPerRound: 2,
      samplesPerContext: 2,
      maxNewTokens: 12,
      heldOutContexts: 1,
      inner,
      policyLora: { r: 2, alpha: 4 },
    });
    const { rounds } = await restEm(problem, cfg, run, { quiet: true });
    expect(rounds).toHaveLength(1);
    const edits = run.records().filter((e) => e['kind'] === 'selfedit');
    expect(edits).toHaveLength(4);
    // A random model writes no valid recipe: every self-edit is rejected, logged with its reason, reward 0.
    for (const e of edits) {
      expect(e['rejected']).toMatch(/^malformed recipe: /);
      expect(e['reward']).toBe(0);
      expect(e['sequences']).toBe(0);
    }
    expect(checksum(model.params)).toBe(before);
    model.dispose();
  });
});
