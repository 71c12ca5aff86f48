import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SealError } from '../src/errors.js';
import {
  arcChallengesToJson,
  loadArcChallenges,
  loadArcDir,
  loadArcTask,
  parseArcChallenges,
  parseArcTask,
  writeArcTask,
} from '../src/tasks/grids/arc.js';
import { type GridTask, isGrid, parseTaskText, taskText } from '../src/tasks/grids/grid.js';
import { SHARED } from './helpers/paths.js';

const ARC = join(SHARED, 'arc');
const TRAINING = join(ARC, 'training');
const CHALLENGES = join(ARC, 'arc-agi_training_challenges_filtered_1B_training_set.json');
const SOLUTIONS = join(ARC, 'arc-agi_training_solutions_filtered_1B_training_set.json');
const haveArc = existsSync(TRAINING) && existsSync(CHALLENGES) && existsSync(SOLUTIONS);
const SKIP_NOTE = haveArc ? '' : ` (skipped: ${ARC} is absent)`;
const SEAL_IDS = [
  '44f52bb0',
  '4be741c5',
  '5582e5ca',
  '5614dbcf',
  '5bd6f4ac',
  '6150a2bd',
  '67e8384a',
  '6d0aefbc',
  '6e02f1e3',
  '8be77c9e',
  '8d5021e8',
  '8e1813be',
];

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'grids-arc-'));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function errorOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SealError);
  return (error as Error).message;
}

const GOOD = {
  train: [
    { input: [[1, 0]], output: [[0, 1]] },
    { input: [[2, 0]], output: [[0, 2]] },
  ],
  test: [{ input: [[3, 0]], output: [[0, 3]] }],
};

describe('real ARC-AGI files', () => {
  it.runIf(haveArc)(`loads all 400 public training tasks${SKIP_NOTE}`, async () => {
    const tasks = await loadArcDir(TRAINING);
    expect(tasks).toHaveLength(400);
    expect(tasks[0]!.id).toBe('007bbfb7');
    expect(new Set(tasks.map((t) => t.id)).size).toBe(400);
    for (const t of tasks) {
      expect(t.train.length).toBeGreaterThan(0);
      expect(t.test.length).toBeGreaterThan(0);
      for (const p of [...t.train, ...t.test]) {
        expect(isGrid(p.input)).toBe(true);
        expect(p.output !== undefined && isGrid(p.output)).toBe(true);
      }
      // Every real task survives the text serialisation.
      const parsed = parseTaskText(taskText(t));
      expect(parsed.ok && parsed.pairs.length === t.train.length + t.test.length).toBe(true);
    }
  });

  it.runIf(haveArc)(`loads SEAL's 12 RL tasks with their solutions${SKIP_NOTE}`, async () => {
    const tasks = await loadArcChallenges(CHALLENGES, SOLUTIONS);
    expect(tasks.map((t) => t.id).sort()).toEqual(SEAL_IDS);
    expect(tasks.every((t) => t.test.every((p) => p.output !== undefined))).toBe(true);
    expect(tasks.find((t) => t.id === '44f52bb0')!.test).toHaveLength(2);
    // Without the solutions file the test outputs are absent.
    const unsolved = await loadArcChallenges(CHALLENGES);
    expect(unsolved.every((t) => t.test.every((p) => p.output === undefined))).toBe(true);
    // The same tasks are among the 400 public ones, with the same grids.
    const single = await loadArcTask(join(TRAINING, '6150a2bd.json'));
    expect(tasks.find((t) => t.id === '6150a2bd')).toEqual(single);
  });
});

describe('one task per file', () => {
  it('round-trips through writeArcTask', async () => {
    const dir = await tempDir();
    const task: GridTask = { id: 'abc', ...GOOD };
    await writeArcTask(join(dir, 'abc.json'), task);
    expect(await loadArcTask(join(dir, 'abc.json'))).toEqual(task);
    const noOutput: GridTask = { id: 'u', train: GOOD.train, test: [{ input: [[1]] }] };
    await writeArcTask(join(dir, 'u.json'), noOutput);
    expect(await loadArcTask(join(dir, 'u.json'))).toEqual(noOutput);
  });

  it('names the file and the field path of the first problem', async () => {
    const root = await tempDir();
    const dir = join(root, 'training');
    await mkdir(dir);
    const write = async (name: string, json: unknown) => {
      const path = join(dir, name);
      await writeFile(path, typeof json === 'string' ? json : JSON.stringify(json));
      return path;
    };
    const cases: [unknown, string][] = [
      [
        { ...GOOD, train: [...GOOD.train, { input: [[1]], output: [[1], [2], [3], [4, 12]] }] },
        'train[2].output[3]: ragged grid: row has 2 cells, row 0 has 1',
      ],
      [
        {
          ...GOOD,
          train: [
            ...GOOD.train,
            GOOD.train[0],
            {
              input: [[1]],
              output: [
                [1, 1],
                [2, 2],
                [3, 3],
                [4, 12],
              ],
            },
          ],
        },
        'train[3].output[3][1]: expected a colour 0–9, got 12',
      ],
      [{ ...GOOD, test: [{ input: [] }] }, 'test[0].input: empty grid (no rows)'],
      [{ ...GOOD, test: [{ input: [[]] }] }, 'test[0].input[0]: empty row'],
      [{ ...GOOD, test: [{ input: Array(31).fill([0]) }] }, 'test[0].input: grid has 31 rows, more than 30'],
      [
        { ...GOOD, test: [{ input: [Array(31).fill(0)] }] },
        'test[0].input[0]: row has 31 cells, more than 30',
      ],
      [{ ...GOOD, test: [{ output: [[1]] }] }, 'test[0].input: missing (expected a grid)'],
      [{ ...GOOD, test: [] }, 'test: needs at least one test pair'],
      [{ test: GOOD.test }, 'train: missing (expected a list)'],
      [{ ...GOOD, train: {} }, 'train: expected a list, got an object'],
      [[1, 2], 'expected an object, got a list'],
      ['{"train": [', 'not valid JSON'],
    ];
    for (const [i, [json, message]] of cases.entries()) {
      const path = await write(`bad${i}.json`, json);
      expect(await errorOf(loadArcTask(path))).toContain(`${path}: ${message}`);
    }
    expect(() => parseArcTask('{"train": 1, "test": []}', 'training/007bbfcf.json')).toThrow(
      /^training\/007bbfcf\.json: train: expected a list, got number$/,
    );
    // The public example from the brief, as the loader phrases it for a relative path.
    const bad = {
      ...GOOD,
      train: [
        ...GOOD.train,
        {
          input: [[0]],
          output: [
            [0, 0],
            [0, 0],
            [0, 0],
            [0, 12],
          ],
        },
      ],
    };
    expect(() => parseArcTask(JSON.stringify(bad), 'training/007bbfcf.json')).toThrow(
      'training/007bbfcf.json: train[2].output[3][1]: expected a colour 0–9, got 12',
    );
    // A directory load stops at the bad file and names it.
    expect(await errorOf(loadArcDir(dir))).toContain(join(dir, 'bad0.json'));
    expect(await errorOf(loadArcTask(join(dir, 'missing.json')))).toContain(
      'cannot read ARC task file (ENOENT)',
    );
    expect(await errorOf(loadArcDir(join(root, 'nowhere')))).toContain('cannot read ARC task directory');
  });
});

describe('Kaggle challenges + solutions', () => {
  const tasks: GridTask[] = [
    { id: 't1', ...GOOD },
    {
      id: 't2',
      train: GOOD.train,
      test: [
        { input: [[4]], output: [[5]] },
        { input: [[6]], output: [[7]] },
      ],
    },
  ];

  it('round-trips through arcChallengesToJson', () => {
    const { challenges, solutions } = arcChallengesToJson(tasks);
    expect(challenges['t2']!.test).toEqual([{ input: [[4]] }, { input: [[6]] }]);
    expect(solutions['t2']).toEqual([[[5]], [[7]]]);
    const back = parseArcChallenges(
      { text: JSON.stringify(challenges), file: 'c.json' },
      { text: JSON.stringify(solutions), file: 's.json' },
    );
    expect(back).toEqual(tasks);
  });

  it('rejects missing, short or extra solutions and bad grids, naming file and id', async () => {
    const dir = await tempDir();
    const { challenges, solutions } = arcChallengesToJson(tasks);
    const cPath = join(dir, 'challenges.json');
    const sPath = join(dir, 'solutions.json');
    await writeFile(cPath, JSON.stringify(challenges));
    const trySolutions = async (sol: unknown) => {
      await writeFile(sPath, JSON.stringify(sol));
      return errorOf(loadArcChallenges(cPath, sPath));
    };
    expect(await trySolutions({ t1: solutions['t1'] })).toBe(
      `${sPath}: t2: missing (no solution for challenge t2)`,
    );
    expect(await trySolutions({ ...solutions, t2: [[[5]]] })).toContain(
      `${sPath}: t2: 1 solution grid(s) for 2 test input(s)`,
    );
    expect(await trySolutions({ ...solutions, t3: [[[1]]] })).toContain(
      `${sPath}: t3: solution for a task not in`,
    );
    expect(await trySolutions({ ...solutions, t2: [[[5]], [[7, 10]]] })).toBe(
      `${sPath}: t2[1][0][1]: expected a colour 0–9, got 10`,
    );
    expect(await trySolutions({ ...solutions, t1: [] })).toBe(
      `${sPath}: t1: needs at least one solution grid`,
    );
    await writeFile(cPath, JSON.stringify({ t1: { train: GOOD.train, test: [{ input: [[1], [1, 2]] }] } }));
    expect(await errorOf(loadArcChallenges(cPath))).toBe(
      `${cPath}: t1.test[0].input[1]: ragged grid: row has 2 cells, row 0 has 1`,
    );
    await writeFile(cPath, '{}');
    expect(await errorOf(loadArcChallenges(cPath))).toBe(`${cPath}: no tasks`);
  });
});
