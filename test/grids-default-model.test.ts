/**
 * The bundled grid model (assets/models/grids-default, issue #16): `seal pretrain --domain grids` with its defaults
 * is exactly its config; its files are the ones its manifest hashed; and it behaves as the grid world asks — it
 * solves pretraining-family tasks in context (fresh ones, never trained on) and no held-out-family val task.
 * Greedy decoding, so the counts are exact on one kernel path; the thresholds leave room for another.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveGridModelDir } from '../src/app/cli/commands/grids-common.js';
import { initEngine } from '../src/engine/index.js';
import { loadModel } from '../src/model/io/load.js';
import { checksum } from '../src/model/params.js';
import { gridDomain } from '../src/seal/domains/grids.js';
import { readGridWorldConfig } from '../src/seal/domains/grids-model.js';
import {
  familyAccuracy,
  GridPretrainConfigSchema,
  pretrainFamilyEvalTasks,
} from '../src/seal/domains/grids-pretrain.js';
import { GRID_WORLD_TASK_SPEC } from '../src/seal/domains/grids-problem.js';
import { InnerLoopConfigSchema } from '../src/seal/inner/inner-loop.js';
import { taskFromSpec } from '../src/seal/inner/task-spec.js';
import { runPlans, type SealProblem } from '../src/seal/outer/rollout.js';
import { ParseOptionsSchema } from '../src/seal/selfedit/parse.js';
import { gridToText } from '../src/tasks/grids/grid.js';
import { gridContext } from '../src/tasks/grids/task.js';
import { generateGridWorld } from '../src/tasks/grids/world.js';
import { loadTokenizer } from '../src/tokenizer/load.js';

const dir = resolveGridModelDir('default');
const manifest = JSON.parse(readFileSync(join(dir, 'seal_manifest.json'), 'utf8')) as {
  config: unknown;
  files: Record<string, string>;
};

describe('the bundled grid model', () => {
  beforeAll(async () => {
    await initEngine('auto');
  });

  it("is what `seal pretrain --domain grids` makes with its defaults, and its files are the manifest's", () => {
    // Read back through the schema: fields added since (world.heldOut, init) take defaults equal to its run's.
    expect(GridPretrainConfigSchema.parse(manifest.config)).toEqual(GridPretrainConfigSchema.parse({}));
    expect(Object.keys(manifest.files).length).toBeGreaterThan(2);
    for (const [file, sha] of Object.entries(manifest.files))
      expect(
        createHash('sha256')
          .update(readFileSync(join(dir, file)))
          .digest('hex'),
        file,
      ).toBe(sha);
  });

  it('solves fresh pretraining-family tasks in context and no held-out-family val task', async () => {
    const { model } = await loadModel(dir);
    const tok = loadTokenizer(dir, { vocabSize: model.config.vocabSize });
    const world = generateGridWorld(readGridWorldConfig(dir), { heldOutOnly: true });
    const seen = familyAccuracy(model, tok, pretrainFamilyEvalTasks(world, 32));
    const heldOut = familyAccuracy(model, tok, world.splits.val.slice(0, 16));
    model.dispose();
    expect(seen.n).toBe(32);
    expect(seen.accuracy).toBeGreaterThanOrEqual(0.3); // 15 of 32 (46.9%) with the native addon
    expect(heldOut.accuracy).toBe(0);
  }, 300_000);

  it("solves the turns world's gravity_left val tasks only when the recipe turns them (270°: gravity_down)", async () => {
    const { model } = await loadModel(dir);
    const tok = loadTokenizer(dir, { vocabSize: model.config.vocabSize });
    const world = generateGridWorld({ ...readGridWorldConfig(dir), heldOut: 'turns' }, { heldOutOnly: true });
    const tasks = world.splits.val.filter((t) => t.family === 'gravity_left');
    const p: SealProblem = {
      env: { model, tok, task: taskFromSpec(GRID_WORLD_TASK_SPEC) },
      rlContexts: [],
      heldOut: [],
      domain: gridDomain,
    };
    const inner = InnerLoopConfigSchema.parse({ seqLen: model.config.maxSeqLen });
    const before = checksum(model.params);
    // The least training a recipe can ask for, so the score is the model's in-context skill in the recipe's frame.
    const recipe = (turn: number) =>
      `turn: ${turn}\naugment: none\ncopies: 1\nleave_one_out: yes\nlr: 1e-4\nepochs: 1\nloss: outputs\n`;
    const solved = async (turn: number) => {
      const planned = tasks.map((t, i) => {
        const context = gridContext(t);
        return {
          context,
          plan: gridDomain.plan(recipe(turn), context, { inner, parse: ParseOptionsSchema.parse({}) }),
          seed: i,
        };
      });
      return runPlans(p, planned);
    };
    const turned = await solved(270);
    const straight = await solved(0);
    expect(checksum(model.params)).toBe(before);
    model.dispose();
    expect(tasks.length).toBeGreaterThanOrEqual(3);
    expect(turned.filter((r) => r.accuracy === 1).length).toBeGreaterThanOrEqual(tasks.length - 1); // 4 of 4 natively
    expect(straight.filter((r) => r.accuracy === 1)).toHaveLength(0);
    // The logged answer is turned back: in the task's own frame, it is the task's output.
    turned.forEach((r, i) => {
      if (r.accuracy === 1) expect(r.answers[0]!.prediction).toBe(gridToText(tasks[i]!.test[0].output!));
      expect(r.answers[0]!.question).toBe(gridContext(tasks[i]!).questions[0]!.question);
    });
  }, 300_000);
});
