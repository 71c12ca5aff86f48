/**
 * The synthetic grid world: seeded few-shot grid tasks small enough for a ~1–5M-parameter model on a laptop CPU
 * (grids 2×2 to 6×6, two or three colours per task, 2–4 demonstrations and one test pair per task).
 *
 * Families (families.ts describes each):
 * - PRETRAINING: `rotate`, `flip`, `colour_map`, `gravity_down`, `crop`, `tile`, `shift`, `recolour_by_size`, and
 *   the compositions `rotate+colour_map`, `flip+colour_map`, `gravity_down+colour_map`, `crop+rotate`,
 *   `shift+colour_map`.
 * - HELD OUT (never in pretraining): `transpose`, `gravity_left`, `scale2`, `fill_enclosed`, and the compositions
 *   `crop+flip`, `tile+colour_map`, `gravity_down+flip` (pretraining primitives, new pairings: no pretraining
 *   composition joins the same two primitives in either order) and `transpose+colour_map`.
 *
 * Splits: `pretrain` (default 2,000 tasks, pretraining families, uniformly) teaches the base model the format and
 * the pretraining rules; `rl` (64), `val` (32) and `test` (64) draw uniformly from the held-out families, so SEAL's
 * test-time training has something to learn. No task appears twice in the world (content hash of its grids), and
 * a pretraining task is rejected when its pairs also follow a parameter-free held-out rule (transpose,
 * anti-transpose, gravity left, scale ×2).
 *
 * A generated task is "unambiguous-ish": every pair changes the grid (output ≠ input), demonstration inputs are
 * distinct and differ from the test input, every colour of the test input appears in the demonstrations, family
 * checks hold (recolour_by_size: the test's object sizes were demonstrated), and no symmetry of the square that
 * fits every demonstration predicts a different test output. Same config → the same tasks, in the same order.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { Rng } from '../../util/rng.js';
import { applyGeometry, GEOMETRIES } from './augment.js';
import { makeRule, WORLD_MAX_SIDE } from './families.js';
import {
  type Grid,
  type GridPair,
  type GridTask,
  gridHeight,
  gridsEqual,
  gridWidth,
  taskText,
} from './grid.js';
import { gravityLeft, gravityRight, gravityUp, scale2 } from './ops.js';

export const PRETRAIN_FAMILIES = [
  'rotate',
  'flip',
  'colour_map',
  'gravity_down',
  'crop',
  'tile',
  'shift',
  'recolour_by_size',
  'rotate+colour_map',
  'flip+colour_map',
  'gravity_down+colour_map',
  'crop+rotate',
  'shift+colour_map',
] as const;

/** The held-out families of the original world (sessions 12–17): transposition, scaling, filling, compositions. */
export const HELD_OUT_FAMILIES = [
  'transpose',
  'gravity_left',
  'scale2',
  'fill_enclosed',
  'crop+flip',
  'tile+colour_map',
  'gravity_down+flip',
  'transpose+colour_map',
] as const;

/**
 * The held-out families of the `turns` world: gravity in the three directions pretraining never shows (alone and
 * composed with a colour map) — each one pretraining's `gravity_down` (or `gravity_down+colour_map`) seen after a
 * different quarter turn, so which turn a recipe asks for decides whether the model's in-context skill applies, and
 * no single turn fits every task — plus two turn-indifferent families that test-time training learns.
 */
export const TURNS_HELD_OUT_FAMILIES = [
  'gravity_left',
  'gravity_up',
  'gravity_right',
  'gravity_left+colour_map',
  'gravity_up+colour_map',
  'gravity_right+colour_map',
  'fill_enclosed',
  'tile+colour_map',
] as const;

/** The named held-out family sets a world draws its rl / val / test tasks from. */
export const HELD_OUT_SETS = {
  original: HELD_OUT_FAMILIES,
  turns: TURNS_HELD_OUT_FAMILIES,
} as const satisfies Record<string, readonly string[]>;
export type HeldOutSetName = keyof typeof HELD_OUT_SETS;
export const HELD_OUT_SET_NAMES = Object.keys(HELD_OUT_SETS) as [HeldOutSetName, ...HeldOutSetName[]];

export const GRID_SPLITS = ['pretrain', 'rl', 'val', 'test'] as const;
export type GridSplit = (typeof GRID_SPLITS)[number];
/** The splits of held-out-family tasks (SEAL's RL, validation and test tasks). */
export const HELD_OUT_SPLITS = ['rl', 'val', 'test'] as const satisfies readonly GridSplit[];

const count = (dflt: number, what: string) =>
  z.number().int().min(0).max(1_000_000).default(dflt).describe(what);

export const GridWorldConfigSchema = z
  .object({
    seed: z
      .number()
      .int()
      .min(0)
      .max(0xffffffff)
      .default(1)
      .describe('Seed of every random choice; the same config gives the same tasks.'),
    pretrainTasks: count(2000, 'Tasks of the pretraining families (the base model is pretrained on them).'),
    rlTasks: count(64, 'Held-out-family tasks the SEAL outer loop trains the recipe policy on.'),
    valTasks: count(32, 'Held-out-family tasks for choosing checkpoints and settings.'),
    testTasks: count(64, 'Held-out-family tasks for the final numbers only.'),
    heldOut: z
      .enum(HELD_OUT_SET_NAMES)
      .default('original')
      .describe(
        `The held-out family set of the rl / val / test splits: ${HELD_OUT_SET_NAMES.map((n) => `${n} (${HELD_OUT_SETS[n].join(', ')})`).join(' or ')}; a world file without the field is original.`,
      ),
    minDemos: z.number().int().min(2).max(8).default(2).describe('Fewest demonstration pairs per task.'),
    maxDemos: z.number().int().min(2).max(8).default(4).describe('Most demonstration pairs per task.'),
    maxTaskChars: z
      .number()
      .int()
      .min(64)
      .default(512)
      .describe(
        'Longest task text (taskText: demonstrations + test pair, characters = tokens with a character-level ' +
          'tokenizer); longer draws are rejected. With 6×6 grids and 4 demonstrations a task is at most 460.',
      ),
  })
  .strict()
  .refine((c) => c.minDemos <= c.maxDemos, { path: ['maxDemos'], message: 'must be at least minDemos' });

export type GridWorldConfig = z.output<typeof GridWorldConfigSchema>;
export type GridWorldConfigInput = z.input<typeof GridWorldConfigSchema>;

export interface WorldTask extends GridTask {
  readonly split: GridSplit;
  /** The family it was drawn from, e.g. `crop+flip`. */
  readonly family: string;
  /** The rule with its parameters, e.g. `crop+flip(flipH)`. */
  readonly rule: string;
  /** 16 hex digits of the sha256 of its grids (`taskText`); unique in the world. */
  readonly hash: string;
  readonly train: readonly GridPair[];
  readonly test: readonly [GridPair];
}

export interface GridWorld {
  readonly config: GridWorldConfig;
  readonly splits: Readonly<Record<GridSplit, readonly WorldTask[]>>;
}

export function taskHash(task: Pick<GridTask, 'train' | 'test'>): string {
  return createHash('sha256').update(taskText(task)).digest('hex').slice(0, 16);
}

const coloursOf = (g: Grid) => new Set(g.flat());

/** Why a drawn set of pairs (the last one is the test) is not an acceptable task, or null. */
export function ambiguity(pairs: readonly GridPair[]): string | null {
  const demos = pairs.slice(0, -1);
  const test = pairs[pairs.length - 1];
  if (test === undefined || demos.length === 0) return 'needs demonstrations and a test pair';
  for (const p of pairs) {
    if (gridsEqual(p.input, p.output)) return 'a pair leaves its grid unchanged';
    for (const g of [p.input, p.output])
      if (gridHeight(g) > WORLD_MAX_SIDE || gridWidth(g) > WORLD_MAX_SIDE) return 'a grid is too large';
  }
  for (let i = 0; i < pairs.length; i++)
    for (let j = 0; j < i; j++)
      if (gridsEqual(pairs[i]!.input, pairs[j]!.input)) return 'two pairs share an input';
  const shown = new Set(demos.flatMap((p) => [...coloursOf(p.input)]));
  if ([...coloursOf(test.input)].some((c) => !shown.has(c))) return 'the test input has an unseen colour';
  for (const g of GEOMETRIES) {
    if (!demos.every((p) => gridsEqual(applyGeometry(p.input, g), p.output))) continue;
    if (!gridsEqual(applyGeometry(test.input, g), test.output)) return `the demonstrations also fit ${g}`;
  }
  return null;
}

/** The parameter-free held-out maps of each set: a pretraining task whose every pair follows one is rejected. */
export const HELD_OUT_MAPS: Readonly<Record<HeldOutSetName, Readonly<Record<string, (g: Grid) => Grid>>>> = {
  original: {
    transpose: (g) => applyGeometry(g, 'transpose'),
    antiTranspose: (g) => applyGeometry(g, 'antiTranspose'),
    gravity_left: gravityLeft,
    scale2,
  },
  turns: { gravity_left: gravityLeft, gravity_up: gravityUp, gravity_right: gravityRight },
};

/** The name of a parameter-free held-out map (of `set`) that every pair follows, or null. */
export function followsHeldOutMap(
  pairs: readonly GridPair[],
  set: HeldOutSetName = 'original',
): string | null {
  for (const [name, f] of Object.entries(HELD_OUT_MAPS[set]))
    if (pairs.every((p) => gridsEqual(f(p.input), p.output))) return name;
  return null;
}

const MAX_ATTEMPTS = 2000;

/** One task of `family`, drawn with `rng` (which it advances); `taken` hashes are rejected. */
export function generateTask(
  family: string,
  rng: Rng,
  options: {
    readonly id: string;
    readonly split: GridSplit;
    readonly minDemos: number;
    readonly maxDemos: number;
    readonly maxTaskChars: number;
    readonly taken?: ReadonlySet<string>;
    /** The world's held-out set, whose maps a pretraining task must not follow (default original). */
    readonly heldOut?: HeldOutSetName;
  },
): WorldTask {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const palette = rng.shuffle([1, 2, 3, 4, 5, 6, 7, 8, 9]).slice(0, 2 + rng.int(2));
    const rule = makeRule(family, rng, { palette });
    const n = options.minDemos + rng.int(options.maxDemos - options.minDemos + 1) + 1;
    const pairs: GridPair[] = [];
    for (let i = 0; i < n; i++) {
      const input = rule.input(rng);
      const output = rule.apply(input);
      if (output === null) break;
      pairs.push({ input, output });
    }
    if (pairs.length < n || ambiguity(pairs) !== null) continue;
    const demos = pairs.slice(0, -1);
    const test = pairs[pairs.length - 1]!;
    if (
      rule.covers !== undefined &&
      !rule.covers(
        demos.map((p) => p.input),
        test.input,
      )
    )
      continue;
    if (options.split === 'pretrain' && followsHeldOutMap(pairs, options.heldOut) !== null) continue;
    const task = { train: demos, test: [test] as const };
    if (taskText(task).length > options.maxTaskChars) continue;
    const hash = taskHash(task);
    if (options.taken?.has(hash)) continue;
    return { id: options.id, split: options.split, family, rule: rule.name, hash, ...task };
  }
  throw new Error(
    `grid world: no acceptable ${family} task in ${MAX_ATTEMPTS} draws (maxTaskChars too small?)`,
  );
}

/**
 * Builds the world: each split from its own fork of the seed's generator, families taken in turn from a seeded
 * shuffle of the split's family list (so every family is equally common), ids `<split>-<index>` (e.g. `rl-0007`).
 * The held-out splits (rl, val, test) are drawn first and the pretraining split last, rejecting any task already
 * drawn: so the held-out splits never depend on the pretraining split, and `heldOutOnly` (what SEAL, evaluation and
 * the CLI need) builds them without drawing the pretraining tasks at all — the same tasks, in a fraction of the time
 * (100,000 pretraining tasks take ~40 s).
 */
export function generateGridWorld(
  input: GridWorldConfigInput = {},
  opts: { readonly heldOutOnly?: boolean } = {},
): GridWorld {
  const config = GridWorldConfigSchema.parse(input);
  const root = new Rng(config.seed);
  const taken = new Set<string>();
  const sizes: Record<GridSplit, number> = {
    pretrain: config.pretrainTasks,
    rl: config.rlTasks,
    val: config.valTasks,
    test: config.testTasks,
  };
  const splits: Record<GridSplit, WorldTask[]> = { pretrain: [], rl: [], val: [], test: [] };
  const drawOrder = opts.heldOutOnly ? HELD_OUT_SPLITS : [...HELD_OUT_SPLITS, 'pretrain' as const];
  // Forked in the splits' declared order (a fork advances the root), so each split's stream is the same whatever
  // the draw order.
  const streams = GRID_SPLITS.map((_, s) => root.fork(s + 1));
  for (const split of drawOrder) {
    const rng = streams[GRID_SPLITS.indexOf(split)]!;
    const families: readonly string[] =
      split === 'pretrain' ? PRETRAIN_FAMILIES : HELD_OUT_SETS[config.heldOut];
    const tasks: WorldTask[] = [];
    let order: string[] = [];
    for (let i = 0; i < sizes[split]; i++) {
      if (order.length === 0) order = rng.shuffle([...families]);
      const family = order.pop()!;
      const task = generateTask(family, rng, {
        id: `${split}-${String(i).padStart(4, '0')}`,
        split,
        minDemos: config.minDemos,
        maxDemos: config.maxDemos,
        maxTaskChars: config.maxTaskChars,
        taken,
        heldOut: config.heldOut,
      });
      taken.add(task.hash);
      tasks.push(task);
    }
    splits[split] = tasks;
  }
  return { config, splits };
}

/** Every task of the world, pretrain first, then rl, val, test. */
export function worldTasks(world: GridWorld): WorldTask[] {
  return GRID_SPLITS.flatMap((s) => [...world.splits[s]]);
}
