/** `seal world` determinism and a tiny `seal pretrain` run end to end (tokenizer, packing, training, HF export). */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { assetPath } from '../src/assets.js';
import { initEngine } from '../src/engine/index.js';
import { loadModel } from '../src/model/io/load.js';
import { checksum } from '../src/model/params.js';
import { PretrainConfigSchema, pretrainPeopleModel } from '../src/seal/domains/people-pretrain.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { seal } from './helpers/cli.js';
import { tempDir } from './helpers/paths.js';

describe('people world CLI and pretraining', () => {
  beforeAll(async () => {
    await initEngine('wasm');
  });

  it('seal world --seed 1 twice gives identical bytes', () => {
    const a = join(tempDir(), 'A');
    const b = join(tempDir(), 'B');
    expect(seal(['world', '--seed', '1', '--out', a]).code).toBe(0);
    expect(seal(['world', '--seed', '1', '--out', b]).code).toBe(0);
    const files = readdirSync(a).sort();
    expect(files).toContain('world.json');
    expect(readdirSync(b).sort()).toEqual(files);
    for (const f of files) expect(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), f).toBe(true);
    const again = seal(['world', '--seed', '1', '--out', a]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('not empty');
  });

  it('a partial nested config keeps the other pretraining defaults', () => {
    const d = PretrainConfigSchema.parse({});
    expect(d.train.steps).toBe(8000);
    expect(d.world.pretrainPeople).toBe(200);
    const c = PretrainConfigSchema.parse({ train: { steps: 40 }, world: { seed: 3 } });
    expect(c.train).toEqual({ ...d.train, steps: 40 });
    expect(c.world).toEqual({ ...d.world, seed: 3 });
    expect(() => PretrainConfigSchema.parse({ train: { steps: 0 } })).toThrow(/steps/);
  });

  it("the defaults of seal pretrain are the bundled default model's config", () => {
    const manifest = JSON.parse(
      readFileSync(assetPath('models/people-default/seal_manifest.json'), 'utf8'),
    ) as { config: unknown };
    // Every field, spelt out in the manifest, equals the default: no default relies on a field added later.
    expect(manifest.config).toEqual(PretrainConfigSchema.parse({}));
  });

  it('a tiny pretraining run is deterministic, resumable, and exports a loadable HF model', async () => {
    const cfg = PretrainConfigSchema.parse({
      world: { seed: 3, pretrainPeople: 12, rlPeople: 2, evalPeople: 2, biosPerPerson: 2 },
      copyDemos: 10,
      vocabSize: 400,
      model: { dim: 32, nLayers: 1, nHeads: 2, hiddenDim: 64, maxSeqLen: 128, seed: 1 },
      train: {
        steps: 6,
        batchSize: 4,
        seqLen: 64,
        lr: 3e-3,
        checkpointEvery: 3,
        schedule: { kind: 'cosine', warmupSteps: 0, minLrRatio: 0.1 },
      },
      evalPeople: 2,
    });
    const full = tempDir();
    const r1 = await pretrainPeopleModel(cfg, full, { quiet: true });
    expect(r1?.steps).toBe(6);
    expect(r1!.lossEma).toBeLessThan(Math.log(400));
    // Interrupted after 3 steps (a checkpoint), then resumed: the same final weights.
    const split = tempDir();
    let calls = 0;
    const r2 = await pretrainPeopleModel(cfg, split, { quiet: true, shouldStop: () => ++calls > 3 });
    expect(r2).toBeUndefined();
    expect(existsSync(join(split, 'checkpoint', 'state.json'))).toBe(true);
    await pretrainPeopleModel(cfg, split, { quiet: true });
    const a = await loadModel(join(full, 'model'));
    const b = await loadModel(join(split, 'model'));
    expect(checksum(b.model.params)).toBe(checksum(a.model.params));
    // Resuming with fewer steps than the checkpoint has is refused by name, not trained into a NaN loss.
    const shorter = PretrainConfigSchema.parse({ ...cfg, train: { ...cfg.train, steps: 4 } });
    await expect(pretrainPeopleModel(shorter, split, { quiet: true })).rejects.toThrow(
      /step 6, which already reaches steps = 4/,
    );
    expect(checksum((await loadModel(join(split, 'model'))).model.params)).toBe(checksum(a.model.params));
    const tok = loadTokenizer(join(full, 'model'));
    expect(tok.decode(tok.encode('Passage: Ann Lee\nQ: Where was Ann Lee born?\nA: Chicago, IL'))).toBe(
      'Passage: Ann Lee\nQ: Where was Ann Lee born?\nA: Chicago, IL',
    );
    const manifest = JSON.parse(readFileSync(join(full, 'model', 'seal_manifest.json'), 'utf8')) as {
      files: Record<string, string>;
      stages: unknown[];
    };
    expect(Object.keys(manifest.files)).toContain('model.safetensors');
    // The interrupted run says it was trained in two stages (steps 0–3, then 3–6); the other in one.
    expect(manifest.stages).toEqual([{ fromStep: 0, changed: [] }]);
    const splitManifest = JSON.parse(readFileSync(join(split, 'model', 'seal_manifest.json'), 'utf8')) as {
      stages: unknown[];
    };
    expect(splitManifest.stages).toEqual([
      { fromStep: 0, changed: [] },
      { fromStep: 3, changed: [] },
    ]);
  });
});
