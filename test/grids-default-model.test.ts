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
import { readGridWorldConfig } from '../src/seal/domains/grids-model.js';
import {
  familyAccuracy,
  GridPretrainConfigSchema,
  pretrainFamilyEvalTasks,
} from '../src/seal/domains/grids-pretrain.js';
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
    expect(manifest.config).toEqual(GridPretrainConfigSchema.parse({}));
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
});
