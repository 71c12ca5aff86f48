/**
 * ARC-style grids: the Grid and task types, validation, the ONE text serialisation a small language model reads and
 * writes, parsing of a model's predicted grid, and exact-match scoring.
 *
 * A grid is a list of rows of colours 0–9 (0 is the background), at least 1×1 and at most 30×30, rectangular.
 *
 * ## Text serialisation
 *
 * A grid is its rows, top to bottom, each written as its colours' digits with no separators, each row ended by a
 * newline:
 *
 *     0120\n
 *     3400\n
 *
 * A demonstration pair is a block: the marker line `in`, the input grid, the marker line `out`, the output grid, and
 * an empty line that ends the block. A task's text is its blocks one after another, demonstrations first, then the
 * test pair. The in-context "solve" prompt is every demonstration block followed by the test pair cut right after
 * its `out` line; the model's answer is the output grid ended by the empty line, so `ANSWER_STOP` (`\n\n`) ends
 * generation and the answer text is what a training sequence has at that place:
 *
 *     in          ┐
 *     012         │ demonstration 1
 *     340         │
 *     out         │
 *     210         │
 *     043         │
 *                 ┘ (empty line)
 *     in          ┐
 *     11          │ demonstration 2
 *     out         │
 *     22          │
 *                 ┘
 *     in          ┐ test input
 *     55          │
 *     out         ┘ ← the prompt ends here ("out\n")
 *     66          ← the answer the model writes, then an empty line
 *
 * Every character of this format is one of `GRID_ALPHABET` (the digits, `i`, `n`, `o`, `u`, `t` and the newline),
 * so with a character-level tokenizer one character is one token: an h×w grid costs h·(w+1) tokens and a pair block
 * `in\n` + `out\n` + `\n` = 8 tokens on top of its grids (`taskTextLength`). A byte-level BPE with the GPT-2
 * pre-tokenizer would merge runs of digits into arbitrary multi-digit tokens, which breaks the cell alignment a
 * small model relies on: give grid models a tokenizer whose vocabulary holds every digit as its own token and no
 * merges across digits.
 */

/** Side limits of an ARC grid (the ARC-AGI file format allows 1×1 to 30×30). */
export const MAX_GRID_SIDE = 30;
/** Colours are the integers 0–9; 0 is the background. */
export const NUM_COLOURS = 10;

/** Rows of colours 0–9, top to bottom. Functions here never mutate a grid; new grids are plain `number[][]`. */
export type Grid = readonly (readonly number[])[];

/** One input → output example. */
export interface GridPair {
  readonly input: Grid;
  readonly output: Grid;
}

/** A test pair: the output is absent when the solution is not known (an unsolved challenge). */
export interface TestPair {
  readonly input: Grid;
  readonly output?: Grid;
}

/** A few-shot grid task: demonstrations (`train`) and held-out test inputs, as in ARC-AGI. */
export interface GridTask {
  readonly id: string;
  readonly train: readonly GridPair[];
  readonly test: readonly TestPair[];
}

// ---------------------------------------------------------------------------------------------------------------
// Validation

/** Where a grid is invalid: `path` indexes into the grid (`[row]` or `[row, column]`), `message` says why. */
export interface GridIssue {
  readonly path: readonly number[];
  readonly message: string;
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value;
}

/** Why `value` is not a valid grid (the first problem found, row by row), or null when it is one. */
export function gridIssue(value: unknown): GridIssue | null {
  if (!Array.isArray(value))
    return { path: [], message: `expected a grid (a list of rows), got ${describeValue(value)}` };
  if (value.length === 0) return { path: [], message: 'empty grid (no rows)' };
  if (value.length > MAX_GRID_SIDE)
    return { path: [], message: `grid has ${value.length} rows, more than ${MAX_GRID_SIDE}` };
  let width = -1;
  for (let r = 0; r < value.length; r++) {
    const row: unknown = value[r];
    if (!Array.isArray(row))
      return { path: [r], message: `expected a row (a list of colours), got ${describeValue(row)}` };
    if (row.length === 0) return { path: [r], message: 'empty row' };
    if (row.length > MAX_GRID_SIDE)
      return { path: [r], message: `row has ${row.length} cells, more than ${MAX_GRID_SIDE}` };
    if (width === -1) width = row.length;
    else if (row.length !== width)
      return { path: [r], message: `ragged grid: row has ${row.length} cells, row 0 has ${width}` };
    for (let c = 0; c < row.length; c++) {
      const cell: unknown = row[c];
      if (typeof cell !== 'number' || !Number.isInteger(cell) || cell < 0 || cell >= NUM_COLOURS)
        return { path: [r, c], message: `expected a colour 0–9, got ${describeValue(cell)}` };
    }
  }
  return null;
}

export function isGrid(value: unknown): value is Grid {
  return gridIssue(value) === null;
}

export function gridHeight(grid: Grid): number {
  return grid.length;
}

export function gridWidth(grid: Grid): number {
  return grid[0]?.length ?? 0;
}

/** A fresh h×w grid filled with `colour`. */
export function makeGrid(height: number, width: number, colour = 0): number[][] {
  return Array.from({ length: height }, () => new Array<number>(width).fill(colour));
}

/** A mutable deep copy. */
export function copyGrid(grid: Grid): number[][] {
  return grid.map((row) => [...row]);
}

export function gridsEqual(a: Grid, b: Grid): boolean {
  if (a.length !== b.length) return false;
  for (let r = 0; r < a.length; r++) {
    const ra = a[r]!;
    const rb = b[r]!;
    if (ra.length !== rb.length) return false;
    for (let c = 0; c < ra.length; c++) if (ra[c] !== rb[c]) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------------------
// Serialisation

/** Every character the task text uses (for a character-level vocabulary). */
export const GRID_ALPHABET = '0123456789\ninout';
/** Marker lines of a pair block. */
export const INPUT_MARKER = 'in';
export const OUTPUT_MARKER = 'out';
/** Generation stops at the empty line that ends an answer. */
export const ANSWER_STOP: readonly string[] = ['\n\n'];

/** The grid's rows as digit strings joined by newlines, without a final newline (e.g. `012\n340`). */
export function gridToText(grid: Grid): string {
  return grid.map((row) => row.join('')).join('\n');
}

/** One pair block: `in\n<input>\nout\n<output>\n\n`. */
export function pairText(pair: GridPair): string {
  return `${INPUT_MARKER}\n${gridToText(pair.input)}\n${OUTPUT_MARKER}\n${gridToText(pair.output)}\n\n`;
}

/** The demonstration blocks of a task, concatenated (the shared context of the solve and recipe prompts). */
export function demonstrationsText(pairs: readonly GridPair[]): string {
  return pairs.map(pairText).join('');
}

/** The query part of a solve prompt: `in\n<input>\nout\n`. */
export function queryText(input: Grid): string {
  return `${INPUT_MARKER}\n${gridToText(input)}\n${OUTPUT_MARKER}\n`;
}

/** What the model writes after the solve prompt: the output grid and the empty line that ends it. */
export function answerText(output: Grid): string {
  return `${gridToText(output)}\n\n`;
}

/**
 * The in-context solve prompt for test input `testIndex`: every demonstration block, then `in\n<test input>\nout\n`.
 * `solvePrompt(task) + answerText(expected)` is exactly `taskText` for a task with one test pair.
 */
export function solvePrompt(task: Pick<GridTask, 'train' | 'test'>, testIndex = 0): string {
  const test = task.test[testIndex];
  if (test === undefined)
    throw new RangeError(
      `solvePrompt: test index ${testIndex} out of range (${task.test.length} test pairs)`,
    );
  return demonstrationsText(task.train) + queryText(test.input);
}

/** The whole task as text: demonstrations, then test pairs (each test pair needs its output). */
export function taskText(task: Pick<GridTask, 'train' | 'test'>): string {
  const tests = task.test.map((t, i) => {
    if (t.output === undefined) throw new RangeError(`taskText: test pair ${i} has no output`);
    return { input: t.input, output: t.output };
  });
  return demonstrationsText([...task.train, ...tests]);
}

/** Characters (= tokens under a character-level tokenizer) of `taskText` for the same pairs, without building it. */
export function taskTextLength(pairs: readonly { readonly input: Grid; readonly output?: Grid }[]): number {
  let n = 0;
  const gridChars = (g: Grid) => g.length * (gridWidth(g) + 1);
  for (const p of pairs) n += 8 + gridChars(p.input) + (p.output === undefined ? 0 : gridChars(p.output));
  return n;
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing

export type GridParse =
  | { readonly ok: true; readonly grid: number[][] }
  | { readonly ok: false; readonly reason: string };

/**
 * Parses grid text: rows of digits separated by newlines. Lenient only where it cannot change the meaning: `\r` and
 * trailing spaces/tabs on a line are ignored, as are empty lines before the grid; the grid ends at the first empty
 * line after it (the answer's terminator) or at the end of the text. Never throws: malformed text (no rows, a
 * character other than a digit, ragged rows, more than 30 rows or columns) gives `{ok: false, reason}` naming the
 * row (1-based, as a person counts lines).
 */
export function parseGrid(text: string): GridParse {
  if (typeof text !== 'string') return { ok: false, reason: 'not text' };
  const lines = text.split('\n').map((l) => l.replace(/[ \t\r]+$/, ''));
  let start = 0;
  while (start < lines.length && lines[start] === '') start++;
  let end = start;
  while (end < lines.length && lines[end] !== '') end++;
  const rows = lines.slice(start, end);
  if (rows.length === 0) return { ok: false, reason: 'no grid rows' };
  if (rows.length > MAX_GRID_SIDE)
    return { ok: false, reason: `${rows.length} rows, more than ${MAX_GRID_SIDE}` };
  const grid: number[][] = [];
  const width = rows[0]!.length;
  for (let r = 0; r < rows.length; r++) {
    const line = rows[r]!;
    const bad = /[^0-9]/.exec(line);
    if (bad !== null)
      return {
        ok: false,
        reason: `row ${r + 1}: ${JSON.stringify(bad[0])} at column ${bad.index + 1} is not a colour digit`,
      };
    if (line.length > MAX_GRID_SIDE)
      return { ok: false, reason: `row ${r + 1}: ${line.length} cells, more than ${MAX_GRID_SIDE}` };
    if (line.length !== width)
      return { ok: false, reason: `ragged grid: row ${r + 1} has ${line.length} cells, row 1 has ${width}` };
    grid.push(Array.from(line, Number));
  }
  return { ok: true, grid };
}

/** Parses a model's answer (the continuation of a solve prompt); the same rules as `parseGrid`. */
export const parseAnswer = parseGrid;

export type TaskTextParse =
  | { readonly ok: true; readonly pairs: GridPair[] }
  | { readonly ok: false; readonly reason: string };

/**
 * Parses task text (`taskText`, `demonstrationsText`) back into its pairs, in order. Strict: every block must be
 * `in`, grid, `out`, grid, empty line. Never throws.
 */
export function parseTaskText(text: string): TaskTextParse {
  if (typeof text !== 'string') return { ok: false, reason: 'not text' };
  if (!text.endsWith('\n\n')) return { ok: false, reason: 'task text must end with an empty line' };
  const blocks = text.slice(0, -2).split('\n\n');
  const pairs: GridPair[] = [];
  for (let b = 0; b < blocks.length; b++) {
    const lines = blocks[b]!.split('\n');
    const outAt = lines.indexOf(OUTPUT_MARKER);
    if (lines[0] !== INPUT_MARKER || outAt < 2 || outAt === lines.length - 1)
      return { ok: false, reason: `block ${b + 1}: expected "in", input rows, "out", output rows` };
    const input = parseGrid(lines.slice(1, outAt).join('\n'));
    if (!input.ok) return { ok: false, reason: `block ${b + 1} input: ${input.reason}` };
    const output = parseGrid(lines.slice(outAt + 1).join('\n'));
    if (!output.ok) return { ok: false, reason: `block ${b + 1} output: ${output.reason}` };
    pairs.push({ input: input.grid, output: output.grid });
  }
  return { ok: true, pairs };
}

// ---------------------------------------------------------------------------------------------------------------
// Scoring

/** 1 when the answer text parses to exactly the expected grid (same size, every cell), else 0. */
export function scoreAnswer(answer: string, expected: Grid): 0 | 1 {
  const parsed = parseGrid(answer);
  return parsed.ok && gridsEqual(parsed.grid, expected) ? 1 : 0;
}

/**
 * Exact-match scorer with the shape of the tasks' `Scorer` (`score(prediction, golds)`): golds are grids as text
 * (`gridToText`); 1 when the prediction parses to any of them.
 */
export const gridExactScorer = {
  name: 'grid_exact_match',
  score(prediction: string, golds: readonly string[]): number {
    const parsed = parseGrid(prediction);
    if (!parsed.ok) return 0;
    for (const gold of golds) {
      const g = parseGrid(gold);
      if (g.ok && gridsEqual(parsed.grid, g.grid)) return 1;
    }
    return 0;
  },
} as const;
