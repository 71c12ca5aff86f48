/**
 * ARC-AGI JSON in its two layouts, read and written:
 *
 * - one task per file, `<id>.json` = `{"train": [{"input", "output"}], "test": [{"input", "output"?}]}`
 *   (fchollet/ARC-AGI `data/training/*.json`); the id is the file name without `.json`;
 * - the Kaggle pair: challenges `{"<id>": {"train": [...], "test": [{"input"}]}}` and solutions
 *   `{"<id>": [<output grid of test input 0>, ...]}` (e.g. SEAL's `arc-agi_training_challenges_filtered_1B_...`).
 *
 * Every grid is validated (rectangular, 1×1 to 30×30, colours 0–9); a malformed file throws a SealError naming the
 * file and the field path, e.g. `training/007bbfcf.json: train[2].output[3][1]: expected a colour 0–9, got 12`.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { fail } from '../../errors.js';
import { type Grid, type GridTask, gridIssue, type TestPair } from './grid.js';

/** A grid, checked cell by cell by `gridIssue` so errors point at the exact row and column. */
export const GridSchema = z.unknown().superRefine((value, ctx) => {
  const issue = gridIssue(value);
  if (issue === null) return;
  ctx.addIssue({
    code: 'custom',
    message: value === undefined ? 'missing (expected a grid)' : issue.message,
    path: [...issue.path],
  });
}) as unknown as z.ZodType<number[][]>;

const PairSchema = z.object({ input: GridSchema, output: GridSchema });
const TestPairSchema = z.object({ input: GridSchema, output: GridSchema.optional() });
const nonEmpty = (what: string) => ({ message: `needs at least one ${what}` });

/** One task per file. Unknown top-level keys are ignored. */
export const ArcTaskFileSchema = z.object({
  train: z.array(PairSchema).min(1, nonEmpty('demonstration pair')),
  test: z.array(TestPairSchema).min(1, nonEmpty('test pair')),
});

/** Kaggle challenges: test pairs carry only their inputs. */
export const ArcChallengesSchema = z.record(
  z.string(),
  z.object({
    train: z.array(PairSchema).min(1, nonEmpty('demonstration pair')),
    test: z.array(z.object({ input: GridSchema })).min(1, nonEmpty('test input')),
  }),
);

/** Kaggle solutions: one output grid per test input, in order. */
export const ArcSolutionsSchema = z.record(z.string(), z.array(GridSchema).min(1, nonEmpty('solution grid')));

export type ArcTaskFile = z.output<typeof ArcTaskFileSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Errors

/** `train[2].output[3][1]`, the way a reader indexes the JSON. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : typeof value;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

function validate<T>(schema: z.ZodType<T>, json: unknown, file: string): T {
  const result = schema.safeParse(json);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  let message = issue.message;
  if (issue.code === 'invalid_type') {
    const value = valueAt(json, issue.path);
    const expected =
      issue.expected === 'array' ? 'a list' : issue.expected === 'object' ? 'an object' : issue.expected;
    message =
      value === undefined ? `missing (expected ${expected})` : `expected ${expected}, got ${kindOf(value)}`;
  }
  const where = formatPath(issue.path);
  return fail(where === '' ? message : `${where}: ${message}`, file);
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    return fail(`not valid JSON (${error instanceof Error ? error.message : String(error)})`, file);
  }
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const reason = error instanceof Error && 'code' in error ? String(error.code) : String(error);
    return fail(`cannot read ${what} (${reason})`, path);
  }
}

function toTestPair(t: { input: Grid; output?: Grid | undefined }): TestPair {
  return t.output === undefined ? { input: t.input } : { input: t.input, output: t.output };
}

// ---------------------------------------------------------------------------------------------------------------
// One task per file

/** The task id a file name gives: `dir/007bbfcf.json` → `007bbfcf`. */
export function arcIdFromPath(path: string): string {
  return basename(path).replace(/\.json$/i, '');
}

/** Parses one task file's text; `file` names the file in errors and gives the id (unless `id` is passed). */
export function parseArcTask(text: string, file: string, id = arcIdFromPath(file)): GridTask {
  const data = validate(ArcTaskFileSchema, parseJson(text, file), file);
  return { id, train: data.train, test: data.test.map(toTestPair) };
}

export async function loadArcTask(path: string): Promise<GridTask> {
  return parseArcTask(await readText(path, 'ARC task file'), path);
}

/** Every `*.json` task in `dir`, sorted by file name (so by id); a bad file fails the load, naming it. */
export async function loadArcDir(dir: string): Promise<GridTask[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    const reason = error instanceof Error && 'code' in error ? String(error.code) : String(error);
    return fail(`cannot read ARC task directory (${reason})`, dir);
  }
  const files = names.filter((n) => n.toLowerCase().endsWith('.json')).sort();
  if (files.length === 0) fail('no *.json ARC task files', dir);
  // Read in parallel, but report the first bad file in name order, so the error does not depend on timing.
  const results = await Promise.allSettled(files.map((name) => loadArcTask(join(dir, name))));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<GridTask>).value);
}

/** The per-file JSON object of a task (test outputs included where known). */
export function arcTaskToJson(task: GridTask): ArcTaskFile {
  return {
    train: task.train.map((p) => ({
      input: p.input.map((r) => [...r]),
      output: p.output.map((r) => [...r]),
    })),
    test: task.test.map((t) => ({
      input: t.input.map((r) => [...r]),
      ...(t.output === undefined ? {} : { output: t.output.map((r) => [...r]) }),
    })),
  };
}

/** Writes `task` as one ARC task file (compact JSON, like the public files, with a final newline). */
export async function writeArcTask(path: string, task: GridTask): Promise<void> {
  await writeFile(path, `${JSON.stringify(arcTaskToJson(task))}\n`);
}

// ---------------------------------------------------------------------------------------------------------------
// Kaggle challenges + solutions

/**
 * Parses a challenges file and, when given, its solutions file. With solutions, every challenge id must have
 * exactly one solution grid per test input, and the solutions file must not name ids the challenges lack;
 * without, test outputs are left absent. Tasks come back in the challenges file's key order.
 */
export function parseArcChallenges(
  challenges: { readonly text: string; readonly file: string },
  solutions?: { readonly text: string; readonly file: string },
): GridTask[] {
  const ch = validate(ArcChallengesSchema, parseJson(challenges.text, challenges.file), challenges.file);
  const sol =
    solutions === undefined
      ? undefined
      : validate(ArcSolutionsSchema, parseJson(solutions.text, solutions.file), solutions.file);
  if (Object.keys(ch).length === 0) fail('no tasks', challenges.file);
  const tasks: GridTask[] = [];
  for (const [id, task] of Object.entries(ch)) {
    if (sol === undefined || solutions === undefined) {
      tasks.push({ id, train: task.train, test: task.test.map((t) => ({ input: t.input })) });
      continue;
    }
    const outputs = sol[id];
    if (outputs === undefined) fail(`${id}: missing (no solution for challenge ${id})`, solutions.file);
    if (outputs.length !== task.test.length) {
      fail(
        `${id}: ${outputs.length} solution grid(s) for ${task.test.length} test input(s) in ${challenges.file}`,
        solutions.file,
      );
    }
    tasks.push({
      id,
      train: task.train,
      test: task.test.map((t, i) => ({ input: t.input, output: outputs[i]! })),
    });
  }
  if (sol !== undefined && solutions !== undefined) {
    const extra = Object.keys(sol).find((id) => !(id in ch));
    if (extra !== undefined) fail(`${extra}: solution for a task not in ${challenges.file}`, solutions.file);
  }
  return tasks;
}

/** Reads a Kaggle challenges file and (optionally) its solutions; see `parseArcChallenges`. */
export async function loadArcChallenges(challengesPath: string, solutionsPath?: string): Promise<GridTask[]> {
  const challenges = { text: await readText(challengesPath, 'ARC challenges file'), file: challengesPath };
  if (solutionsPath === undefined) return parseArcChallenges(challenges);
  return parseArcChallenges(challenges, {
    text: await readText(solutionsPath, 'ARC solutions file'),
    file: solutionsPath,
  });
}

/**
 * The Kaggle pair for `tasks`: challenges (test inputs only) and solutions (one grid per test input; a task whose
 * test outputs are not all known is left out of the solutions).
 */
export function arcChallengesToJson(tasks: readonly GridTask[]): {
  challenges: Record<string, { train: ArcTaskFile['train']; test: { input: number[][] }[] }>;
  solutions: Record<string, number[][][]>;
} {
  const challenges: Record<string, { train: ArcTaskFile['train']; test: { input: number[][] }[] }> = {};
  const solutions: Record<string, number[][][]> = {};
  for (const task of tasks) {
    if (task.id in challenges) throw new RangeError(`arcChallengesToJson: duplicate task id ${task.id}`);
    const json = arcTaskToJson(task);
    challenges[task.id] = { train: json.train, test: json.test.map((t) => ({ input: t.input })) };
    if (json.test.every((t) => t.output !== undefined)) solutions[task.id] = json.test.map((t) => t.output!);
  }
  return { challenges, solutions };
}
