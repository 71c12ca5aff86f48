/**
 * Saving and loading a trained EditGenerator (`edit_generator.json` + `edit_generator.safetensors`), and turning one
 * generated edit into an ordinary PEFT LoRA adapter: ΔW_m = (alpha/r)·A_m·B_m(z) is exactly LoRA's form, so the
 * output of one generator forward pass is saved with `saveAdapter` and used by `seal ask`, PEFT or vLLM like any
 * other adapter.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Tensor2D, tf, type Variable } from '../../engine/tf.js';
import { SealError } from '../../errors.js';
import { LoraAdapter, type LoraPair } from '../../lora/adapter.js';
import { LoraConfigSchema } from '../../lora/config.js';
import { readSafetensors, writeSafetensors } from '../../model/io/safetensors.js';
import type { Transformer } from '../../model/model.js';
import { packageVersion } from '../../version.js';
import { EditGenerator, EditGeneratorConfigSchema, type GeneratedDelta } from './generator.js';

const CONFIG_FILE = 'edit_generator.json';
const WEIGHTS_FILE = 'edit_generator.safetensors';

export async function saveEditGenerator(
  gen: EditGenerator,
  dir: string,
  extra: Record<string, unknown> = {},
) {
  await mkdir(dir, { recursive: true });
  const tensors = new Map(
    [...gen.namedTensors()].map(([k, t]) => [k, { shape: t.shape, data: t.dataSync() as Float32Array }]),
  );
  await writeSafetensors(join(dir, WEIGHTS_FILE), tensors);
  await writeFile(
    join(dir, CONFIG_FILE),
    `${JSON.stringify({ version: packageVersion(), config: gen.config, layer: gen.layer, ...extra }, null, 2)}\n`,
  );
}

export async function loadEditGenerator(model: Transformer, dir: string): Promise<EditGenerator> {
  const cfgFile = join(dir, CONFIG_FILE);
  if (!existsSync(cfgFile))
    throw new SealError('not an EditGenerator directory (no edit_generator.json)', dir);
  let raw: { config?: unknown; layer?: number };
  try {
    raw = JSON.parse(readFileSync(cfgFile, 'utf8')) as typeof raw;
  } catch (e) {
    throw new SealError(`invalid JSON: ${(e as Error).message}`, cfgFile);
  }
  // Generators saved before the fast-weight part existed have no `fastWeights` field: they had none.
  const saved = { fastWeights: false, ...(raw.config as object), layer: raw.layer };
  const parsed = EditGeneratorConfigSchema.safeParse(saved);
  if (!parsed.success)
    throw new SealError(
      `invalid field config.${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`,
      cfgFile,
    );
  const weights = await readSafetensors(join(dir, WEIGHTS_FILE));
  const gen = new EditGenerator(model, parsed.data);
  // Check every tensor first so a mismatch loads nothing.
  const targets = [...gen.namedTensors()];
  for (const [name, t] of targets) {
    const w = weights.get(name);
    if (w === undefined) throw new SealError(`missing tensor ${name}`, join(dir, WEIGHTS_FILE));
    if (w.shape.join(',') !== t.shape.join(','))
      throw new SealError(
        `tensor ${name} has shape [${w.shape}], the model needs [${t.shape}]`,
        join(dir, WEIGHTS_FILE),
      );
  }
  for (const [name, t] of targets) {
    const w = weights.get(name)!;
    const value = tf.tensor(w.data, w.shape);
    // The decoder's A and the key whitening are fixed tensors; everything else is a variable.
    if (EditGenerator.isFixed(name)) gen.setFixed(name, value);
    else (t as Variable).assign(value);
    value.dispose();
  }
  return gen;
}

/**
 * One generated edit as a standalone LoRA adapter (copies; the generator may be disposed afterwards). The latent
 * part (rank r) and the fast-weight part (rank T, one per passage token) are stacked into one LoRA pair of rank r + T
 * with scaling 1 (alpha = rank): A = [scaling·A_m | K̃ᵀ], B = [B_m(z); Ṽ], so A·B is exactly the edit's ΔW_m.
 */
export function editToAdapter(gen: EditGenerator, edit: GeneratedDelta): LoraAdapter {
  const modules = new Map<string, LoraPair>();
  let rank = gen.config.rank;
  tf.tidy(() => {
    for (const [name, m] of gen.decoder) {
      const b = edit.factorB(name) as Tensor2D;
      const fast = edit.fastFactors(name);
      const a = tf.mul(m.a, gen.scaling) as Tensor2D;
      const aAll = fast === undefined ? a : tf.concat([a, tf.transpose(fast.keys)], 1);
      const bAll = fast === undefined ? b : tf.concat([b, fast.values], 0);
      rank = aAll.shape[1];
      modules.set(name, { a: tf.variable(aAll, false), b: tf.variable(bAll, false) });
    }
  });
  const suffixes = [...new Set([...gen.decoder.keys()].map((n) => n.split('.').pop()!))];
  const config = LoraConfigSchema.parse({ r: rank, alpha: rank, targetModules: suffixes });
  return new LoraAdapter(config, modules);
}
