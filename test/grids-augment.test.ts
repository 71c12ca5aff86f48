import { describe, expect, it } from 'vitest';
import {
  applyGeometry,
  applyTransform,
  augmentTask,
  compose,
  composeGeometry,
  GEOMETRIES,
  type GridTransform,
  IDENTITY,
  IDENTITY_COLOURS,
  inverse,
  invertPrediction,
  isIdentity,
  leaveOneOut,
  randomColours,
  transformName,
  vote,
} from '../src/tasks/grids/augment.js';
import { type Grid, type GridTask, gridsEqual, makeGrid } from '../src/tasks/grids/grid.js';
import { Rng } from '../src/util/rng.js';

function randomGrid(rng: Rng): number[][] {
  const h = 1 + rng.int(7);
  const w = 1 + rng.int(7);
  return Array.from({ length: h }, () => Array.from({ length: w }, () => rng.int(10)));
}

function randomTransform(rng: Rng): GridTransform {
  return { geometry: rng.pick(GEOMETRIES), colours: randomColours(rng, rng.next() < 0.5) };
}

const G: Grid = [
  [1, 2, 3],
  [4, 5, 6],
];

describe('geometry', () => {
  it('follows the documented conventions on a 2×3 grid', () => {
    expect(applyGeometry(G, 'rot90')).toEqual([
      [4, 1],
      [5, 2],
      [6, 3],
    ]);
    expect(applyGeometry(G, 'rot180')).toEqual([
      [6, 5, 4],
      [3, 2, 1],
    ]);
    expect(applyGeometry(G, 'rot270')).toEqual([
      [3, 6],
      [2, 5],
      [1, 4],
    ]);
    expect(applyGeometry(G, 'flipH')).toEqual([
      [3, 2, 1],
      [6, 5, 4],
    ]);
    expect(applyGeometry(G, 'flipV')).toEqual([
      [4, 5, 6],
      [1, 2, 3],
    ]);
    expect(applyGeometry(G, 'transpose')).toEqual([
      [1, 4],
      [2, 5],
      [3, 6],
    ]);
    expect(applyGeometry(G, 'antiTranspose')).toEqual([
      [6, 3],
      [5, 2],
      [4, 1],
    ]);
    expect(applyGeometry(G, 'identity')).toEqual(G);
  });
  it('composes as a group: rot90 four times is the identity, rot90 then flipH is the transpose', () => {
    expect(composeGeometry('rot90', 'rot90')).toBe('rot180');
    expect(composeGeometry('rot90', 'rot270')).toBe('identity');
    expect(composeGeometry('rot90', 'flipH')).toBe('transpose');
    expect(composeGeometry('transpose', 'rot180')).toBe('antiTranspose');
  });
});

describe('transforms', () => {
  it('every transform composed with its inverse is the identity, on random grids incl. non-square', () => {
    const rng = new Rng(7);
    for (let i = 0; i < 300; i++) {
      const t = randomTransform(rng);
      const g = randomGrid(rng);
      expect(applyTransform(applyTransform(g, t), inverse(t))).toEqual(g);
      expect(invertPrediction(applyTransform(g, t), t)).toEqual(g);
      expect(isIdentity(compose(t, inverse(t)))).toBe(true);
      expect(isIdentity(compose(inverse(t), t))).toBe(true);
    }
  });
  it('composition is applying one transform after the other', () => {
    const rng = new Rng(8);
    for (let i = 0; i < 200; i++) {
      const a = randomTransform(rng);
      const b = randomTransform(rng);
      const g = randomGrid(rng);
      expect(applyTransform(g, compose(a, b))).toEqual(applyTransform(applyTransform(g, a), b));
    }
  });
  it('random colour permutations keep 0 by default and are seeded', () => {
    const a = randomColours(new Rng(3));
    expect(a[0]).toBe(0);
    expect([...a].sort()).toEqual(IDENTITY_COLOURS);
    expect(randomColours(new Rng(3))).toEqual(a);
    const all = randomColours(new Rng(4), false);
    expect([...all].sort()).toEqual(IDENTITY_COLOURS);
  });
  it('names transforms for ids', () => {
    expect(transformName(IDENTITY)).toBe('identity');
    expect(transformName({ geometry: 'rot90', colours: [0, 2, 1, 3, 4, 5, 6, 7, 8, 9] })).toBe(
      'rot90_c0213456789',
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// A rule-based "model": it finds a symmetry of the square and a colour map consistent with every demonstration
// and applies them to the test input. It is equivariant by construction, so augmenting, predicting and inverting
// must give the prediction on the original task.

function ruleModel(task: GridTask): number[][] | null {
  for (const g of GEOMETRIES) {
    const map = new Map<number, number>();
    const consistent = task.train.every((p) => {
      const moved = applyGeometry(p.input, g);
      if (moved.length !== p.output.length || moved[0]!.length !== p.output[0]!.length) return false;
      return moved.every((row, r) =>
        row.every((v, c) => {
          const want = p.output[r]![c]!;
          if (map.has(v) && map.get(v) !== want) return false;
          map.set(v, want);
          return true;
        }),
      );
    });
    if (!consistent) continue;
    const moved = applyGeometry(task.test[0]!.input, g);
    if (moved.some((row) => row.some((v) => !map.has(v)))) return null;
    return moved.map((row) => row.map((v) => map.get(v)!));
  }
  return null;
}

function ruleTask(rng: Rng, geometry: (typeof GEOMETRIES)[number], colours: readonly number[]): GridTask {
  const pairs = Array.from({ length: 4 }, () => {
    const h = 2 + rng.int(4);
    const w = 2 + rng.int(4);
    const input = Array.from({ length: h }, () => Array.from({ length: w }, () => rng.int(4)));
    return { input, output: applyTransform(input, { geometry, colours }) };
  });
  return { id: 'rule', train: pairs.slice(0, 3), test: pairs.slice(3) };
}

describe('augmented prediction', () => {
  it('an equivariant rule-solver predicts the same grid on augmented copies, once inverted', () => {
    const rng = new Rng(11);
    let solved = 0;
    for (let i = 0; i < 60; i++) {
      const task = ruleTask(rng, rng.pick(GEOMETRIES), randomColours(rng));
      const original = ruleModel(task);
      if (original === null) continue;
      solved++;
      expect(original).toEqual(task.test[0]!.output);
      for (let j = 0; j < 4; j++) {
        const t = randomTransform(rng);
        const aug = augmentTask(task, t);
        expect(aug.train[0]!.input).toEqual(applyTransform(task.train[0]!.input, t));
        expect(aug.test[0]!.output).toEqual(applyTransform(task.test[0]!.output!, t));
        const pred = ruleModel(aug);
        expect(pred).not.toBeNull();
        expect(invertPrediction(pred!, t)).toEqual(original);
      }
    }
    expect(solved).toBeGreaterThan(40);
  });

  it('augmentTask leaves the original untouched and marks the id', () => {
    const task: GridTask = { id: 'x', train: [{ input: G, output: G }], test: [{ input: G }] };
    const t: GridTransform = { geometry: 'rot90', colours: IDENTITY_COLOURS };
    const aug = augmentTask(task, t);
    expect(aug.id).toBe('x~rot90');
    expect(aug.test[0]).toEqual({ input: applyGeometry(G, 'rot90') });
    expect(task.train[0]!.input).toBe(G);
    expect(augmentTask(task, IDENTITY).id).toBe('x');
  });
});

describe('leave-one-out', () => {
  it('makes each demonstration the test of a task built from the others', () => {
    const pair = (v: number) => ({ input: [[v]], output: [[v + 1]] });
    const task: GridTask = { id: 't', train: [pair(1), pair(2), pair(3)], test: [{ input: [[9]] }] };
    const loo = leaveOneOut(task);
    expect(loo.map((t) => t.id)).toEqual(['t/loo0', 't/loo1', 't/loo2']);
    expect(loo[1]!.train).toEqual([pair(1), pair(3)]);
    expect(loo[1]!.test).toEqual([pair(2)]);
    expect(leaveOneOut({ ...task, train: [pair(1)] })).toEqual([]);
  });
});

describe('voting', () => {
  const answer = makeGrid(2, 3, 4);
  answer[0]![0] = 1;
  const other = makeGrid(2, 3, 7);
  const rot: GridTransform = { geometry: 'rot90', colours: IDENTITY_COLOURS };
  const flip: GridTransform = { geometry: 'flipV', colours: [0, 2, 1, 3, 4, 5, 6, 7, 8, 9] };

  it('inverts each prediction and takes the majority', () => {
    const result = vote([
      { grid: other, transform: IDENTITY },
      { grid: applyTransform(answer, rot), transform: rot },
      { grid: null, transform: rot },
      { grid: applyTransform(answer, flip), transform: flip },
    ]);
    expect(result?.grid).toEqual(answer);
    expect(result?.votes).toBe(2);
    expect(result?.total).toBe(3);
    expect(result?.candidates.map((c) => c.votes)).toEqual([2, 1]);
  });
  it('breaks ties by the earliest prediction, deterministically', () => {
    const a = vote([
      { grid: other, transform: IDENTITY },
      { grid: applyTransform(answer, rot), transform: rot },
    ]);
    expect(gridsEqual(a!.grid, other)).toBe(true);
    const b = vote([
      { grid: applyTransform(answer, rot), transform: rot },
      { grid: other, transform: IDENTITY },
    ]);
    expect(gridsEqual(b!.grid, answer)).toBe(true);
  });
  it('returns null when no prediction parsed', () => {
    expect(vote([])).toBeNull();
    expect(vote([{ grid: null, transform: IDENTITY }])).toBeNull();
  });
});
