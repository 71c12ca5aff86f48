import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ANSWER_STOP,
  answerText,
  GRID_ALPHABET,
  type GridTask,
  gridExactScorer,
  gridIssue,
  gridsEqual,
  gridToText,
  isGrid,
  makeGrid,
  parseAnswer,
  parseGrid,
  parseTaskText,
  scoreAnswer,
  solvePrompt,
  taskText,
  taskTextLength,
} from '../src/tasks/grids/grid.js';
import type { Scorer } from '../src/tasks/types.js';
import { ROOT } from './helpers/paths.js';

const TASK: GridTask = {
  id: 'demo',
  train: [
    {
      input: [
        [0, 1, 2],
        [3, 4, 0],
      ],
      output: [
        [2, 1, 0],
        [0, 4, 3],
      ],
    },
    { input: [[1, 1]], output: [[2, 2]] },
  ],
  test: [{ input: [[5, 5]], output: [[6, 6]] }],
};

describe('grid validation', () => {
  it('accepts rectangular grids of colours 0–9 up to 30×30', () => {
    expect(gridIssue([[0]])).toBeNull();
    expect(isGrid(makeGrid(30, 30, 9))).toBe(true);
    expect(isGrid(makeGrid(1, 30))).toBe(true);
  });
  it('names the row and column of the first problem', () => {
    expect(gridIssue([])).toEqual({ path: [], message: 'empty grid (no rows)' });
    expect(gridIssue([[1, 2], [3]])).toEqual({
      path: [1],
      message: 'ragged grid: row has 1 cells, row 0 has 2',
    });
    expect(gridIssue([[1], []])?.message).toBe('empty row');
    expect(
      gridIssue([
        [0, 1],
        [2, 12],
      ]),
    ).toEqual({ path: [1, 1], message: 'expected a colour 0–9, got 12' });
    expect(gridIssue([[0, 1.5]])?.message).toBe('expected a colour 0–9, got 1.5');
    expect(gridIssue([[0, '3']])?.message).toBe('expected a colour 0–9, got "3"');
    expect(gridIssue([[-1]])?.path).toEqual([0, 0]);
    expect(gridIssue('0123')?.message).toBe('expected a grid (a list of rows), got "0123"');
    expect(gridIssue([5])).toEqual({ path: [0], message: 'expected a row (a list of colours), got 5' });
    expect(gridIssue(makeGrid(31, 2))?.message).toBe('grid has 31 rows, more than 30');
    expect(gridIssue(makeGrid(2, 31))?.message).toBe('row has 31 cells, more than 30');
  });
});

describe('text serialisation', () => {
  it('writes rows of digits and pair blocks with in/out markers', () => {
    expect(gridToText(TASK.train[0]!.input)).toBe('012\n340');
    expect(solvePrompt(TASK)).toBe('in\n012\n340\nout\n210\n043\n\nin\n11\nout\n22\n\nin\n55\nout\n');
    expect(answerText([[6, 6]])).toBe('66\n\n');
    expect(taskText(TASK)).toBe(solvePrompt(TASK) + answerText([[6, 6]]));
    expect(ANSWER_STOP).toEqual(['\n\n']);
  });
  it('uses only the documented alphabet and predicts its own length', () => {
    const text = taskText(TASK);
    for (const ch of text) expect(GRID_ALPHABET).toContain(ch);
    expect(taskTextLength([...TASK.train, ...TASK.test])).toBe(text.length);
  });
  it('round-trips a task through parseTaskText', () => {
    const parsed = parseTaskText(taskText(TASK));
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(parsed.pairs).toEqual([...TASK.train, ...TASK.test]);
  });
  it('rejects malformed task text with the block at fault', () => {
    expect(parseTaskText('in\n12\nout\n34\n')).toEqual({
      ok: false,
      reason: 'task text must end with an empty line',
    });
    const bad = parseTaskText('in\n12\nout\n34\n\nin\n1x\nout\n2\n\n');
    expect(bad).toEqual({ ok: false, reason: 'block 2 input: row 1: "x" at column 2 is not a colour digit' });
    expect(parseTaskText('in\n12\n34\n\n').ok).toBe(false);
  });
  it('throws (a programming error) on a missing test index or output', () => {
    expect(() => solvePrompt(TASK, 1)).toThrow(/test index 1/);
    expect(() => taskText({ train: TASK.train, test: [{ input: [[1]] }] })).toThrow(/no output/);
  });
});

describe('parsing a predicted grid', () => {
  it('reads rows up to the empty line that ends the answer', () => {
    expect(parseAnswer('210\n043\n\nin\n99\n')).toEqual({
      ok: true,
      grid: [
        [2, 1, 0],
        [0, 4, 3],
      ],
    });
    expect(parseGrid('7')).toEqual({ ok: true, grid: [[7]] });
    expect(parseGrid('\n\n12 \r\n34\t\n')).toEqual({
      ok: true,
      grid: [
        [1, 2],
        [3, 4],
      ],
    });
  });
  it('returns a reason, never throws, on malformed text', () => {
    expect(parseGrid('')).toEqual({ ok: false, reason: 'no grid rows' });
    expect(parseGrid('\n\n\n')).toEqual({ ok: false, reason: 'no grid rows' });
    expect(parseGrid('12\n3')).toEqual({ ok: false, reason: 'ragged grid: row 2 has 1 cells, row 1 has 2' });
    expect(parseGrid('12\n3a')).toEqual({
      ok: false,
      reason: 'row 2: "a" at column 2 is not a colour digit',
    });
    expect(parseGrid('1 2')).toEqual({ ok: false, reason: 'row 1: " " at column 2 is not a colour digit' });
    expect(parseGrid('-1')).toMatchObject({ ok: false });
    expect(parseGrid('1'.repeat(31))).toEqual({ ok: false, reason: 'row 1: 31 cells, more than 30' });
    expect(parseGrid(Array(31).fill('1').join('\n'))).toEqual({ ok: false, reason: '31 rows, more than 30' });
    expect(parseGrid(undefined as unknown as string)).toEqual({ ok: false, reason: 'not text' });
  });
});

describe('exact-match scoring', () => {
  it('compares size and every cell', () => {
    expect(gridsEqual([[1, 2]], [[1, 2]])).toBe(true);
    expect(gridsEqual([[1, 2]], [[1], [2]])).toBe(false);
    expect(gridsEqual([[1, 2]], [[1, 3]])).toBe(false);
    expect(scoreAnswer('66\n\n', [[6, 6]])).toBe(1);
    expect(scoreAnswer('66', [[6, 6]])).toBe(1);
    expect(scoreAnswer('67', [[6, 6]])).toBe(0);
    expect(scoreAnswer('66\n66', [[6, 6]])).toBe(0);
    expect(scoreAnswer('garbage', [[6, 6]])).toBe(0);
  });
  it('has the Scorer shape with golds as grid text', () => {
    expect(gridExactScorer.score('12\n34\n\n', ['99', '12\n34'])).toBe(1);
    expect(gridExactScorer.score('12\n35', ['12\n34'])).toBe(0);
    const scorer: Scorer = gridExactScorer;
    expect(scorer.name).toBe('grid_exact_match');
  });
});

describe('data layer boundary', () => {
  it('src/tasks/grids imports only its own files, the tasks layer types, src/util, src/errors, zod and node built-ins', () => {
    const dir = join(ROOT, 'src', 'tasks', 'grids');
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      const source = readFileSync(join(dir, file), 'utf8');
      for (const [, spec] of source.matchAll(/from '([^']+)'/g)) {
        const allowed =
          /^(\.\/[\w-]+\.js|\.\.\/types\.js|\.\.\/\.\.\/util\/[\w-]+\.js|\.\.\/\.\.\/errors\.js|zod|node:[\w/]+)$/;
        expect(spec, `${file} imports ${spec}`).toMatch(allowed);
      }
    }
  });
});
