/**
 * The grid self-edit: a TRAINING RECIPE the model writes after reading a task's demonstrations, which test-time
 * training then follows (SEAL's few-shot ARC setting).
 *
 * ## Format
 *
 * Six `key: value` lines, in this order when written by `formatRecipe` (the parser accepts any order), after an
 * optional seventh, `turn`, first (the `turns` recipe space writes it; a recipe without it does not turn):
 *
 *     turn: 90
 *     augment: rot,flip,colour
 *     copies: 4
 *     leave_one_out: yes
 *     lr: 1e-3
 *     epochs: 8
 *     loss: outputs
 *
 * - `turn`: a quarter-turn count in degrees clockwise (0, 90, 180 or 270): the task is turned before anything else —
 *   the training data are made from the turned demonstrations and the adapted model answers the turned test input,
 *   its answer turned back (exact match is unchanged by a turn, so the score is that of the turned answer). A model
 *   that knows a rule in one orientation can then solve its other orientations.
 * - `augment`: `none`, or a comma list of augmentation families: `rot` (rot90/180/270), `flip` (the four
 *   reflections), `colour` (permutations of colours 1–9, background 0 fixed); see augment.ts.
 * - `copies`: versions of each training task, counting the original (1, 2, 4 or 8). Copy 1 is the original, the
 *   others are augmented by distinct random transforms of the chosen families (repeated when the families have
 *   fewer distinct transforms than copies; all repeats of the original under `augment: none`).
 * - `leave_one_out`: `yes` trains on one task per demonstration (the others as context, it as the query; needs two
 *   or more demonstrations, else falls back to `no`); `no` trains on one sequence of all demonstrations.
 * - `lr`: learning rate of the test-time LoRA, one of `LEARNING_RATES` (written `1e-4`, `3e-4`, `1e-3`, `3e-3`, `1e-2`;
 *   any number equal to one of them parses, e.g. `0.001`).
 * - `epochs`: passes over the training sequences (1, 2, 4, 8 or 16).
 * - `loss`: `outputs` (cross-entropy on the output grids' tokens only) or `all` (every token).
 *
 * The recipe prompt is the task's demonstrations in the grid serialisation (grid.ts) followed by the line
 * `recipe`; the model writes the six lines and an empty line (`RECIPE_STOP`). The test input is not shown.
 *
 * `parseRecipe` never throws on model text: it returns `{ok: false, reason}` naming the bad line (the loop gives a
 * malformed recipe the lowest reward). The parser accepts every combination of the allowed values (3,200 recipes
 * without a turn line, and each of them with one of the 4 turns); `recipeSpace()` enumerates a curated 64-recipe
 * subset for the oracle search and the best-fixed-recipe baseline, and `RECIPE_SPACES` names the spaces a model can
 * be pretrained to write.
 */
import { z } from 'zod';
import { Rng } from '../../util/rng.js';
import {
  augmentTask,
  compose,
  type Geometry,
  type GridTransform,
  IDENTITY,
  IDENTITY_COLOURS,
  invertPrediction,
  isIdentity,
  leaveOneOut,
  REFLECTIONS,
  ROTATIONS,
  randomColours,
  transformName,
} from './augment.js';
import {
  answerText,
  demonstrationsText,
  type GridPair,
  type GridTask,
  gridToText,
  INPUT_MARKER,
  OUTPUT_MARKER,
  parseGrid,
} from './grid.js';

export const AUGMENT_FAMILIES = ['rot', 'flip', 'colour'] as const;
export type AugmentFamily = (typeof AUGMENT_FAMILIES)[number];
export const COPIES = [1, 2, 4, 8] as const;
export const LEARNING_RATES = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2] as const;
export const EPOCHS = [1, 2, 4, 8, 16] as const;
export const LOSSES = ['outputs', 'all'] as const;
export type RecipeLoss = (typeof LOSSES)[number];
export const TURNS = [0, 90, 180, 270] as const;
export type Turn = (typeof TURNS)[number];

const oneOf = <T extends number>(values: readonly T[]) =>
  z.number().refine((v): v is T => (values as readonly number[]).includes(v), {
    message: `must be one of ${values.join(', ')}`,
  }) as unknown as z.ZodType<T>;

export const RecipeSchema = z
  .object({
    /** Families in canonical order (`AUGMENT_FAMILIES`), no repeats; empty = `none`. */
    augment: z.array(z.enum(AUGMENT_FAMILIES)).refine((a) => canonicalFamilies(a).join() === a.join(), {
      message: 'families must be distinct and in the order rot, flip, colour',
    }),
    copies: oneOf(COPIES),
    leaveOneOut: z.boolean(),
    lr: oneOf(LEARNING_RATES),
    epochs: oneOf(EPOCHS),
    loss: z.enum(LOSSES),
    /** Absent: the recipe does not turn the task (as `turn: 0`, but written without the line). */
    turn: oneOf(TURNS).optional(),
  })
  .strict();

export type Recipe = z.output<typeof RecipeSchema>;

function canonicalFamilies(families: readonly AugmentFamily[]): AugmentFamily[] {
  return AUGMENT_FAMILIES.filter((f) => families.includes(f));
}

/** The line that ends the recipe prompt; the model writes the recipe after it. */
export const RECIPE_MARKER = 'recipe';
/** Generation of a recipe stops at the empty line after it. */
export const RECIPE_STOP: readonly string[] = ['\n\n'];
/** The keys every recipe has, in the order `formatRecipe` writes them. */
export const REQUIRED_RECIPE_KEYS = ['augment', 'copies', 'leave_one_out', 'lr', 'epochs', 'loss'] as const;
/** Every key, in the order `formatRecipe` writes them (`turn` only when the recipe has one). */
export const RECIPE_KEYS = ['turn', ...REQUIRED_RECIPE_KEYS] as const;

/**
 * Every character of recipe text and the `recipe` marker, sorted (with `GRID_ALPHABET`, the vocabulary of a
 * character-level tokenizer for both prompts).
 */
export const RECIPE_ALPHABET = [
  ...new Set(
    [
      ...RECIPE_KEYS,
      ...AUGMENT_FAMILIES,
      ...LOSSES,
      ...LEARNING_RATES.map((lr) => formatLr(lr)),
      'none yes no 0123456789:,\n',
      RECIPE_MARKER,
    ].join(''),
  ),
]
  .sort()
  .join('');

/** The prompt that asks for a recipe: the demonstrations, then `recipe\n`. */
export function recipePrompt(task: Pick<GridTask, 'train'>): string {
  return `${demonstrationsText(task.train)}${RECIPE_MARKER}\n`;
}

/** `1e-3`, `3e-4`: the learning rate as the format writes it. */
export function formatLr(lr: number): string {
  const [mantissa, exponent] = lr.toExponential().split('e');
  return `${mantissa}e${Number(exponent)}`;
}

/** The recipe text (six or seven lines, each ending in a newline; `parseRecipe(formatRecipe(r))` gives r back). */
export function formatRecipe(recipe: Recipe): string {
  return (
    [
      ...(recipe.turn === undefined ? [] : [`turn: ${recipe.turn}`]),
      `augment: ${recipe.augment.length === 0 ? 'none' : recipe.augment.join(',')}`,
      `copies: ${recipe.copies}`,
      `leave_one_out: ${recipe.leaveOneOut ? 'yes' : 'no'}`,
      `lr: ${formatLr(recipe.lr)}`,
      `epochs: ${recipe.epochs}`,
      `loss: ${recipe.loss}`,
    ].join('\n') + '\n'
  );
}

/** The training completion for a recipe prompt: the recipe and the empty line that ends it. */
export function recipeAnswerText(recipe: Recipe): string {
  return `${formatRecipe(recipe)}\n`;
}

export type RecipeParse =
  | { readonly ok: true; readonly recipe: Recipe }
  | { readonly ok: false; readonly reason: string };

function quoteLine(n: number, line: string): string {
  return `line ${n} ${JSON.stringify(line.length > 40 ? `${line.slice(0, 40)}…` : line)}`;
}

function parseNumberIn(value: string, allowed: readonly number[]): number | undefined {
  if (!/^[+]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i.test(value)) return undefined;
  const v = Number(value);
  return allowed.find((a) => Math.abs(a - v) <= 1e-9 * Math.abs(a));
}

/**
 * Parses model-written recipe text. Leading empty lines are skipped and the recipe ends at the first empty line
 * (anything after it is ignored); each line is `key: value` with any spacing around the colon, keys and words in
 * any case. The six `REQUIRED_RECIPE_KEYS` are required and `turn` is optional, each at most once. Never throws.
 */
export function parseRecipe(text: string): RecipeParse {
  if (typeof text !== 'string') return { ok: false, reason: 'not text' };
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  let i = 0;
  while (i < lines.length && lines[i]!.trim() === '') i++;
  const fields: Record<string, unknown> = {};
  const seen = new Set<string>();
  for (; i < lines.length && lines[i]!.trim() !== ''; i++) {
    const raw = lines[i]!;
    const where = quoteLine(i + 1, raw);
    const m = /^\s*([A-Za-z_]+)\s*:\s*(.*?)\s*$/.exec(raw);
    if (m === null) return { ok: false, reason: `${where}: expected "key: value"` };
    const key = m[1]!.toLowerCase();
    const value = m[2]!.toLowerCase();
    if (!(RECIPE_KEYS as readonly string[]).includes(key))
      return {
        ok: false,
        reason: `${where}: unknown key "${key}" (expected one of ${RECIPE_KEYS.join(', ')})`,
      };
    if (seen.has(key)) return { ok: false, reason: `${where}: "${key}" given twice` };
    seen.add(key);
    switch (key) {
      case 'augment': {
        if (value === 'none') {
          fields['augment'] = [];
          break;
        }
        const parts = value.split(',').map((p) => p.trim());
        const bad = parts.find((p) => !(AUGMENT_FAMILIES as readonly string[]).includes(p));
        if (bad !== undefined)
          return { ok: false, reason: `${where}: augment must be "none" or a list of rot, flip, colour` };
        if (new Set(parts).size !== parts.length)
          return { ok: false, reason: `${where}: augment names a family twice` };
        fields['augment'] = canonicalFamilies(parts as AugmentFamily[]);
        break;
      }
      case 'turn':
      case 'copies':
      case 'lr':
      case 'epochs': {
        const allowed: readonly number[] =
          key === 'turn' ? TURNS : key === 'copies' ? COPIES : key === 'lr' ? LEARNING_RATES : EPOCHS;
        const v = parseNumberIn(value, allowed);
        if (v === undefined) {
          const list = key === 'lr' ? allowed.map(formatLr) : allowed;
          return { ok: false, reason: `${where}: ${key} must be one of ${list.join(', ')}` };
        }
        fields[key] = v;
        break;
      }
      case 'leave_one_out':
        if (value !== 'yes' && value !== 'no')
          return { ok: false, reason: `${where}: leave_one_out must be yes or no` };
        fields['leaveOneOut'] = value === 'yes';
        break;
      case 'loss':
        if (!(LOSSES as readonly string[]).includes(value))
          return { ok: false, reason: `${where}: loss must be one of ${LOSSES.join(', ')}` };
        fields['loss'] = value;
        break;
    }
  }
  if (seen.size === 0) return { ok: false, reason: 'empty recipe' };
  const missing = REQUIRED_RECIPE_KEYS.filter((k) => !seen.has(k));
  if (missing.length > 0) return { ok: false, reason: `missing ${missing.join(', ')}` };
  const checked = RecipeSchema.safeParse(fields);
  if (!checked.success) return { ok: false, reason: checked.error.issues[0]?.message ?? 'invalid recipe' };
  return { ok: true, recipe: checked.data };
}

// ---------------------------------------------------------------------------------------------------------------
// The enumerable space

/** Values per field of the enumerated space; every value must be allowed by `RecipeSchema`. */
export interface RecipeGrid {
  readonly augment: readonly (readonly AugmentFamily[])[];
  readonly copies: readonly Recipe['copies'][];
  readonly leaveOneOut: readonly boolean[];
  readonly lr: readonly Recipe['lr'][];
  readonly epochs: readonly Recipe['epochs'][];
  readonly loss: readonly RecipeLoss[];
  /** Turns (each recipe written with a `turn` line); absent: recipes without one. */
  readonly turn?: readonly Turn[];
}

/**
 * The default space, 4 × 1 × 2 × 2 × 2 × 2 = 64 recipes: no augmentation, geometry, colours, or both (4 copies
 * when augmenting), leave-one-out or not, two learning rates, two epoch counts, two losses.
 */
export const DEFAULT_RECIPE_GRID: RecipeGrid = {
  augment: [[], ['rot', 'flip'], ['colour'], ['rot', 'flip', 'colour']],
  copies: [4],
  leaveOneOut: [true, false],
  lr: [1e-3, 3e-3],
  epochs: [2, 8],
  loss: ['outputs', 'all'],
};

/**
 * Every recipe of `grid`, in a fixed order (augment outermost, loss innermost). `augment: none` recipes take
 * `copies: 1` (copies of an unaugmented task are repeats, which `epochs` already covers), and duplicates that
 * this creates are dropped.
 */
export function recipeSpace(grid: RecipeGrid = DEFAULT_RECIPE_GRID): Recipe[] {
  return recipesOf([grid]);
}

/** The recipes of several grids, grid after grid, each recipe once (its first place). */
function recipesOf(grids: readonly RecipeGrid[]): Recipe[] {
  const out: Recipe[] = [];
  const seen = new Set<string>();
  for (const grid of grids)
    for (const augment of grid.augment)
      for (const copies of grid.copies)
        for (const leaveOneOut of grid.leaveOneOut)
          for (const lr of grid.lr)
            for (const epochs of grid.epochs)
              for (const loss of grid.loss)
                for (const turn of grid.turn ?? [undefined]) {
                  const recipe = RecipeSchema.parse({
                    augment: canonicalFamilies(augment),
                    copies: augment.length === 0 ? 1 : copies,
                    leaveOneOut,
                    lr,
                    epochs,
                    loss,
                    ...(turn === undefined ? {} : { turn }),
                  });
                  const key = formatRecipe(recipe);
                  if (seen.has(key)) continue;
                  seen.add(key);
                  out.push(recipe);
                }
  return out;
}

/**
 * The recipes the wide space adds to the default one: more copies, a larger learning rate and more epochs (always
 * leave-one-out, loss on outputs). Measured on the 32 val tasks with the default model (session 15,
 * experiments/results/session15/grids): best fixed recipe 21.9% in both spaces, the per-task oracle 28.1% in the
 * default space and 37.5% in the wide one — the room a per-task choice has.
 */
export const WIDE_EXTRA_RECIPE_GRID: RecipeGrid = {
  augment: [[], ['rot', 'flip'], ['colour'], ['rot', 'flip', 'colour']],
  copies: [4, 8],
  leaveOneOut: [true],
  lr: [3e-3, 1e-2],
  epochs: [8, 16],
  loss: ['outputs'],
};

/**
 * The turns space, 4 turns × 16 = 64 recipes, for the `turns` world (world.ts `TURNS_HELD_OUT_FAMILIES`): the
 * default space's augmentations, 4 copies when augmenting, leave-one-out, two learning rates and two epoch counts,
 * loss on outputs — each under the four turns.
 */
export const TURNS_RECIPE_GRID: RecipeGrid = {
  augment: [[], ['rot', 'flip'], ['colour'], ['rot', 'flip', 'colour']],
  copies: [4],
  leaveOneOut: [true],
  lr: [1e-3, 3e-3],
  epochs: [2, 8],
  loss: ['outputs'],
  turn: TURNS,
};

/** The named recipe spaces a grid model can be pretrained to write (and the table sweeps): unions of grids. */
export const RECIPE_SPACES = {
  default: [DEFAULT_RECIPE_GRID],
  wide: [DEFAULT_RECIPE_GRID, WIDE_EXTRA_RECIPE_GRID],
  turns: [TURNS_RECIPE_GRID],
} as const satisfies Record<string, readonly RecipeGrid[]>;
export type RecipeSpaceName = keyof typeof RECIPE_SPACES;
export const RECIPE_SPACE_NAMES = Object.keys(RECIPE_SPACES) as [RecipeSpaceName, ...RecipeSpaceName[]];

/** Every recipe of a named space: its grids' recipes in order, each recipe once (`recipeSpaceSizes` counts them). */
export function namedRecipeSpace(name: RecipeSpaceName): Recipe[] {
  return recipesOf(RECIPE_SPACES[name]);
}

/** "default 64, wide 88, turns 64": each named space with its number of recipes, for help texts (counted, not written down). */
export function recipeSpaceSizes(): string {
  return RECIPE_SPACE_NAMES.map((n) => `${n} ${namedRecipeSpace(n).length}`).join(', ');
}

/** The fixed seed of `recipeSubset`'s draw (documented: the subset of a given size never changes). */
const RECIPE_SUBSET_SEED = 16;

/**
 * The `n` recipes an oracle search or a best-fixed choice sweeps: the whole space in its order when `n` covers it,
 * else `n` recipes drawn from it without replacement by a fixed seed — so that a small budget still spans the
 * augmentations, rates and epochs (the space's own prefix varies the innermost settings only: its first 16
 * recipes never augment).
 */
export function recipeSubset(n: number, space: readonly Recipe[] = recipeSpace()): Recipe[] {
  if (n >= space.length) return [...space];
  return new Rng(RECIPE_SUBSET_SEED).shuffle([...space]).slice(0, n);
}

// ---------------------------------------------------------------------------------------------------------------
// Expansion into training data

/** A piece of a training sequence; `train` marks the tokens the loss is taken on. */
export interface Segment {
  readonly text: string;
  readonly train: boolean;
}

/** One training sequence of the inner loop (its text is the segments' concatenation). */
export interface TrainingSequence {
  /** `<task id>[/loo<i>][~<transform>]`. */
  readonly id: string;
  readonly transform: GridTransform;
  readonly segments: readonly Segment[];
}

export function sequenceText(seq: Pick<TrainingSequence, 'segments'>): string {
  return seq.segments.map((s) => s.text).join('');
}

/**
 * A sequence of pairs in the grid serialisation (exactly `demonstrationsText(pairs)`), split into segments: with
 * loss `outputs` the trained parts are each output grid with its newline and the block's empty line (so the model
 * learns to end its answers), with `all` the whole text.
 */
export function pairsToSegments(pairs: readonly GridPair[], loss: RecipeLoss): Segment[] {
  if (loss === 'all') return [{ text: demonstrationsText(pairs), train: true }];
  const segments: Segment[] = [];
  for (const p of pairs) {
    segments.push({ text: `${INPUT_MARKER}\n${gridToText(p.input)}\n${OUTPUT_MARKER}\n`, train: false });
    segments.push({ text: answerText(p.output), train: true });
  }
  return segments;
}

/** The transforms of the chosen families other than the identity, before colour permutations are drawn. */
function geometriesOf(families: readonly AugmentFamily[]): Geometry[] {
  const g: Geometry[] = ['identity'];
  if (families.includes('rot')) g.push(...ROTATIONS);
  if (families.includes('flip')) g.push(...REFLECTIONS);
  // Rotations and reflections together generate the whole group; either alone is closed already.
  return g;
}

/**
 * `count` transforms for one training task: the identity first, then distinct non-identity transforms of the
 * families in a random order (geometry without `colour`: cycling through them when there are fewer than `count`;
 * with `colour`: a fresh permutation of colours 1–9 each, on a random geometry of the families).
 */
export function drawTransforms(families: readonly AugmentFamily[], count: number, rng: Rng): GridTransform[] {
  const out: GridTransform[] = [IDENTITY];
  const geometries = geometriesOf(families);
  if (families.includes('colour')) {
    while (out.length < count) {
      const t = compose(
        { geometry: rng.pick(geometries), colours: IDENTITY_COLOURS },
        { geometry: 'identity', colours: randomColours(rng) },
      );
      if (!isIdentity(t)) out.push(t);
    }
    return out;
  }
  const pool = rng.shuffle(geometries.filter((g) => g !== 'identity'));
  for (let i = 0; out.length < count; i++) {
    const g = pool.length === 0 ? 'identity' : pool[i % pool.length]!;
    out.push({ geometry: g, colours: IDENTITY_COLOURS });
  }
  return out;
}

const TURN_GEOMETRY: Readonly<Record<Turn, Geometry>> = {
  0: 'identity',
  90: 'rot90',
  180: 'rot180',
  270: 'rot270',
};

/** The transform of a recipe's turn (the identity without one): `turn: 90` is `rot90`, clockwise. */
export function turnTransform(recipe: Pick<Recipe, 'turn'>): GridTransform {
  return { geometry: TURN_GEOMETRY[recipe.turn ?? 0], colours: IDENTITY_COLOURS };
}

/**
 * The task as a recipe trains on and answers it: every grid turned by the recipe's `turn` (test outputs too, where
 * known), the id kept. Without a turn (or `turn: 0`) the task itself.
 */
export function turnedTask(task: GridTask, recipe: Pick<Recipe, 'turn'>): GridTask {
  const t = turnTransform(recipe);
  return isIdentity(t) ? task : { ...augmentTask(task, t), id: task.id };
}

/**
 * An answer to a turned task, in the task's own frame: a grid turned back by the recipe's turn (text that does not
 * parse as a grid stays as it is; without a turn, every text stays as it is).
 */
export function turnedBack(recipe: Pick<Recipe, 'turn'>): (answer: string) => string {
  const t = turnTransform(recipe);
  return (answer) => {
    const g = isIdentity(t) ? undefined : parseGrid(answer);
    return g?.ok === true ? gridToText(invertPrediction(g.grid, t)) : answer;
  };
}

export interface ExpandOptions {
  /**
   * Longest sequence in characters (= tokens under a character-level tokenizer). A longer sequence loses
   * demonstrations from its front until it fits; one whose query pair alone is too long is dropped.
   */
  readonly maxChars?: number;
}

export interface Expansion {
  /** The training tasks after leave-one-out and augmentation (the query pair is each task's one test pair). */
  readonly tasks: readonly GridTask[];
  readonly sequences: readonly TrainingSequence[];
  /** Sequences dropped because their query pair alone exceeded `maxChars`. */
  readonly dropped: number;
}

/**
 * Turns (task, recipe) into the inner loop's training data. Only the task's demonstrations are used (never its test
 * pairs), turned first by the recipe's `turn` (`turnedTask`). Base tasks: leave-one-out tasks when `leaveOneOut` and there are two or more demonstrations, else one
 * task whose last demonstration is the query. Each base task then gets `copies` versions (`drawTransforms`), and
 * each version is one sequence. Deterministic given the rng's state.
 */
export function expandRecipe(
  task: GridTask,
  recipe: Recipe,
  rng: Rng,
  options: ExpandOptions = {},
): Expansion {
  const turned = turnedTask(task, recipe);
  const demos = turned.train;
  if (demos.length === 0) return { tasks: [], sequences: [], dropped: 0 };
  const base: GridTask[] =
    recipe.leaveOneOut && demos.length >= 2
      ? leaveOneOut(turned)
      : [{ id: task.id, train: demos.slice(0, -1), test: demos.slice(-1) }];
  const tasks: GridTask[] = [];
  const sequences: TrainingSequence[] = [];
  let dropped = 0;
  for (const b of base) {
    for (const t of drawTransforms(recipe.augment, recipe.copies, rng)) {
      const aug = augmentTask(b, t);
      const query = aug.test[0]!;
      let pairs: GridPair[] = [...aug.train, { input: query.input, output: query.output! }];
      if (options.maxChars !== undefined) {
        while (pairs.length > 0 && demonstrationsText(pairs).length > options.maxChars)
          pairs = pairs.slice(1);
        if (pairs.length === 0) {
          dropped++;
          continue;
        }
      }
      tasks.push({ id: aug.id, train: pairs.slice(0, -1), test: pairs.slice(-1) });
      sequences.push({
        id: isIdentity(t) ? b.id : `${b.id}~${transformName(t)}`,
        transform: t,
        segments: pairsToSegments(pairs, recipe.loss),
      });
    }
  }
  return { tasks, sequences, dropped };
}
