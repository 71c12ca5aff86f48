import { describe, expect, it } from 'vitest';
import { arcTaskToJson, parseArcTask } from '../src/tasks/grids/arc.js';
import { applyGeometry } from '../src/tasks/grids/augment.js';
import { makeRule, PRIMITIVES, WORLD_MAX_SIDE } from '../src/tasks/grids/families.js';
import {
  answerText,
  gridHeight,
  gridsEqual,
  gridWidth,
  parseAnswer,
  parseTaskText,
  solvePrompt,
  taskText,
} from '../src/tasks/grids/grid.js';
import {
  components,
  cropToContent,
  fillEnclosed,
  gravityDown,
  gravityLeft,
  gravityRight,
  gravityUp,
  scale2,
  shift,
} from '../src/tasks/grids/ops.js';
import { parseRecipe, recipeAnswerText, recipePrompt, recipeSpace } from '../src/tasks/grids/recipe.js';
import {
  ambiguity,
  followsHeldOutMap,
  GRID_SPLITS,
  GridWorldConfigSchema,
  generateGridWorld,
  HELD_OUT_FAMILIES,
  HELD_OUT_SETS,
  PRETRAIN_FAMILIES,
  TURNS_HELD_OUT_FAMILIES,
  taskHash,
  worldTasks,
} from '../src/tasks/grids/world.js';
import { Rng } from '../src/util/rng.js';

// A smaller world than the default keeps the suite quick; the default is checked for size and speed once.
const CONFIG = { seed: 3, pretrainTasks: 400, rlTasks: 32, valTasks: 16, testTasks: 32 };
const world = generateGridWorld(CONFIG);
const all = worldTasks(world);

describe('family primitives', () => {
  it('compute the documented maps', () => {
    const g = [
      [1, 0, 2],
      [0, 3, 0],
      [0, 0, 0],
    ];
    expect(gravityDown(g)).toEqual([
      [0, 0, 0],
      [0, 0, 0],
      [1, 3, 2],
    ]);
    expect(gravityLeft(g)).toEqual([
      [1, 2, 0],
      [3, 0, 0],
      [0, 0, 0],
    ]);
    expect(cropToContent(g)).toEqual([
      [1, 0, 2],
      [0, 3, 0],
    ]);
    expect(cropToContent([[0]])).toBeNull();
    expect(scale2([[1, 2]])).toEqual([
      [1, 1, 2, 2],
      [1, 1, 2, 2],
    ]);
    expect(shift(g, 'down')).toEqual([
      [0, 0, 0],
      [1, 0, 2],
      [0, 3, 0],
    ]);
    const box = [
      [0, 0, 0, 0, 0],
      [0, 4, 4, 4, 0],
      [0, 4, 0, 4, 0],
      [0, 4, 4, 4, 0],
    ];
    expect(fillEnclosed(box, 7)[2]).toEqual([0, 4, 7, 4, 0]);
    expect(fillEnclosed(box, 7)[0]).toEqual([0, 0, 0, 0, 0]);
    expect(components(box).map((c) => c.length)).toEqual([8]);
  });
  it('every family makes rules whose outputs fit the world', () => {
    const rng = new Rng(1);
    for (const family of [...PRIMITIVES, ...PRETRAIN_FAMILIES, ...HELD_OUT_FAMILIES]) {
      const rule = makeRule(family, rng, { palette: [2, 5] });
      for (let i = 0; i < 20; i++) {
        const input = rule.input(rng);
        const output = rule.apply(input);
        expect(gridHeight(input)).toBeLessThanOrEqual(WORLD_MAX_SIDE);
        if (output !== null) expect(Math.max(gridHeight(output), gridWidth(output))).toBeLessThanOrEqual(6);
      }
    }
    expect(() => makeRule('rotate+spin', rng, { palette: [1, 2] })).toThrow(
      /unknown grid family part "spin"/,
    );
  });
});

describe('gravity in four directions', () => {
  it('up and right are down and left seen in a mirror; every direction is gravity_down after its quarter turn', () => {
    const g = [
      [1, 0, 2],
      [0, 3, 0],
      [0, 0, 4],
    ];
    expect(gravityUp(g)).toEqual([
      [1, 3, 2],
      [0, 0, 4],
      [0, 0, 0],
    ]);
    expect(gravityRight(g)).toEqual([
      [0, 1, 2],
      [0, 0, 3],
      [0, 0, 4],
    ]);
    // The turns world's premise (recipe `turn`): turning a gravity_left / up / right task clockwise by 270 / 180 /
    // 90 degrees gives a gravity_down task, on any grid, square or not.
    const rng = new Rng(5);
    const turns = [
      [gravityLeft, 'rot270'],
      [gravityUp, 'rot180'],
      [gravityRight, 'rot90'],
    ] as const;
    for (let i = 0; i < 50; i++) {
      const w = 2 + rng.int(5);
      const x = Array.from({ length: 2 + rng.int(5) }, () =>
        Array.from({ length: w }, () => (rng.next() < 0.4 ? 1 + rng.int(9) : 0)),
      );
      for (const [gravity, turn] of turns)
        expect(applyGeometry(gravity(x), turn)).toEqual(gravityDown(applyGeometry(x, turn)));
    }
  });
});

describe('grid world', () => {
  it('has the configured split sizes and every family equally often', () => {
    expect(GRID_SPLITS.map((s) => world.splits[s].length)).toEqual([400, 32, 16, 32]);
    const counts = new Map<string, number>();
    for (const t of world.splits.pretrain) counts.set(t.family, (counts.get(t.family) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual([...PRETRAIN_FAMILIES].sort());
    for (const n of counts.values())
      expect(Math.abs(n - 400 / PRETRAIN_FAMILIES.length)).toBeLessThanOrEqual(1);
    for (const t of world.splits.rl) expect(HELD_OUT_FAMILIES as readonly string[]).toContain(t.family);
    expect(world.splits.pretrain[7]!.id).toBe('pretrain-0007');
  });

  it('is deterministic: the same seed gives the same tasks, another seed others', () => {
    const again = generateGridWorld(CONFIG);
    expect(worldTasks(again)).toEqual(all);
    const other = generateGridWorld({ ...CONFIG, seed: 4 });
    expect(worldTasks(other).map((t) => t.hash)).not.toEqual(all.map((t) => t.hash));
  });

  it('heldOutOnly: the same rl, val and test tasks without drawing the pretraining split', () => {
    const heldOut = generateGridWorld(CONFIG, { heldOutOnly: true });
    expect(heldOut.splits.pretrain).toEqual([]);
    for (const s of ['rl', 'val', 'test'] as const) expect(heldOut.splits[s]).toEqual(world.splits[s]);
    // Nor do they depend on the pretraining split's size.
    const more = generateGridWorld({ ...CONFIG, pretrainTasks: 800 });
    for (const s of ['rl', 'val', 'test'] as const) expect(more.splits[s]).toEqual(world.splits[s]);
  });

  it('keeps splits disjoint: no task content twice in the world', () => {
    const hashes = all.map((t) => taskHash(t));
    expect(hashes).toEqual(all.map((t) => t.hash));
    expect(new Set(hashes).size).toBe(all.length);
    const texts = new Set(all.map((t) => taskText(t)));
    expect(texts.size).toBe(all.length);
  });

  it('never uses a held-out family, composition or parameter-free held-out rule in pretraining', () => {
    const heldOut = new Set<string>(HELD_OUT_FAMILIES);
    const pretrainPairs = new Set(
      PRETRAIN_FAMILIES.filter((f) => f.includes('+')).map((f) => f.split('+').sort().join('+')),
    );
    for (const f of HELD_OUT_FAMILIES)
      if (f.includes('+')) expect(pretrainPairs.has(f.split('+').sort().join('+'))).toBe(false);
    for (const f of PRETRAIN_FAMILIES) expect(heldOut.has(f)).toBe(false);
    for (const t of world.splits.pretrain) {
      expect(heldOut.has(t.family)).toBe(false);
      for (const part of t.family.split('+'))
        expect(['transpose', 'gravity_left', 'scale2', 'fill_enclosed']).not.toContain(part);
      expect(followsHeldOutMap([...t.train, ...t.test])).toBeNull();
    }
    for (const split of ['rl', 'val', 'test'] as const)
      for (const t of world.splits[split]) expect(heldOut.has(t.family)).toBe(true);
  });

  it('the turns held-out set: its own families in rl / val / test, the same pretraining families, none of its maps in pretraining', () => {
    const turns = generateGridWorld({ ...CONFIG, heldOut: 'turns' });
    expect(HELD_OUT_SETS.turns).toBe(TURNS_HELD_OUT_FAMILIES);
    for (const split of ['rl', 'val', 'test'] as const) {
      const families = new Set(turns.splits[split].map((t) => t.family));
      expect([...families].sort()).toEqual([...TURNS_HELD_OUT_FAMILIES].sort());
    }
    for (const t of turns.splits.pretrain) {
      expect(PRETRAIN_FAMILIES as readonly string[]).toContain(t.family);
      expect(followsHeldOutMap([...t.train, ...t.test], 'turns')).toBeNull();
    }
    // A world file without the field is the original world (the bundled model's).
    expect(GridWorldConfigSchema.parse({}).heldOut).toBe('original');
    expect(() => GridWorldConfigSchema.parse({ heldOut: 'sideways' })).toThrow(/heldOut/);
  });

  it('generates unambiguous-ish tasks with 2–4 demonstrations and one test pair', () => {
    for (const t of all) {
      expect(t.train.length).toBeGreaterThanOrEqual(2);
      expect(t.train.length).toBeLessThanOrEqual(4);
      expect(t.test).toHaveLength(1);
      expect(ambiguity([...t.train, ...t.test])).toBeNull();
      expect(t.train.every((p) => !gridsEqual(p.input, p.output))).toBe(true);
    }
    // The checks do reject what they should.
    const pair = (g: number[][]) => ({ input: g, output: applyGeometry(g, 'flipH') });
    expect(ambiguity([pair([[1, 2]]), { input: [[3, 3]], output: [[3, 3]] }])).toBe(
      'a pair leaves its grid unchanged',
    );
    expect(ambiguity([pair([[1, 2]]), pair([[1, 2]])])).toBe('two pairs share an input');
    expect(ambiguity([pair([[1, 2]]), pair([[1, 3]])])).toBe('the test input has an unseen colour');
    // [[1,2]] → [[2,1]] fits flipH and rot180; on a 2-row test they disagree.
    const test = {
      input: [
        [1, 2],
        [2, 2],
      ],
      output: applyGeometry(
        [
          [1, 2],
          [2, 2],
        ],
        'flipH',
      ),
    };
    expect(ambiguity([pair([[1, 2]]), test])).toBe('the demonstrations also fit rot180');
  });

  it('every task validates as an ARC task and round-trips through the text serialisation', () => {
    for (const t of all) {
      const back = parseArcTask(JSON.stringify(arcTaskToJson(t)), `${t.id}.json`);
      expect(back).toEqual({ id: t.id, train: t.train, test: t.test });
      const text = taskText(t);
      expect(text).toBe(solvePrompt(t) + answerText(t.test[0].output));
      const parsed = parseTaskText(text);
      expect(parsed.ok && parsed.pairs).toEqual([...t.train, ...t.test]);
      const answer = parseAnswer(answerText(t.test[0].output));
      expect(answer.ok && answer.grid).toEqual(t.test[0].output);
    }
  });

  it('fits a 512-token context with a character-level tokenizer, solve and recipe prompts alike', () => {
    const longestRecipe = Math.max(...recipeSpace().map((r) => recipeAnswerText(r).length));
    for (const t of all) {
      expect(taskText(t).length).toBeLessThanOrEqual(460);
      expect(recipePrompt(t).length + longestRecipe).toBeLessThan(512);
    }
    expect(parseRecipe(recipeAnswerText(recipeSpace()[0]!)).ok).toBe(true);
  });

  it('validates its config', () => {
    expect(() => GridWorldConfigSchema.parse({ minDemos: 4, maxDemos: 3 })).toThrow(/at least minDemos/);
    expect(() => GridWorldConfigSchema.parse({ rlTask: 3 })).toThrow();
    expect(GridWorldConfigSchema.parse({})).toMatchObject({ pretrainTasks: 2000, rlTasks: 64, valTasks: 32 });
  });

  it('builds the default world (2,000 + 64 + 32 + 64 tasks)', () => {
    const big = generateGridWorld();
    expect(worldTasks(big)).toHaveLength(2160);
    expect(new Set(worldTasks(big).map((t) => t.hash)).size).toBe(2160);
  });
});
