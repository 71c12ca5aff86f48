/**
 * The grid base model (src/seal/domains/grids-pretrain.ts, grids-model.ts): the character tokenizer, the
 * pretraining documents (pretraining families only, recipe demonstrations that parse), packing with loss masks, and
 * `seal pretrain --domain grids` on a tiny budget (seconds) writing a model directory that loads back.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveGridModelDir } from '../src/app/cli/commands/grids-common.js';
import { initEngine } from '../src/engine/index.js';
import { loadModel } from '../src/model/io/load.js';
import { Transformer } from '../src/model/model.js';
import {
  GRID_MODEL_ALPHABET,
  gridTokenizer,
  isGridModelDir,
  readGridRecipeSpace,
  readGridWorldConfig,
  visibleMaxSide,
} from '../src/seal/domains/grids-model.js';
import {
  GridPretrainConfigSchema,
  gridPretrainDocuments,
  packGridDocuments,
  pretrainFamilyEvalTasks,
  pretrainGridModel,
} from '../src/seal/domains/grids-pretrain.js';
import { taskText } from '../src/tasks/grids/grid.js';
import {
  formatRecipe,
  namedRecipeSpace,
  parseRecipe,
  RECIPE_MARKER,
  recipeSpaceSizes,
} from '../src/tasks/grids/recipe.js';
import { generateGridWorld, HELD_OUT_FAMILIES, PRETRAIN_FAMILIES } from '../src/tasks/grids/world.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { packMaskedDocuments } from '../src/train/data.js';
import { Rng } from '../src/util/rng.js';
import { seal } from './helpers/cli.js';
import { tempDir } from './helpers/paths.js';

const world = generateGridWorld({ seed: 5, pretrainTasks: 40, rlTasks: 4, valTasks: 4, testTasks: 4 });

describe('the grid tokenizer', () => {
  it('one token per character, round-trips task and recipe text, EOS = BOS = 0', () => {
    const { tok } = gridTokenizer();
    const text = `${taskText(world.splits.pretrain[0]!)}${RECIPE_MARKER}\naugment: rot,flip\nlr: 1e-3\n`;
    const ids = tok.encode(text);
    expect(ids).toHaveLength(text.length);
    expect(tok.decode(ids)).toBe(text);
    expect(tok.bosId).toBe(0);
    expect(tok.eosId).toBe(0);
    expect(tok.vocabSize).toBe(2 + new Set(GRID_MODEL_ALPHABET).size);
    // A character outside the alphabet is <unk>, not dropped.
    expect(tok.encode('1X2')).toHaveLength(3);
  });
});

describe('pretraining data', () => {
  it('solve documents of pretraining tasks only; recipe demonstrations parse and vary', () => {
    const docs = gridPretrainDocuments(
      world,
      { loss: 'outputs', recipeDemos: 30, recipeSpace: 'default' },
      new Rng(1),
    );
    expect(docs).toHaveLength(40 + 30);
    const heldOut = new Set(
      [...world.splits.rl, ...world.splits.val, ...world.splits.test].map((t) => taskText(t)),
    );
    for (const d of docs.slice(0, 40)) {
      const text = d.map((s) => s.text).join('');
      expect(heldOut.has(text)).toBe(false);
      // Loss on outputs: inputs are never trained.
      for (const s of d) if (s.text.startsWith('in\n')) expect(s.train).toBe(false);
    }
    const recipes = docs.slice(40).map((d) => {
      expect(d[0]!.train).toBe(false);
      expect(d[0]!.text.endsWith(`${RECIPE_MARKER}\n`)).toBe(true);
      const r = parseRecipe(d[1]!.text);
      expect(r.ok).toBe(true);
      return d[1]!.text;
    });
    expect(new Set(recipes).size).toBeGreaterThan(10);
    expect(
      world.splits.pretrain.every((t) => (PRETRAIN_FAMILIES as readonly string[]).includes(t.family)),
    ).toBe(true);
  });

  it('recipe demonstrations draw from the named space: the wide space adds recipes the default one lacks', () => {
    const defaults = new Set(namedRecipeSpace('default').map(formatRecipe));
    const wide = namedRecipeSpace('wide').map(formatRecipe);
    expect(defaults.size).toBe(64);
    expect(wide).toHaveLength(88);
    expect(new Set(wide).size).toBe(88);
    expect(wide.slice(0, 64)).toEqual([...defaults]);
    expect(recipeSpaceSizes()).toBe('default 64, wide 88, turns 64');
    const demos = (space: 'default' | 'wide') =>
      gridPretrainDocuments(world, { loss: 'outputs', recipeDemos: 200, recipeSpace: space }, new Rng(1))
        .slice(40)
        .map((d) => {
          const r = parseRecipe(d[1]!.text);
          if (!r.ok) throw new Error(`demonstration does not parse: ${d[1]!.text}`);
          return formatRecipe(r.recipe);
        });
    expect(demos('default').every((r) => defaults.has(r))).toBe(true);
    const wideDemos = demos('wide');
    expect(wideDemos.every((r) => wide.includes(r))).toBe(true);
    expect(wideDemos.some((r) => !defaults.has(r))).toBe(true);
  });

  it('packing keeps documents whole, starts windows with the separator, masks padding', () => {
    const docs = [
      { ids: [5, 6, 0], targetMask: [0, 1, 1] },
      { ids: [7, 8, 9, 0], targetMask: [1, 1, 1, 1] },
      { ids: Array(20).fill(3) },
    ];
    const { examples, dropped } = packMaskedDocuments(docs, 6, 0);
    expect(dropped).toBe(1);
    expect(examples).toEqual([
      { ids: [0, 5, 6, 0, 0, 0, 0], targetMask: [0, 0, 1, 1, 0, 0, 0] },
      { ids: [0, 7, 8, 9, 0, 0, 0], targetMask: [0, 1, 1, 1, 1, 0, 0] },
    ]);
    const { tok } = gridTokenizer();
    const docs2 = gridPretrainDocuments(
      world,
      { loss: 'outputs', recipeDemos: 5, recipeSpace: 'default' },
      new Rng(1),
    );
    const packed = packGridDocuments(tok, docs2, 512, new Rng(2));
    expect(packed.dropped).toBe(0);
    const trained = packed.examples.reduce((s, e) => s + (e.targetMask ?? []).reduce((a, b) => a + b, 0), 0);
    const expected = docs2.reduce(
      (s, d) => s + d.reduce((a, g) => a + (g.train ? g.text.length : 0), 0) + (d.at(-1)!.train ? 1 : 0),
      0,
    );
    expect(trained).toBe(expected);
  });

  it('report tasks of pretraining families are fresh; the answer bound reads only visible grids', () => {
    const fresh = pretrainFamilyEvalTasks(world, 10);
    expect(fresh).toHaveLength(10);
    const hashes = new Set(world.splits.pretrain.map((t) => t.hash));
    for (const t of fresh) expect(hashes.has(t.hash)).toBe(false);
    expect(HELD_OUT_FAMILIES.some((f) => fresh.some((t) => t.family === f))).toBe(false);
    expect(visibleMaxSide(world.splits.val[0]!)).toBe(6);
  });

  it('the config is validated, naming the field', () => {
    expect(() => GridPretrainConfigSchema.parse({ model: { dim: 30, nHeads: 4 } })).toThrow(/nHeads|RoPE/);
    expect(() => GridPretrainConfigSchema.parse({ train: { seqLen: 1024 } })).toThrow(/maxSeqLen/);
    expect(() => GridPretrainConfigSchema.parse({ bogus: 1 })).toThrow();
    expect(() => GridPretrainConfigSchema.parse({ model: { dim: 65536, nHeads: 4 } })).toThrow(/GiB/);
  });
});

describe('pretraining a tiny grid model', () => {
  beforeAll(async () => {
    await initEngine('wasm');
  });

  it('writes a Hugging Face directory with the grid world and a report; it loads back', async () => {
    const out = tempDir('seal-grid-pretrain-');
    const cfg = GridPretrainConfigSchema.parse({
      world: { seed: 2, pretrainTasks: 30, rlTasks: 2, valTasks: 3, testTasks: 2 },
      recipeDemos: 10,
      model: { dim: 16, nLayers: 1, nHeads: 2, hiddenDim: 32, maxSeqLen: 512 },
      train: { steps: 3, batchSize: 2, seqLen: 512, checkpointEvery: 0 },
      evalTasks: 3,
    });
    const report = await pretrainGridModel(cfg, out, { quiet: true });
    expect(report).toBeDefined();
    expect(report!.steps).toBe(3);
    expect(report!.icl.pretrainFamilies.n).toBe(3);
    expect(report!.icl.heldOutFamilies.n).toBe(3);
    expect(report!.recipes.n).toBe(3);
    const dir = join(out, 'model');
    expect(isGridModelDir(dir)).toBe(true);
    expect(readGridWorldConfig(dir)).toEqual(generateGridWorld(cfg.world).config);
    const { model } = await loadModel(dir);
    const tok = loadTokenizer(dir, { vocabSize: model.config.vocabSize });
    expect(tok.encode('in\n01\n')).toEqual(gridTokenizer().tok.encode('in\n01\n'));
    expect(model.config.maxSeqLen).toBe(512);
    model.dispose();
    const manifest = JSON.parse(readFileSync(join(dir, 'seal_manifest.json'), 'utf8'));
    expect(manifest.name).toBe('seal-grids');
    expect(Object.keys(manifest.files)).toContain('seal_grid_world.json');
    expect(existsSync(join(out, 'report.json'))).toBe(true);
  });

  it("--init continues from a grid model's weights (a turns world, the turns space); a wrong init is refused", async () => {
    const root = tempDir('seal-grid-init-');
    // The flags' shape (--dim 16 --layers 1; 4 heads and SwiGLU 352 by default).
    const base = { dim: 16, nLayers: 1, nHeads: 4, hiddenDim: 352, maxSeqLen: 512 };
    const small = {
      world: { seed: 2, pretrainTasks: 20, rlTasks: 2, valTasks: 2, testTasks: 0 },
      recipeDemos: 4,
      model: { ...base, seed: 5 },
      train: { steps: 2, batchSize: 2, seqLen: 512, checkpointEvery: 0 },
      evalTasks: 1,
    };
    await pretrainGridModel(GridPretrainConfigSchema.parse(small), join(root, 'a'), { quiet: true });
    const a = join(root, 'a', 'model');
    const flags = ['--steps', '1', '--lr', '1e-9', '--dim', '16', '--layers', '1', '--batch-size', '2'];
    const tiny = ['--pretrain-tasks', '20', '--recipe-demos', '4', '--eval-tasks', '1'];
    const out = join(root, 'b');
    const r = seal([
      'pretrain',
      '--domain',
      'grids',
      '--out',
      out,
      '--init',
      a,
      '--held-out',
      'turns',
      '--recipe-space',
      'turns',
      ...flags,
      ...tiny,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const b = join(out, 'model');
    expect(readGridWorldConfig(b).heldOut).toBe('turns');
    expect(readGridRecipeSpace(b)).toBe('turns');
    // One step at lr 1e-9 from a's weights: b is a (to 1e-6), not the fresh initialisation b's config names (seed 0).
    const [ma, mb] = [(await loadModel(a)).model, (await loadModel(b)).model];
    const fresh = Transformer.init(ma.config, 0);
    const w = (m: Transformer) => Array.from(m.params.get('model.embed_tokens.weight')!.dataSync());
    const maxDiff = (x: number[], y: number[]) =>
      x.reduce((d, v, i) => Math.max(d, Math.abs(v - (y[i] ?? 0))), 0);
    expect(maxDiff(w(ma), w(mb))).toBeLessThan(1e-6);
    expect(maxDiff(w(fresh), w(mb))).toBeGreaterThan(1e-2);
    for (const m of [ma, mb, fresh]) m.dispose();
    // Refused before any work, naming the directory and the field; nothing is written.
    const wide = seal([
      'pretrain',
      '--domain',
      'grids',
      '--out',
      join(root, 'c'),
      '--init',
      a,
      '--steps',
      '1',
      '--dim',
      '32',
      '--layers',
      '1',
    ]);
    expect(wide.code).toBe(1);
    expect(wide.stderr).toContain(`${a}: init: dim is 16, the config's model has 32`);
    expect(existsSync(join(root, 'c'))).toBe(false);
    const notModel = seal([
      'pretrain',
      '--domain',
      'grids',
      '--out',
      join(root, 'd'),
      '--init',
      root,
      ...flags,
    ]);
    expect(notModel.code).toBe(1);
    expect(notModel.stderr).toMatch(/init: not a grid model directory/);
    expect(existsSync(join(root, 'd'))).toBe(false);
    const badSet = seal([
      'pretrain',
      '--domain',
      'grids',
      '--out',
      join(root, 'e'),
      '--held-out',
      'sideways',
    ]);
    expect(badSet.code).toBe(2);
    expect(badSet.stderr).toMatch(/--held-out/);
  });

  it('seal pretrain --domain grids: runs on flags; options of the other world are usage errors', () => {
    const out = join(tempDir('seal-grid-cli-'), 'run');
    const r = seal([
      'pretrain',
      '--domain',
      'grids',
      '--out',
      out,
      '--steps',
      '2',
      '--dim',
      '16',
      '--layers',
      '1',
      '--batch-size',
      '2',
      '--pretrain-tasks',
      '20',
      '--recipe-demos',
      '4',
      '--recipe-space',
      'wide',
      '--eval-tasks',
      '2',
      '--json',
    ]);
    expect(r.stderr).toMatch(/in-context accuracy: pretraining families/);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).steps).toBe(2);
    // The model records the recipe space it was taught to write; the grid table sweeps that space.
    expect(readGridRecipeSpace(join(out, 'model'))).toBe('wide');
    expect(readGridRecipeSpace(resolveGridModelDir('default'))).toBe('default');
    const space = seal(['pretrain', '--domain', 'grids', '--out', join(out, 's'), '--recipe-space', 'huge']);
    expect(space.code).toBe(2);
    expect(space.stderr).toMatch(/--recipe-space/);
    const bad = seal(['pretrain', '--domain', 'grids', '--out', join(out, 'x'), '--copy-demos', '3']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--copy-demos is a people-world option/);
    const bad2 = seal(['pretrain', '--out', join(out, 'y'), '--pretrain-tasks', '3']);
    expect(bad2.code).toBe(2);
    expect(bad2.stderr).toMatch(/--pretrain-tasks is a grid-world option/);
  });
});
