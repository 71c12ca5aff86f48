/**
 * `seal adapt --domain grids` and `seal solve` with a tiny grid model (pretrained here in seconds: plumbing, not
 * accuracy), their refusals, and the grid pipeline (recipe → plan → test-time training → solve) with the bundled grid
 * model (no --model) on three real ARC tasks from ../shared/data/arc (skipped with the reason when that data is absent).
 */

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveGridModelDir } from '../src/app/cli/commands/grids-common.js';
import { initEngine } from '../src/engine/index.js';
import { loadModel } from '../src/model/io/load.js';
import { checksum } from '../src/model/params.js';
import { gridDomain } from '../src/seal/domains/grids.js';
import {
  DIHEDRAL_TRANSFORMS,
  readGridWorldConfig,
  solveByVote,
  solveTasks,
} from '../src/seal/domains/grids-model.js';
import { loadGridProblem } from '../src/seal/domains/grids-problem.js';
import { InnerLoopConfigSchema, runInnerLoop } from '../src/seal/inner/inner-loop.js';
import { TaskSpecSchema, taskFromSpec } from '../src/seal/inner/task-spec.js';
import { RestEmConfigSchema, restEm } from '../src/seal/outer/rest-em.js';
import { ParseOptionsSchema } from '../src/seal/selfedit/parse.js';
import { loadArcChallenges, loadArcDir, loadArcTask, writeArcTask } from '../src/tasks/grids/arc.js';
import { IDENTITY } from '../src/tasks/grids/augment.js';
import { type GridTask, gridToText, parseGrid, taskTextLength } from '../src/tasks/grids/grid.js';
import { formatRecipe, RecipeSchema } from '../src/tasks/grids/recipe.js';
import { gridContext } from '../src/tasks/grids/task.js';
import { generateGridWorld } from '../src/tasks/grids/world.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { RunDir } from '../src/util/run-dir.js';
import { seal } from './helpers/cli.js';
import { TINY_GRID_OUTER, tinyGridModel } from './helpers/grids.js';
import { SHARED, tempDir } from './helpers/paths.js';

const ARC = join(SHARED, 'arc');

/** The weights file's bytes, hashed: the base model on disk is never written by a run. */
const checksumOf = (dir: string) =>
  createHash('sha256')
    .update(readFileSync(join(dir, 'model.safetensors')))
    .digest('hex');
const hasArc = existsSync(join(ARC, 'training'));

const recipeText = formatRecipe(
  RecipeSchema.parse({
    augment: ['rot', 'flip'],
    copies: 2,
    leaveOneOut: true,
    lr: 1e-3,
    epochs: 1,
    loss: 'outputs',
  }),
);

let root: string;
let modelDir: string;
let taskFile: string;

describe('seal adapt --domain grids and seal solve (tiny model)', () => {
  beforeAll(async () => {
    await initEngine('wasm');
    root = tempDir('seal-grid-cli-');
    const tiny = await tinyGridModel(root, { seed: 4, rlTasks: 2, valTasks: 2, testTasks: 0 }, 2048);
    modelDir = tiny.modelDir;
    const cfg = tiny.cfg;
    const world = generateGridWorld(cfg.world);
    taskFile = join(root, 'task.json');
    await writeArcTask(taskFile, world.splits.val[0]!);
    writeFileSync(join(root, 'recipe.txt'), recipeText);
  });

  it('adapt trains with a given recipe and saves the PEFT adapter + recipe.json; solve prints a grid answer', () => {
    const out = join(root, 'adapter');
    const a = seal([
      'adapt',
      '--domain',
      'grids',
      '--model',
      modelDir,
      '--task',
      taskFile,
      '--recipe',
      join(root, 'recipe.txt'),
      '--out',
      out,
    ]);
    expect(a.stderr).toMatch(/wrote .*adapter: \d+ sequences/);
    expect(a.code).toBe(0);
    for (const f of ['adapter_config.json', 'adapter_model.safetensors', 'recipe.json'])
      expect(existsSync(join(out, f))).toBe(true);
    const rec = JSON.parse(readFileSync(join(out, 'recipe.json'), 'utf8'));
    expect(rec.source).toBe('file');
    expect(rec.text).toBe(recipeText);
    expect(rec.sequences).toBeGreaterThan(0);
    // An existing output is never overwritten.
    const again = seal([
      'adapt',
      '--domain',
      'grids',
      '--model',
      modelDir,
      '--task',
      taskFile,
      '--recipe',
      join(root, 'recipe.txt'),
      '--out',
      out,
    ]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/not empty/);
    for (const extra of [[], ['--adapter', out]]) {
      const s = seal(['solve', '--model', modelDir, '--task', taskFile, ...extra]);
      expect(s.code).toBe(0);
      expect(s.stderr).toMatch(/test 1: (correct|wrong) \(exact grid match\)/);
      const j = seal(['solve', '--model', modelDir, '--task', taskFile, '--json', ...extra]);
      const parsed = JSON.parse(j.stdout);
      expect(parsed.predictions).toHaveLength(1);
      expect(typeof parsed.predictions[0].correct).toBe('boolean');
      expect(`${parsed.predictions[0].text}\n`).toBe(s.stdout);
    }
    const v = seal(['solve', '--model', modelDir, '--task', taskFile, '--vote', '--adapter', out]);
    expect(v.code).toBe(0);
    expect(v.stderr).toMatch(/vote: \d+ of \d+ parsed answers \(of 8\)/);
    expect(v.stderr).toMatch(/test 1: (correct|wrong)/);
  });

  it('voting: with the identity alone it is the plain answer; over the 8 symmetries it counts parsed answers', async () => {
    const { model } = await loadModel(modelDir);
    const tok = loadTokenizer(modelDir, { vocabSize: model.config.vocabSize });
    const task = await loadArcTask(taskFile);
    const plain = parseGrid(solveTasks(model, tok, [task])[0]!.answers[0]!.prediction);
    const [alone] = solveByVote(model, tok, task, [IDENTITY]);
    expect(alone!.grid).toEqual(plain.ok ? plain.grid : null);
    const [all] = solveByVote(model, tok, task, DIHEDRAL_TRANSFORMS);
    expect(all!.valid).toBeLessThanOrEqual(8);
    expect(all!.votes).toBeLessThanOrEqual(all!.valid);
    expect([0, 1]).toContain(all!.score);
    model.dispose();
  });

  it('the grid world as a SEAL problem: ReST-EM rolls out model-written recipes on rl tasks', async () => {
    const { problem, world } = await loadGridProblem(modelDir, 1);
    expect(problem.rlContexts.map((c) => c.id)).toEqual(world.splits.rl.map((t) => t.id));
    expect(problem.heldOut.map((c) => c.id)).toEqual([world.splits.val[0]!.id]);
    const run = RunDir.create(tempDir(), 'grid-problem-run', {});
    const cfg = RestEmConfigSchema.parse(TINY_GRID_OUTER);
    const before = checksum(problem.env.model.params);
    const { rounds } = await restEm(problem, cfg, run, { quiet: true });
    expect(rounds).toHaveLength(1);
    const edits = run.records().filter((e) => e['kind'] === 'selfedit');
    expect(edits).toHaveLength(4);
    for (const e of edits)
      expect(e['rejected'] === undefined || /^malformed recipe/.test(String(e['rejected']))).toBe(true);
    expect(checksum(problem.env.model.params)).toBe(before);
    problem.env.model.dispose();
  });

  it("seal tasks writes a split's tasks as ARC files that solve reads; an existing directory is kept", async () => {
    const out = join(root, 'tasks-val');
    const t = seal(['tasks', '--model', modelDir, '--split', 'val', '--out', out]);
    expect(t.code, t.stderr).toBe(0);
    const world = generateGridWorld(readGridWorldConfig(modelDir), { heldOutOnly: true });
    const index = JSON.parse(readFileSync(join(out, 'grid_tasks.json'), 'utf8')) as {
      id: string;
      family: string;
    }[];
    expect(index.map((x) => x.id)).toEqual(world.splits.val.map((w) => w.id));
    expect(index.map((x) => x.family)).toEqual(world.splits.val.map((w) => w.family));
    for (const w of world.splits.val) {
      const back = await loadArcTask(join(out, `${w.id}.json`));
      expect(back.train).toEqual(w.train);
      expect(back.test).toEqual(w.test);
    }
    const s = seal(['solve', '--model', modelDir, '--task', join(out, `${world.splits.val[0]!.id}.json`)]);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stderr).toMatch(/test 1: (correct|wrong)/);
    // A second write without --overwrite is refused and loses nothing; --count keeps a prefix.
    const before = readFileSync(join(out, 'grid_tasks.json'), 'utf8');
    const again = seal(['tasks', '--model', modelDir, '--split', 'val', '--count', '1', '--out', out]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/not empty.*--overwrite/);
    expect(readFileSync(join(out, 'grid_tasks.json'), 'utf8')).toBe(before);
    const one = seal(['tasks', '--model', modelDir, '--count', '1', '--out', out, '--overwrite']);
    expect(one.code, one.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual([`${world.splits.val[0]!.id}.json`, 'grid_tasks.json'].sort());
    const bad = seal(['tasks', '--model', modelDir, '--split', 'pretrain', '--out', join(root, 'never')]);
    expect(bad.code).toBe(2);
    expect(existsSync(join(root, 'never'))).toBe(false);
  });

  it('seal train with a grids config: ReST-EM over recipes, a checkpoint per round; people-only fields refused', () => {
    const runs = join(root, 'runs');
    const cfg = {
      domain: 'grids',
      model: modelDir,
      outer: { kind: 'rest-em', ...TINY_GRID_OUTER },
    };
    writeFileSync(join(root, 'grids-train.json'), JSON.stringify(cfg));
    const before = checksumOf(modelDir);
    const t = seal(['train', '--config', join(root, 'grids-train.json'), '--out', runs, '--quiet']);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stderr).toMatch(/round 1: reward/);
    const runDir = readdirSync(runs).map((d) => join(runs, d))[0]!;
    expect(runDir).toMatch(/grids-rest-em-0-/);
    expect(existsSync(join(runDir, 'summary-train.json'))).toBe(true);
    const saved = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')) as {
      config: { domain: string };
    };
    expect(saved.config.domain).toBe('grids');
    expect(checksumOf(modelDir)).toBe(before);
    writeFileSync(join(root, 'grids-bad.json'), JSON.stringify({ ...cfg, rlPeople: 10 }));
    const bad = seal(['train', '--config', join(root, 'grids-bad.json'), '--out', join(root, 'runs-bad')]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/rlPeople/);
    expect(existsSync(join(root, 'runs-bad'))).toBe(false);
  });

  it('a malformed recipe (written by the model or given) writes no adapter and says why', () => {
    const out = join(root, 'never');
    const byModel = seal([
      'adapt',
      '--domain',
      'grids',
      '--model',
      modelDir,
      '--task',
      taskFile,
      '--out',
      out,
    ]);
    expect(byModel.code).toBe(1);
    expect(byModel.stderr).toMatch(/the model wrote a malformed recipe/);
    writeFileSync(join(root, 'bad-recipe.txt'), 'augment: sideways\n');
    const given = seal([
      'adapt',
      '--domain',
      'grids',
      '--model',
      modelDir,
      '--task',
      taskFile,
      '--recipe',
      join(root, 'bad-recipe.txt'),
      '--out',
      out,
    ]);
    expect(given.code).toBe(1);
    expect(given.stderr).toMatch(/bad-recipe\.txt.*malformed recipe: line 1/);
    expect(existsSync(out)).toBe(false);
  });

  it('refusals: a bad task file names file and field; options of the other domain; no --model = the bundled model', () => {
    writeFileSync(
      join(root, 'bad-task.json'),
      JSON.stringify({ train: [{ input: [[1, 2]], output: [[1, 'x']] }], test: [] }),
    );
    const bad = seal(['solve', '--model', modelDir, '--task', join(root, 'bad-task.json')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/bad-task\.json/);
    expect(bad.stderr).toMatch(/train/);
    // No --model: the bundled grid model answers.
    const bundled = seal(['solve', '--task', taskFile]);
    expect(bundled.code, bundled.stderr).toBe(0);
    expect(bundled.stderr).toMatch(/test 1: (correct|wrong)/);
    const people = seal([
      'adapt',
      '--domain',
      'grids',
      '--model',
      modelDir,
      '--task',
      taskFile,
      '--passage',
      taskFile,
      '--out',
      join(root, 'p'),
    ]);
    expect(people.code).toBe(2);
    expect(people.stderr).toMatch(/--passage is a people-world option/);
    const grid = seal(['adapt', '--task', taskFile, '--out', join(root, 'q')]);
    expect(grid.code).toBe(2);
    expect(grid.stderr).toMatch(/--task is a grid option/);
    const notGrid = seal(['solve', '--model', join(root, 'pt'), '--task', taskFile]);
    expect(notGrid.code).toBe(1);
    expect(notGrid.stderr).toMatch(/not a grid model/);
  });
});

/** The three real ARC tasks with the shortest text: two of the 400 training tasks and one of SEAL's 12. */
async function threeArcTasks(): Promise<GridTask[]> {
  const byLength = (a: GridTask, b: GridTask) =>
    taskTextLength([...a.train, ...a.test]) - taskTextLength([...b.train, ...b.test]);
  const training = (await loadArcDir(join(ARC, 'training'))).sort(byLength);
  const seal12 = (
    await loadArcChallenges(
      join(ARC, 'arc-agi_training_challenges_filtered_1B_training_set.json'),
      join(ARC, 'arc-agi_training_solutions_filtered_1B_training_set.json'),
    )
  ).sort(byLength);
  const first = seal12[0]!;
  return [first, ...training.filter((t) => t.id !== first.id).slice(0, 2)];
}

describe.skipIf(!hasArc)(
  `the grid pipeline on 3 real ARC tasks with the bundled model (needs ${ARC})`,
  () => {
    // The bundled grid model (its 512-token context holds these tasks: the shortest of the public files).
    const bundledDir = resolveGridModelDir('default');
    it('recipe → plan → test-time training → in-context answer, for each; adapt + solve on one', async () => {
      const tasks = await threeArcTasks();
      expect(tasks).toHaveLength(3);
      const onDisk = checksumOf(bundledDir);
      const { model } = await loadModel(bundledDir);
      const tok = loadTokenizer(bundledDir, { vocabSize: model.config.vocabSize });
      const env = { model, tok, task: taskFromSpec(TaskSpecSchema.parse({ kind: 'grids' })) };
      const before = checksum(model.params);
      const inner = InnerLoopConfigSchema.parse({ seqLen: model.config.maxSeqLen, lora: { r: 2, alpha: 4 } });
      for (const t of tasks) {
        const context = gridContext(t);
        const plan = gridDomain.plan(recipeText, context, { inner, parse: ParseOptionsSchema.parse({}) });
        expect(plan.kind, t.id).toBe('train');
        if (plan.kind !== 'train') continue;
        const r = runInnerLoop(env, context, plan.sequences, plan.cfg, 0);
        expect(r.diverged).toBe(false);
        expect(r.answers).toHaveLength(t.test.length);
        expect(r.accuracy).toBeGreaterThanOrEqual(0);
        expect(r.accuracy).toBeLessThanOrEqual(1);
      }
      expect(checksum(model.params)).toBe(before);
      model.dispose();
      const dir = join(root, 'arc');
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `${tasks[1]!.id}.json`);
      await writeArcTask(file, tasks[1]!);
      const out = join(dir, 'adapter');
      const a = seal([
        'adapt',
        '--domain',
        'grids',
        '--task',
        file,
        '--recipe',
        join(root, 'recipe.txt'),
        '--out',
        out,
      ]);
      expect(a.code).toBe(0);
      const s = seal(['solve', '--task', file, '--adapter', out]);
      expect(s.code).toBe(0);
      expect(s.stderr).toMatch(/test 1: (correct|wrong)/);
      // The Kaggle layout by id, as shipped.
      const k = seal([
        'solve',
        '--task',
        join(ARC, 'arc-agi_training_challenges_filtered_1B_training_set.json'),
        '--id',
        tasks[0]!.id,
        '--solutions',
        join(ARC, 'arc-agi_training_solutions_filtered_1B_training_set.json'),
      ]);
      expect(k.code).toBe(0);
      expect(k.stderr).toMatch(/test 1: (correct|wrong)/);
      // The bundled model's weights file is never written by an adaptation.
      expect(checksumOf(bundledDir)).toBe(onDisk);
    });
  },
);

describe('a turned recipe through adapt and solve (bundled model, a turns-world task)', () => {
  it('adapt trains turned; solve with its adapter answers turned and prints the answer in the task frame', async () => {
    const bundledDir = resolveGridModelDir('default');
    const world = generateGridWorld(
      { ...readGridWorldConfig(bundledDir), heldOut: 'turns' },
      { heldOutOnly: true },
    );
    const task = world.splits.val.find((t) => t.family === 'gravity_left')!;
    const dir = tempDir('seal-grid-turn-');
    const file = join(dir, 'task.json');
    await writeArcTask(file, task);
    const recipeFile = join(dir, 'recipe.txt');
    // The least training a recipe can ask for: the answer is the model's in-context skill in the turned frame.
    writeFileSync(
      recipeFile,
      'turn: 270\naugment: none\ncopies: 1\nleave_one_out: yes\nlr: 1e-4\nepochs: 1\nloss: outputs\n',
    );
    const out = join(dir, 'adapter');
    const a = seal(['adapt', '--domain', 'grids', '--task', file, '--recipe', recipeFile, '--out', out]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stderr).toMatch(/turn: 270/);
    const s = seal(['solve', '--task', file, '--adapter', out]);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stderr).toMatch(/turns the task by 270°/);
    expect(s.stderr).toMatch(/test 1: correct/);
    expect(s.stdout).toBe(`${gridToText(task.test[0].output!)}\n`);
    // In context, unturned, the model does not know gravity to the left.
    expect(seal(['solve', '--task', file]).stderr).toMatch(/test 1: wrong/);
    // A recipe.json that does not parse is an error naming it; nothing is printed.
    const rec = join(out, 'recipe.json');
    const good = readFileSync(rec, 'utf8');
    writeFileSync(rec, good.replace('turn: 270', 'turn: 45'));
    const bad = seal(['solve', '--task', file, '--adapter', out]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/recipe\.json: field "text": malformed recipe: line 1 "turn: 45"/);
    writeFileSync(rec, '{');
    expect(seal(['solve', '--task', file, '--adapter', out]).stderr).toMatch(/recipe\.json: not JSON/);
  });
});
