/**
 * The invertible grid transforms of ARC test-time training (Akyürek et al. 2024, "The Surprising Effectiveness of
 * Test-Time Training for Abstract Reasoning"): the eight symmetries of the square and colour permutations, applied
 * consistently to every grid of a task; leave-one-out tasks built from the demonstrations; and voting over the
 * (inverted) predictions made on several augmented copies of a task.
 *
 * Geometry (the dihedral group D4), on a grid with h rows and w columns:
 * - `identity`;
 * - `rot90`, `rot180`, `rot270`: clockwise rotations (rot90 turns the top row into the right column);
 * - `flipH`: mirror left ↔ right (each row reversed); `flipV`: mirror top ↔ bottom (row order reversed);
 * - `transpose`: mirror in the main diagonal (cell [r][c] → [c][r]); `antiTranspose`: mirror in the other diagonal.
 *
 * Colours: a permutation of 0–9, written as the list of images (`colours[c]` is the new colour of c). By default
 * random permutations keep the background 0 fixed and permute 1–9 (ARC tasks treat black as the background: a
 * rule such as "fill the empty cells" survives a permutation of the other colours but not one that moves 0).
 *
 * A `GridTransform` is a geometry and a colour permutation; they commute, so a transform is "move the cells, then
 * recolour" and `compose(a, b)` (a, then b) and `inverse(t)` are exact.
 */
import type { Rng } from '../../util/rng.js';
import { type Grid, type GridPair, type GridTask, gridToText, type TestPair } from './grid.js';

export const GEOMETRIES = [
  'identity',
  'rot90',
  'rot180',
  'rot270',
  'flipH',
  'flipV',
  'transpose',
  'antiTranspose',
] as const;
export type Geometry = (typeof GEOMETRIES)[number];

/** The rotations other than the identity (recipe family `rot`). */
export const ROTATIONS: readonly Geometry[] = ['rot90', 'rot180', 'rot270'];
/** The four reflections (recipe family `flip`). */
export const REFLECTIONS: readonly Geometry[] = ['flipH', 'flipV', 'transpose', 'antiTranspose'];

export const IDENTITY_COLOURS: readonly number[] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];

export interface GridTransform {
  readonly geometry: Geometry;
  /** A permutation of 0–9: `colours[c]` is what colour c becomes. */
  readonly colours: readonly number[];
}

export const IDENTITY: GridTransform = { geometry: 'identity', colours: IDENTITY_COLOURS };

/** Moves the cells of `grid` by one symmetry of the square (a new grid; the input is not changed). */
export function applyGeometry(grid: Grid, geometry: Geometry): number[][] {
  const h = grid.length;
  const w = grid[0]?.length ?? 0;
  const at = (r: number, c: number) => grid[r]![c]!;
  const build = (rows: number, cols: number, f: (r: number, c: number) => number) =>
    Array.from({ length: rows }, (_, r) => Array.from({ length: cols }, (_, c) => f(r, c)));
  switch (geometry) {
    case 'identity':
      return build(h, w, at);
    case 'rot90':
      return build(w, h, (r, c) => at(h - 1 - c, r));
    case 'rot180':
      return build(h, w, (r, c) => at(h - 1 - r, w - 1 - c));
    case 'rot270':
      return build(w, h, (r, c) => at(c, w - 1 - r));
    case 'flipH':
      return build(h, w, (r, c) => at(r, w - 1 - c));
    case 'flipV':
      return build(h, w, (r, c) => at(h - 1 - r, c));
    case 'transpose':
      return build(w, h, (r, c) => at(c, r));
    case 'antiTranspose':
      return build(w, h, (r, c) => at(h - 1 - c, w - 1 - r));
  }
}

export function applyColours(grid: Grid, colours: readonly number[]): number[][] {
  return grid.map((row) => row.map((c) => colours[c] ?? c));
}

export function applyTransform(grid: Grid, t: GridTransform): number[][] {
  return applyColours(applyGeometry(grid, t.geometry), t.colours);
}

// The group tables, computed once by acting on a grid whose cells are all distinct (2×3, so it is not square and
// every symmetry gives a different result).
const PROBE: Grid = [
  [0, 1, 2],
  [3, 4, 5],
];
const PROBE_KEYS = new Map(GEOMETRIES.map((g) => [gridToText(applyGeometry(PROBE, g)), g]));
const COMPOSE = new Map<string, Geometry>();
for (const a of GEOMETRIES) {
  for (const b of GEOMETRIES) {
    COMPOSE.set(`${a},${b}`, PROBE_KEYS.get(gridToText(applyGeometry(applyGeometry(PROBE, a), b)))!);
  }
}

/** The geometry "a, then b". */
export function composeGeometry(a: Geometry, b: Geometry): Geometry {
  return COMPOSE.get(`${a},${b}`)!;
}

export function inverseGeometry(g: Geometry): Geometry {
  return GEOMETRIES.find((h) => composeGeometry(g, h) === 'identity')!;
}

/** The transform "a, then b". */
export function compose(a: GridTransform, b: GridTransform): GridTransform {
  return {
    geometry: composeGeometry(a.geometry, b.geometry),
    colours: a.colours.map((c) => b.colours[c] ?? c),
  };
}

export function inverse(t: GridTransform): GridTransform {
  const colours = new Array<number>(t.colours.length);
  t.colours.forEach((to, from) => {
    colours[to] = from;
  });
  return { geometry: inverseGeometry(t.geometry), colours };
}

/** Maps a prediction made on the transformed task back to the original task's frame. */
export function invertPrediction(prediction: Grid, t: GridTransform): number[][] {
  return applyTransform(prediction, inverse(t));
}

export function isIdentity(t: GridTransform): boolean {
  return t.geometry === 'identity' && t.colours.every((c, i) => c === i);
}

/** A random colour permutation; with `keepBackground` (the default) 0 stays 0 and 1–9 are shuffled. */
export function randomColours(rng: Rng, keepBackground = true): number[] {
  const free = keepBackground ? [1, 2, 3, 4, 5, 6, 7, 8, 9] : [...IDENTITY_COLOURS];
  rng.shuffle(free);
  return keepBackground ? [0, ...free] : free;
}

/** `rot90` or `rot90_c0893215746` (the images of colours 0–9), for logs and ids. */
export function transformName(t: GridTransform): string {
  return t.colours.every((c, i) => c === i) ? t.geometry : `${t.geometry}_c${t.colours.join('')}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Tasks

function transformPair(p: GridPair, t: GridTransform): GridPair {
  return { input: applyTransform(p.input, t), output: applyTransform(p.output, t) };
}

function transformTest(p: TestPair, t: GridTransform): TestPair {
  const input = applyTransform(p.input, t);
  return p.output === undefined ? { input } : { input, output: applyTransform(p.output, t) };
}

/** The task with `t` applied to every input and output (test outputs too, where known); id `<id>~<transform>`. */
export function augmentTask(task: GridTask, t: GridTransform): GridTask {
  return {
    id: isIdentity(t) ? task.id : `${task.id}~${transformName(t)}`,
    train: task.train.map((p) => transformPair(p, t)),
    test: task.test.map((p) => transformTest(p, t)),
  };
}

/**
 * Leave-one-out tasks: for each demonstration i, a task whose demonstrations are the others (in order) and whose
 * one test pair is demonstration i; id `<id>/loo<i>`. A task with fewer than two demonstrations has none.
 */
export function leaveOneOut(task: GridTask): GridTask[] {
  if (task.train.length < 2) return [];
  return task.train.map((held, i) => ({
    id: `${task.id}/loo${i}`,
    train: task.train.filter((_, j) => j !== i),
    test: [{ input: held.input, output: held.output }],
  }));
}

// ---------------------------------------------------------------------------------------------------------------
// Voting

export interface AugmentedPrediction {
  /** The grid predicted for the transformed task, or null when the model's answer did not parse. */
  readonly grid: Grid | null;
  /** The transform the task was augmented with (the prediction is in its frame). */
  readonly transform: GridTransform;
}

export interface VoteResult {
  /** The winning grid, in the original task's frame. */
  readonly grid: number[][];
  readonly votes: number;
  /** Valid (non-null) predictions counted. */
  readonly total: number;
  /** Every distinct inverted grid with its votes, best first (same order as the tie-break). */
  readonly candidates: readonly { readonly grid: number[][]; readonly votes: number }[];
}

/**
 * Inverts each prediction into the original frame and takes the majority by exact grid. Ties go to the grid first
 * predicted (list the identity copy first to make it the tie-breaker), so the result depends only on the inputs'
 * order. Null predictions are skipped; null when no prediction is valid.
 */
export function vote(predictions: readonly AugmentedPrediction[]): VoteResult | null {
  const tally = new Map<string, { grid: number[][]; votes: number; first: number }>();
  let total = 0;
  predictions.forEach((p, i) => {
    if (p.grid === null) return;
    total++;
    const grid = invertPrediction(p.grid, p.transform);
    const key = gridToText(grid);
    const entry = tally.get(key);
    if (entry === undefined) tally.set(key, { grid, votes: 1, first: i });
    else entry.votes++;
  });
  const ranked = [...tally.values()].sort((a, b) => b.votes - a.votes || a.first - b.first);
  const best = ranked[0];
  if (best === undefined) return null;
  return {
    grid: best.grid,
    votes: best.votes,
    total,
    candidates: ranked.map(({ grid, votes }) => ({ grid, votes })),
  };
}
