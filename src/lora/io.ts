/**
 * LoRA adapters in PEFT's on-disk layout, so Python PEFT / vLLM load ours and we load theirs:
 *   adapter_config.json        {"peft_type": "LORA", "r", "lora_alpha", "target_modules", ...}
 *   adapter_model.safetensors  base_model.model.<module>.lora_A.weight (r, in), ...lora_B.weight (out, r)
 * Loading validates every tensor against the model before creating any variable: nothing loads half-way.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tf } from '../engine/tf.js';
import { SealError } from '../errors.js';
import { transpose2d } from '../model/io/llama2c.js';
import { assertFinite, readSafetensors, writeSafetensors } from '../model/io/safetensors.js';
import type { Transformer } from '../model/model.js';
import { writeDirAtomic } from '../util/fs.js';
import { LoraAdapter, type LoraPair } from './adapter.js';
import { type LoraConfig, LoraConfigSchema, linearModules, matchesTarget } from './config.js';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
const PREFIX = 'base_model.model.';

export interface SaveAdapterOptions {
  readonly baseModel?: string;
  readonly overwrite?: boolean;
  /** Extra metadata stored in the safetensors header (e.g. seal-ts version, seed). */
  readonly metadata?: Readonly<Record<string, string>>;
}

export function peftConfig(
  adapter: LoraAdapter,
  model: Transformer,
  baseModel = '',
): Record<string, unknown> {
  const c = adapter.config;
  const modules = [...adapter.modules.keys()];
  const targets = [...new Set(modules.map((m) => m.slice(m.lastIndexOf('.') + 1)))].sort();
  return {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: baseModel,
    r: c.r,
    lora_alpha: c.alpha,
    lora_dropout: c.dropout,
    target_modules: targets,
    bias: 'none',
    // GPT-2's Conv1D stores weights as (in, out); PEFT needs to know when merging.
    fan_in_fan_out: model.config.arch === 'gpt2',
    use_rslora: c.useRslora,
    use_dora: false,
    init_lora_weights: true,
    inference_mode: true,
    modules_to_save: null,
    layers_to_transform: null,
    layers_pattern: null,
    rank_pattern: {},
    alpha_pattern: {},
    revision: null,
  };
}

export async function saveAdapter(
  adapter: LoraAdapter,
  model: Transformer,
  dir: string,
  opts: SaveAdapterOptions = {},
): Promise<void> {
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, m] of adapter.modules) {
    const [inF, r] = m.a.shape as [number, number];
    const out = m.b.shape[1] as number;
    tensors.set(`${PREFIX}${name}.lora_A.weight`, {
      shape: [r, inF],
      data: transpose2d(m.a.dataSync() as Float32Array, inF, r),
    });
    tensors.set(`${PREFIX}${name}.lora_B.weight`, {
      shape: [out, r],
      data: transpose2d(m.b.dataSync() as Float32Array, r, out),
    });
  }
  await writeDirAtomic(dir, opts.overwrite === true, 'adapter', async (tmp) => {
    await writeSafetensors(join(tmp, ADAPTER_WEIGHTS), tensors, {
      metadata: { format: 'pt', ...opts.metadata },
    });
    await writeFile(
      join(tmp, ADAPTER_CONFIG),
      `${JSON.stringify(peftConfig(adapter, model, opts.baseModel), null, 2)}\n`,
    );
  });
}

function configFrom(json: Record<string, unknown>, file: string): LoraConfig {
  if (json['peft_type'] !== 'LORA')
    throw new SealError(`peft_type must be "LORA", got ${JSON.stringify(json['peft_type'])}`, file);
  if (json['use_dora'] === true) throw new SealError('DoRA adapters (use_dora) are not supported', file);
  const targets = json['target_modules'];
  const r = LoraConfigSchema.safeParse({
    r: json['r'],
    alpha: json['lora_alpha'],
    dropout: json['lora_dropout'] ?? 0,
    targetModules: typeof targets === 'string' ? [targets] : targets,
    useRslora: json['use_rslora'] ?? false,
  });
  if (!r.success) {
    const issue = r.error.issues[0];
    const field =
      {
        r: 'r',
        alpha: 'lora_alpha',
        dropout: 'lora_dropout',
        targetModules: 'target_modules',
        useRslora: 'use_rslora',
      }[String(issue?.path[0])] ?? '?';
    throw new SealError(`field "${field}": ${issue?.message}`, file);
  }
  return r.data;
}

/** Loads a PEFT LoRA adapter for `model`; every shape is checked before any tensor is created. */
export async function loadAdapter(dir: string, model: Transformer): Promise<LoraAdapter> {
  const st = await stat(dir).catch(() => undefined);
  if (st === undefined) throw new SealError('adapter directory not found', dir);
  if (!st.isDirectory())
    throw new SealError(
      `expected an adapter directory (${ADAPTER_CONFIG} + ${ADAPTER_WEIGHTS}), got a file`,
      dir,
    );
  const cfgFile = join(dir, ADAPTER_CONFIG);
  let json: unknown;
  try {
    json = JSON.parse(await readFile(cfgFile, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SealError(
      code === 'ENOENT' ? 'file not found' : `not valid JSON (${(e as Error).message})`,
      cfgFile,
    );
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new SealError('expected a JSON object', cfgFile);
  const config = configFrom(json as Record<string, unknown>, cfgFile);
  const wFile = join(dir, ADAPTER_WEIGHTS);
  const weights = await readSafetensors(wFile);
  const linear = new Map(linearModules(model.config).map((m) => [m.name, m]));
  const found = new Map<string, { a?: Float32Array; b?: Float32Array }>();
  for (const [key, t] of weights) {
    const m = /^(?:base_model\.model\.)?(.+)\.lora_([AB])(?:\.default)?\.weight$/.exec(key);
    if (m === null)
      throw new SealError(
        `unexpected tensor ${key} (expected <module>.lora_A.weight / lora_B.weight)`,
        wFile,
      );
    const [, module, which] = m as unknown as [string, string, 'A' | 'B'];
    const lin = linear.get(module);
    if (lin === undefined)
      throw new SealError(`tensor ${key}: the model has no linear module ${module}`, wFile);
    const want = which === 'A' ? [config.r, lin.inFeatures] : [lin.outFeatures, config.r];
    if (t.shape.length !== 2 || t.shape[0] !== want[0] || t.shape[1] !== want[1])
      throw new SealError(
        `tensor ${key} has shape [${t.shape.join(', ')}], expected [${want.join(', ')}] for r=${config.r}`,
        wFile,
      );
    assertFinite(t.data, wFile, key);
    const entry = found.get(module) ?? {};
    if (which === 'A') entry.a = transpose2d(t.data, config.r, lin.inFeatures);
    else entry.b = transpose2d(t.data, lin.outFeatures, config.r);
    found.set(module, entry);
  }
  if (found.size === 0) throw new SealError('adapter holds no LoRA tensors', wFile);
  // PEFT builds the adapter from target_modules: a tensor outside them would be ignored there (a target without
  // tensors is harmless: PEFT initialises it with B = 0, no update).
  const targeted = new Set(
    linearModules(model.config)
      .filter((m) => matchesTarget(m.name, config.targetModules))
      .map((m) => m.name),
  );
  const stray = [...found.keys()].find((m) => !targeted.has(m));
  if (stray !== undefined)
    throw new SealError(
      `target_modules ${JSON.stringify(config.targetModules)} do not cover module ${stray}, which ${ADAPTER_WEIGHTS} holds`,
      cfgFile,
    );
  for (const [module, e] of found) {
    if (e.a === undefined || e.b === undefined)
      throw new SealError(`module ${module} has lora_${e.a === undefined ? 'A' : 'B'} missing`, wFile);
  }
  const modules = new Map<string, LoraPair>();
  for (const [module, e] of found) {
    const lin = linear.get(module)!;
    modules.set(module, {
      a: tf.tidy(() => tf.variable(tf.tensor2d(e.a!, [lin.inFeatures, config.r]), true)),
      b: tf.tidy(() => tf.variable(tf.tensor2d(e.b!, [config.r, lin.outFeatures]), true)),
    });
  }
  return new LoraAdapter(config, modules);
}
