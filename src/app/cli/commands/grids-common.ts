/**
 * What the grid commands (`seal solve`, `seal adapt --domain grids`) share: reading the task argument (one ARC task
 * file, or one task of a Kaggle challenges file by `--id`), resolving and loading a grid model, and checking that a
 * task fits the model's context before any work.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { assetPath } from '../../../assets.js';
import { SealError } from '../../../errors.js';
import { loadModel } from '../../../model/io/load.js';
import type { Transformer } from '../../../model/model.js';
import { isGridModelDir, visibleMaxSide } from '../../../seal/domains/grids-model.js';
import { loadArcChallenges, loadArcTask } from '../../../tasks/grids/arc.js';
import { type GridTask, solvePrompt } from '../../../tasks/grids/grid.js';
import { parseRecipe, type Recipe } from '../../../tasks/grids/recipe.js';
import { answerTokenBound } from '../../../tasks/grids/task.js';
import { loadTokenizer } from '../../../tokenizer/load.js';
import type { Tokenizer } from '../../../tokenizer/types.js';
import { UsageError } from '../args.js';

/** The bundled grid model's place in assets/ (`seal pretrain --domain grids` with its defaults reproduces it). */
export const GRID_DEFAULT_MODEL = 'models/grids-default';

export const GridTaskOptions = {
  task: z.string().describe('ARC task file ({train, test}), or a Kaggle challenges file with --id'),
  id: z.string().optional().describe('Task id in a Kaggle challenges file given as --task'),
  solutions: z
    .string()
    .optional()
    .describe('Kaggle solutions file for --task/--id (then the answer is checked)'),
  model: z
    .string()
    .default('default')
    .describe(
      'Grid model directory from `seal pretrain --domain grids` ("default" = the bundled grid model)',
    ),
} as const;

/** The task named by --task (and --id/--solutions); errors name the file and the field. */
export async function loadGridTaskArg(o: {
  readonly task: string;
  readonly id?: string | undefined;
  readonly solutions?: string | undefined;
}): Promise<GridTask> {
  if (o.id === undefined) {
    if (o.solutions !== undefined) throw new UsageError('--solutions needs --id (a Kaggle challenges file)');
    return loadArcTask(o.task);
  }
  const tasks = await loadArcChallenges(o.task, o.solutions);
  const task = tasks.find((t) => t.id === o.id);
  if (task === undefined) throw new SealError(`no task with id ${JSON.stringify(o.id)}`, o.task);
  return task;
}

export function resolveGridModelDir(model: string): string {
  if (model !== 'default') {
    if (!isGridModelDir(model))
      throw new SealError(
        'not a grid model (no seal_grid_world.json): train one with `seal pretrain --domain grids`',
        model,
      );
    return model;
  }
  const dir = assetPath(GRID_DEFAULT_MODEL);
  if (!existsSync(dir))
    throw new UsageError(
      `the bundled grid model is missing (${dir}): reinstall seal-ts, or pass --model DIR (the model/ directory of \`seal pretrain --domain grids --out DIR\`)`,
    );
  return dir;
}

export async function loadGridModel(modelDir: string): Promise<{ model: Transformer; tok: Tokenizer }> {
  const { model } = await loadModel(modelDir);
  const tok = loadTokenizer(modelDir, { vocabSize: model.config.vocabSize });
  return { model, tok };
}

/** Refuses a task whose solve prompt and longest possible answer do not fit the model's context. */
export function checkTaskFits(task: GridTask, model: Transformer, tok: Tokenizer, file: string): void {
  const answer = answerTokenBound(visibleMaxSide(task));
  for (let i = 0; i < task.test.length; i++) {
    const prompt = tok.encode(solvePrompt(task, i), { addBos: true }).length;
    if (prompt + Math.min(answer, 16) > model.config.maxSeqLen)
      throw new SealError(
        `task ${task.id} is too long for the model: test input ${i + 1}'s solve prompt is ${prompt} tokens and the model's context ${model.config.maxSeqLen}`,
        file,
      );
  }
}

/** The file `seal adapt --domain grids` writes next to the adapter: the recipe it trained (and how it went). */
export const ADAPTER_RECIPE_FILE = 'recipe.json';

/**
 * The recipe an adapter directory was trained with (its `recipe.json`, field `text`), or undefined when the directory
 * has none (an adapter from elsewhere). A recipe.json that does not parse is an error naming it.
 */
export function readAdapterRecipe(adapterDir: string): Recipe | undefined {
  const file = join(adapterDir, ADAPTER_RECIPE_FILE);
  if (!existsSync(file)) return undefined;
  let record: unknown;
  try {
    record = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new SealError(`not JSON: ${(e as Error).message}`, file);
  }
  const text = z.object({ text: z.string() }).safeParse(record);
  if (!text.success) throw new SealError('field "text": expected the recipe text (a string)', file);
  const parsed = parseRecipe(text.data.text);
  if (!parsed.ok) throw new SealError(`field "text": malformed recipe: ${parsed.reason}`, file);
  return parsed.recipe;
}
