/**
 * Grid models: the character-level tokenizer they read and write with, how a model directory records its grid
 * world (seal_grid_world.json, from which the same world and splits are regenerated), and the two things a grid
 * model is asked to do — solve tasks in context (greedy, scored by exact grid match) and write recipes (sampled,
 * then parsed).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { SealError } from '../../errors.js';
import { generate } from '../../model/generate.js';
import type { LinearDelta } from '../../model/linear.js';
import type { Transformer } from '../../model/model.js';
import {
  augmentTask,
  GEOMETRIES,
  type GridTransform,
  IDENTITY_COLOURS,
  vote,
} from '../../tasks/grids/augment.js';
import {
  GRID_ALPHABET,
  type GridTask,
  gridHeight,
  gridsEqual,
  gridWidth,
  MAX_GRID_SIDE,
  parseGrid,
} from '../../tasks/grids/grid.js';
import {
  parseRecipe,
  RECIPE_ALPHABET,
  RECIPE_SPACE_NAMES,
  RECIPE_STOP,
  type RecipeParse,
  type RecipeSpaceName,
  recipePrompt,
} from '../../tasks/grids/recipe.js';
import { gridAnswering, gridContext } from '../../tasks/grids/task.js';
import { type GridWorldConfig, GridWorldConfigSchema } from '../../tasks/grids/world.js';
import { charTokenizer } from '../../tokenizer/char.js';
import type { HfTokenizer } from '../../tokenizer/hf.js';
import type { Tokenizer } from '../../tokenizer/types.js';
import { readJsonFile } from '../../util/json.js';
import { type AnsweredQuestion, answerQuestions } from '../inner/qa-eval.js';

/** Every character a grid model reads or writes: the task text and the recipe text. */
export const GRID_MODEL_ALPHABET = GRID_ALPHABET + RECIPE_ALPHABET;

/** The grid models' tokenizer: one token per character of `GRID_MODEL_ALPHABET` (EOS = BOS = id 0). */
export function gridTokenizer(): { tok: HfTokenizer; json: Record<string, unknown> } {
  return charTokenizer(GRID_MODEL_ALPHABET);
}

/** The file of a grid model directory that holds its world config. */
export const GRID_WORLD_FILE = 'seal_grid_world.json';

export function isGridModelDir(dir: string): boolean {
  return existsSync(join(dir, GRID_WORLD_FILE));
}

/** The world config a grid model was pretrained with (its splits are regenerated from it). */
export function readGridWorldConfig(modelDir: string): GridWorldConfig {
  const file = join(modelDir, GRID_WORLD_FILE);
  if (!existsSync(file)) throw new SealError(`not a grid model (no ${GRID_WORLD_FILE})`, modelDir);
  return readJsonFile(GridWorldConfigSchema, file);
}

/** What a grid model's manifest says of the recipes it was pretrained to write (other fields: pretrain's). */
const ManifestRecipeSpaceSchema = z.looseObject({
  config: z.looseObject({ recipeSpace: z.enum(RECIPE_SPACE_NAMES).optional() }).optional(),
});

/**
 * The recipe space a grid model was pretrained to write (its seal_manifest.json `config.recipeSpace`): the space the
 * grid table sweeps for its oracle and best fixed recipe. A model without the field (pretrained before it existed,
 * or made without a manifest) wrote the default space.
 */
export function readGridRecipeSpace(modelDir: string): RecipeSpaceName {
  const file = join(modelDir, 'seal_manifest.json');
  if (!existsSync(file)) return 'default';
  return readJsonFile(ManifestRecipeSpaceSchema, file).config?.recipeSpace ?? 'default';
}

/**
 * The largest grid side a task's answer may need, from what the solver may see (demonstrations and test inputs,
 * never a test output): the largest side there, at least the world's 6, at most ARC's 30.
 */
export function visibleMaxSide(task: GridTask): number {
  let side = 6;
  for (const p of task.train)
    for (const g of [p.input, p.output]) side = Math.max(side, gridHeight(g), gridWidth(g));
  for (const t of task.test) side = Math.max(side, gridHeight(t.input), gridWidth(t.input));
  return Math.min(side, MAX_GRID_SIDE);
}

export interface SolvedTask {
  readonly taskId: string;
  /** Per test input: the model's answer text and its score (1 = exactly the output grid; 0 without a gold). */
  readonly answers: readonly AnsweredQuestion[];
  /** Mean score over the task's test inputs. */
  readonly score: number;
}

/**
 * In-context solving: every test input of every task asked with its solve prompt (greedy, up to the empty line),
 * scored by exact grid match; `deltas` are adapters (a test-time-trained LoRA). Tasks are batched by answer bound.
 */
export function solveTasks(
  model: Transformer,
  tok: Tokenizer,
  tasks: readonly GridTask[],
  deltas: readonly LinearDelta[] = [],
): SolvedTask[] {
  return tasks.map((t) => {
    const answering = gridAnswering(visibleMaxSide(t));
    const answers = answerQuestions(model, tok, answering, [gridContext(t)], {
      deltas,
      maxNewTokens: answering.answerMaxTokens,
    });
    const score = answers.length === 0 ? 0 : answers.reduce((s, a) => s + a.score, 0) / answers.length;
    return { taskId: t.id, answers, score };
  });
}

/** Mean in-context accuracy over tasks (0 for none). */
export function iclAccuracy(
  model: Transformer,
  tok: Tokenizer,
  tasks: readonly GridTask[],
  deltas: readonly LinearDelta[] = [],
): number {
  if (tasks.length === 0) return 0;
  const solved = solveTasks(model, tok, tasks, deltas);
  return solved.reduce((s, r) => s + r.score, 0) / solved.length;
}

export interface WrittenRecipe {
  readonly taskId: string;
  readonly text: string;
  readonly parsed: RecipeParse;
}

/** Longest recipe the model may write: six lines of the longest values, with room to spare. */
export const RECIPE_MAX_TOKENS = 120;

/** One recipe per task sampled from the model (temperature, top-p), parsed. */
export function writeRecipes(
  model: Transformer,
  tok: Tokenizer,
  tasks: readonly GridTask[],
  opts: {
    readonly seed: number;
    readonly temperature?: number;
    readonly topP?: number;
    readonly deltas?: readonly LinearDelta[];
  },
): WrittenRecipe[] {
  const out: WrittenRecipe[] = [];
  const bs = 16;
  for (let i = 0; i < tasks.length; i += bs) {
    const chunk = tasks.slice(i, i + bs);
    const r = generate(
      model,
      chunk.map((t) => tok.encode(recipePrompt(t), { addBos: true })),
      {
        maxNewTokens: RECIPE_MAX_TOKENS,
        temperature: opts.temperature ?? 1,
        topP: opts.topP ?? 0.95,
        seed: opts.seed + i,
        stop: RECIPE_STOP,
        tokenizer: tok,
        ...(opts.deltas === undefined ? {} : { deltas: opts.deltas }),
      },
    );
    chunk.forEach((t, j) => {
      const text = r.text?.[j] ?? '';
      out.push({ taskId: t.id, text, parsed: parseRecipe(text) });
    });
  }
  return out;
}

export interface VotedTest {
  /** The majority grid in the task's own frame, or null when no augmented answer parsed. */
  readonly grid: number[][] | null;
  readonly votes: number;
  /** Augmented answers that parsed. */
  readonly valid: number;
  /** 1 when the majority grid is exactly the known output (0 without one). */
  readonly score: number;
}

/**
 * Voting over augmented predictions: the task under each transform (list the identity first: it breaks ties)
 * solved in context, each answer mapped back into the original frame by the transform's inverse, and the majority
 * grid taken per test input (augment.ts `vote`). An equivariant solver gives every transform the same vote.
 */
export function solveByVote(
  model: Transformer,
  tok: Tokenizer,
  task: GridTask,
  transforms: readonly GridTransform[],
  deltas: readonly LinearDelta[] = [],
): VotedTest[] {
  const solved = solveTasks(
    model,
    tok,
    transforms.map((t) => augmentTask(task, t)),
    deltas,
  );
  return task.test.map((test, i) => {
    const v = vote(
      transforms.map((t, k) => {
        const p = parseGrid(solved[k]?.answers[i]?.prediction ?? '');
        return { grid: p.ok ? p.grid : null, transform: t };
      }),
    );
    const score = v !== null && test.output !== undefined && gridsEqual(v.grid, test.output) ? 1 : 0;
    return { grid: v?.grid ?? null, votes: v?.votes ?? 0, valid: v?.total ?? 0, score };
  });
}

/** The eight symmetries of the square, identity first (no colour change): the default voting transforms. */
export const DIHEDRAL_TRANSFORMS: readonly GridTransform[] = GEOMETRIES.map((geometry) => ({
  geometry,
  colours: IDENTITY_COLOURS,
}));
