import { describe, expect, it } from 'vitest';
import { applyTransform, inverse, isIdentity } from '../src/tasks/grids/augment.js';
import { demonstrationsText, type GridTask, parseTaskText } from '../src/tasks/grids/grid.js';
import {
  AUGMENT_FAMILIES,
  COPIES,
  drawTransforms,
  EPOCHS,
  expandRecipe,
  formatRecipe,
  LEARNING_RATES,
  LOSSES,
  namedRecipeSpace,
  parseRecipe,
  RECIPE_ALPHABET,
  type Recipe,
  RecipeSchema,
  recipeAnswerText,
  recipePrompt,
  recipeSpace,
  recipeSubset,
  sequenceText,
  TURNS,
  turnedTask,
  turnTransform,
} from '../src/tasks/grids/recipe.js';
import { Rng } from '../src/util/rng.js';

const EXAMPLE =
  'augment: rot,flip,colour\ncopies: 4\nleave_one_out: yes\nlr: 1e-3\nepochs: 8\nloss: outputs\n';
const RECIPE: Recipe = {
  augment: ['rot', 'flip', 'colour'],
  copies: 4,
  leaveOneOut: true,
  lr: 1e-3,
  epochs: 8,
  loss: 'outputs',
};

const TASK: GridTask = {
  id: 'task',
  train: [
    {
      input: [
        [1, 0],
        [0, 0],
      ],
      output: [
        [0, 1],
        [0, 0],
      ],
    },
    {
      input: [
        [2, 2, 0],
        [0, 0, 0],
      ],
      output: [
        [0, 2, 2],
        [0, 0, 0],
      ],
    },
    { input: [[3, 0, 0]], output: [[0, 0, 3]] },
  ],
  test: [{ input: [[9, 9, 0]], output: [[0, 9, 9]] }],
};

describe('recipe text', () => {
  it('parses the documented example and formats it back byte for byte', () => {
    expect(parseRecipe(EXAMPLE)).toEqual({ ok: true, recipe: RECIPE });
    expect(formatRecipe(RECIPE)).toBe(EXAMPLE);
    expect(recipeAnswerText(RECIPE)).toBe(`${EXAMPLE}\n`);
  });
  it('round-trips every recipe the grammar allows', () => {
    const subsets = [
      [],
      ['rot'],
      ['flip'],
      ['colour'],
      ['rot', 'flip'],
      ['rot', 'colour'],
      ['flip', 'colour'],
    ];
    let n = 0;
    const chars = new Set<string>();
    for (const augment of [...subsets, [...AUGMENT_FAMILIES]])
      for (const copies of COPIES)
        for (const leaveOneOut of [true, false])
          for (const lr of LEARNING_RATES)
            for (const epochs of EPOCHS)
              for (const loss of LOSSES)
                for (const turn of [undefined, ...TURNS]) {
                  const recipe = RecipeSchema.parse({
                    augment,
                    copies,
                    leaveOneOut,
                    lr,
                    epochs,
                    loss,
                    ...(turn === undefined ? {} : { turn }),
                  });
                  expect(parseRecipe(formatRecipe(recipe))).toEqual({ ok: true, recipe });
                  for (const ch of formatRecipe(recipe)) chars.add(ch);
                  n++;
                }
    expect(n).toBe(3200 * 5);
    for (const ch of chars) expect(RECIPE_ALPHABET).toContain(ch);
  });
  it('is lenient about order, case, spacing, number spelling, and what follows the empty line', () => {
    const text =
      '\n  LOSS :outputs\nepochs: 8\nlr: 0.001\nLeave_One_Out: Yes\ncopies: 4\naugment: colour, rot ,flip\n\nin\n12\n';
    expect(parseRecipe(text)).toEqual({ ok: true, recipe: RECIPE });
    expect(parseRecipe(EXAMPLE.replace('rot,flip,colour', 'none'))).toMatchObject({
      ok: true,
      recipe: { augment: [] },
    });
  });
  it('names the bad line and never throws on model text', () => {
    const bad = (from: string, to: string) => parseRecipe(EXAMPLE.replace(from, to));
    expect(bad('lr: 1e-3', 'lr: 5e-3')).toEqual({
      ok: false,
      reason: 'line 4 "lr: 5e-3": lr must be one of 1e-4, 3e-4, 1e-3, 3e-3, 1e-2',
    });
    expect(bad('copies: 4', 'copies: 3')).toEqual({
      ok: false,
      reason: 'line 2 "copies: 3": copies must be one of 1, 2, 4, 8',
    });
    expect(bad('epochs: 8', 'epochs: eight')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('line 5'),
    });
    expect(bad('rot,flip,colour', 'rot,spin')).toEqual({
      ok: false,
      reason: 'line 1 "augment: rot,spin": augment must be "none" or a list of rot, flip, colour',
    });
    expect(bad('rot,flip,colour', 'rot,rot')).toMatchObject({ reason: expect.stringContaining('twice') });
    expect(bad('leave_one_out: yes', 'leave_one_out: maybe')).toMatchObject({
      reason: 'line 3 "leave_one_out: maybe": leave_one_out must be yes or no',
    });
    expect(bad('loss: outputs', 'loss: inputs')).toMatchObject({ reason: expect.stringContaining('line 6') });
    expect(bad('loss: outputs', 'loss outputs')).toMatchObject({
      reason: expect.stringContaining('"key: value"'),
    });
    expect(bad('loss: outputs', 'temperature: 1')).toMatchObject({
      reason: expect.stringContaining('unknown key'),
    });
    expect(bad('loss: outputs', 'lr: 1e-3')).toMatchObject({ reason: 'line 6 "lr: 1e-3": "lr" given twice' });
    expect(bad('\nloss: outputs', '')).toEqual({ ok: false, reason: 'missing loss' });
    expect(parseRecipe('')).toEqual({ ok: false, reason: 'empty recipe' });
    expect(parseRecipe('augment: rot\n\ncopies: 4')).toEqual({
      ok: false,
      reason: 'missing copies, leave_one_out, lr, epochs, loss',
    });
    for (const junk of [
      '}}}',
      'lr: 1e999',
      'lr: NaN',
      'copies: -4',
      'copies: 4.0000001',
      '\u0000:\u0000',
      ':',
    ])
      expect(parseRecipe(junk).ok).toBe(false);
    expect(parseRecipe(null as unknown as string)).toEqual({ ok: false, reason: 'not text' });
  });
});

describe('the turn line', () => {
  it('is optional, written first, parsed in any place; a bad or repeated turn names its line', () => {
    const turned: Recipe = { ...RECIPE, turn: 90 };
    expect(formatRecipe(turned)).toBe(`turn: 90\n${EXAMPLE}`);
    expect(parseRecipe(formatRecipe(turned))).toEqual({ ok: true, recipe: turned });
    expect(parseRecipe(`${EXAMPLE}turn: 270\n`)).toEqual({ ok: true, recipe: { ...RECIPE, turn: 270 } });
    expect(parseRecipe(EXAMPLE)).toEqual({ ok: true, recipe: RECIPE });
    expect(parseRecipe(`turn: 0\n${EXAMPLE}`)).toEqual({ ok: true, recipe: { ...RECIPE, turn: 0 } });
    expect(parseRecipe(`turn: 45\n${EXAMPLE}`)).toEqual({
      ok: false,
      reason: 'line 1 "turn: 45": turn must be one of 0, 90, 180, 270',
    });
    expect(parseRecipe(`turn: 90\nturn: 90\n${EXAMPLE}`)).toMatchObject({
      reason: expect.stringContaining('twice'),
    });
    expect(parseRecipe('turn: 90\n')).toEqual({
      ok: false,
      reason: 'missing augment, copies, leave_one_out, lr, epochs, loss',
    });
  });

  it('turns every grid of the task clockwise (test output too), keeps the id; turn 0 or none is the task itself', () => {
    expect(turnedTask(TASK, {})).toBe(TASK);
    expect(turnedTask(TASK, { turn: 0 })).toBe(TASK);
    for (const turn of [90, 180, 270] as const) {
      const t = turnedTask(TASK, { turn });
      const tr = turnTransform({ turn });
      expect(t.id).toBe('task');
      expect(t.train.map((p) => p.output)).toEqual(TASK.train.map((p) => applyTransform(p.output, tr)));
      expect(t.test[0]!.output).toEqual(applyTransform(TASK.test[0]!.output!, tr));
      expect(applyTransform(t.test[0]!.input, inverse(tr))).toEqual(TASK.test[0]!.input);
    }
    expect(turnedTask(TASK, { turn: 90 }).train[2]!.input).toEqual([[3], [0], [0]]);
  });

  it('a turned recipe trains on the turned demonstrations: the same data as the turned task without a turn', () => {
    for (const turn of TURNS) {
      const a = expandRecipe(TASK, { ...RECIPE, turn }, new Rng(4));
      const b = expandRecipe(turnedTask(TASK, { turn }), RECIPE, new Rng(4));
      expect(a.sequences.map(sequenceText)).toEqual(b.sequences.map(sequenceText));
      expect(a.sequences.map((q) => q.id)).toEqual(b.sequences.map((q) => q.id));
    }
    expect(sequenceText(expandRecipe(TASK, { ...RECIPE, turn: 90 }, new Rng(4)).sequences[0]!)).not.toBe(
      sequenceText(expandRecipe(TASK, RECIPE, new Rng(4)).sequences[0]!),
    );
  });

  it('the turns space: 64 recipes, 16 under each turn, every one written with its turn line', () => {
    const space = namedRecipeSpace('turns');
    expect(space).toHaveLength(64);
    expect(new Set(space.map(formatRecipe)).size).toBe(64);
    for (const turn of TURNS) expect(space.filter((r) => r.turn === turn)).toHaveLength(16);
    for (const r of space) {
      expect(formatRecipe(r).startsWith(`turn: ${r.turn}\n`)).toBe(true);
      expect(parseRecipe(formatRecipe(r))).toEqual({ ok: true, recipe: r });
    }
    expect(namedRecipeSpace('default').every((r) => r.turn === undefined)).toBe(true);
    // The turn line needs no new character: models of the other spaces share the tokenizer.
    for (const r of space) for (const ch of formatRecipe(r)) expect(RECIPE_ALPHABET).toContain(ch);
  });
});

describe('recipe prompt', () => {
  it('is the demonstrations then the recipe line, without the test input', () => {
    expect(recipePrompt(TASK)).toBe(`${demonstrationsText(TASK.train)}recipe\n`);
    expect(recipePrompt(TASK)).not.toContain('99');
  });
});

describe('recipe space', () => {
  it('has 64 distinct valid recipes by default', () => {
    const space = recipeSpace();
    expect(space).toHaveLength(64);
    expect(new Set(space.map(formatRecipe)).size).toBe(64);
    for (const r of space) expect(parseRecipe(formatRecipe(r))).toEqual({ ok: true, recipe: r });
    expect(space.filter((r) => r.augment.length === 0).every((r) => r.copies === 1)).toBe(true);
  });
  it('a subset of N spans the space (every augmentation, both rates and epoch counts at 8); all of it at 64', () => {
    expect(recipeSubset(64)).toEqual(recipeSpace());
    const eight = recipeSubset(8);
    expect(eight).toHaveLength(8);
    expect(new Set(eight.map(formatRecipe)).size).toBe(8);
    expect(new Set(eight.map((r) => r.augment.join(','))).size).toBe(4);
    expect(new Set(eight.map((r) => r.lr)).size).toBe(2);
    expect(new Set(eight.map((r) => r.epochs)).size).toBe(2);
    expect(recipeSubset(8)).toEqual(eight);
    expect(recipeSubset(2)).toEqual(eight.slice(0, 2));
  });
  it('enumerates a custom grid and collapses copies under augment none', () => {
    const space = recipeSpace({
      augment: [[], ['colour']],
      copies: [2, 8],
      leaveOneOut: [true],
      lr: [1e-3],
      epochs: [4],
      loss: ['all'],
    });
    expect(space.map((r) => `${r.augment.join()}x${r.copies}`)).toEqual(['x1', 'colourx2', 'colourx8']);
  });
});

describe('expanding a recipe into training data', () => {
  it('makes copies × leave-one-out sequences, the identity copy first, in the grid serialisation', () => {
    const { tasks, sequences, dropped } = expandRecipe(TASK, RECIPE, new Rng(1));
    expect(dropped).toBe(0);
    expect(sequences).toHaveLength(3 * 4);
    expect(tasks).toHaveLength(12);
    expect(sequences[0]!.id).toBe('task/loo0');
    expect(isIdentity(sequences[0]!.transform)).toBe(true);
    expect(sequences.filter((s) => isIdentity(s.transform))).toHaveLength(3);
    for (const [i, seq] of sequences.entries()) {
      const text = sequenceText(seq);
      expect(text).toBe(
        demonstrationsText([...tasks[i]!.train, ...tasks[i]!.test.map((t) => ({ ...t, output: t.output! }))]),
      );
      const parsed = parseTaskText(text);
      expect(parsed.ok).toBe(true);
      if (!parsed.ok) continue;
      // Undoing the copy's transform gives back original demonstrations (two context, one query), never the test.
      const back = parsed.pairs.map((p) => applyTransform(p.input, inverse(seq.transform)));
      expect(back).toHaveLength(3);
      for (const g of back)
        expect(TASK.train.some((d) => JSON.stringify(d.input) === JSON.stringify(g))).toBe(true);
      // loss on outputs: exactly the output grids (and their end lines) are trained.
      const trained = seq.segments.filter((s) => s.train).map((s) => s.text);
      expect(trained).toEqual(parsed.pairs.map((p) => `${p.output.map((r) => r.join('')).join('\n')}\n\n`));
    }
  });
  it('without leave-one-out: one sequence of all demonstrations per copy; loss all trains on everything', () => {
    const recipe: Recipe = { ...RECIPE, leaveOneOut: false, augment: [], copies: 2, loss: 'all' };
    const { sequences } = expandRecipe(TASK, recipe, new Rng(1));
    expect(sequences).toHaveLength(2);
    expect(sequences[0]!.segments).toEqual([{ text: demonstrationsText(TASK.train), train: true }]);
    expect(sequenceText(sequences[1]!)).toBe(demonstrationsText(TASK.train));
  });
  it('is deterministic given the rng and differs across seeds', () => {
    const a = expandRecipe(TASK, RECIPE, new Rng(5)).sequences.map(sequenceText);
    expect(expandRecipe(TASK, RECIPE, new Rng(5)).sequences.map(sequenceText)).toEqual(a);
    expect(expandRecipe(TASK, RECIPE, new Rng(6)).sequences.map(sequenceText)).not.toEqual(a);
  });
  it('draws distinct geometric copies of the chosen families', () => {
    const rot = drawTransforms(['rot'], 4, new Rng(1)).map((t) => t.geometry);
    expect([...rot].sort()).toEqual(['identity', 'rot180', 'rot270', 'rot90']);
    const flip = drawTransforms(['flip'], 8, new Rng(1)).map((t) => t.geometry);
    expect(new Set(flip.slice(0, 5)).size).toBe(5);
    expect(drawTransforms(['colour'], 4, new Rng(1)).every((t, i) => (i === 0) === isIdentity(t))).toBe(true);
    expect(drawTransforms(['colour'], 4, new Rng(1)).every((t) => t.geometry === 'identity')).toBe(true);
  });
  it('drops demonstrations from the front to fit maxChars, and whole sequences that cannot fit', () => {
    const full = expandRecipe(TASK, { ...RECIPE, leaveOneOut: false, copies: 1 }, new Rng(1));
    const len = sequenceText(full.sequences[0]!).length;
    const cut = expandRecipe(TASK, { ...RECIPE, leaveOneOut: false, copies: 1 }, new Rng(1), {
      maxChars: len - 1,
    });
    expect(cut.tasks[0]!.train).toHaveLength(1);
    expect(sequenceText(cut.sequences[0]!).length).toBeLessThan(len);
    const none = expandRecipe(TASK, { ...RECIPE, leaveOneOut: false, copies: 1 }, new Rng(1), {
      maxChars: 5,
    });
    expect(none.sequences).toHaveLength(0);
    expect(none.dropped).toBe(1);
  });
});
