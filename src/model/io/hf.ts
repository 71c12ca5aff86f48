/**
 * Hugging Face model directories: `config.json` + `model.safetensors` (or shards with an index) +
 * optional `generation_config.json`, in transformers' naming (`model.layers.0.self_attn.q_proj.weight`, ...).
 * Everything is validated before any tensor is created, so a bad directory never yields a half-loaded model.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SealError } from '../../errors.js';
import { writeDirAtomic } from '../../util/fs.js';
import { fromHfConfig, type ModelConfig, toHfConfig } from '../config.js';
import { Transformer } from '../model.js';
import { makeVariables, type ParamSpec, paramSpecs } from '../params.js';
import { transpose2d } from './llama2c.js';
import {
  assertFinite,
  INDEX_FILE,
  readSafetensorsDir,
  SINGLE_FILE,
  type Tensor,
  type WriteDtype,
  writeSafetensorsDir,
} from './safetensors.js';

export interface GenerationDefaults {
  readonly temperature?: number;
  readonly topK?: number;
  readonly topP?: number;
  readonly maxNewTokens?: number;
  readonly eosId?: number;
  readonly bosId?: number;
}

export interface LoadedModel {
  readonly model: Transformer;
  readonly generation: GenerationDefaults;
}

async function readJson(path: string, required: boolean): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !required) return undefined;
    throw new SealError(
      (e as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'file not found'
        : `cannot read: ${(e as Error).message}`,
      path,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SealError(`not valid JSON (${(e as Error).message})`, path);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new SealError('expected a JSON object', path);
  return json as Record<string, unknown>;
}

/** Buffers transformers keeps in some checkpoints that are not parameters. */
const IGNORED = /(\.attn\.bias|\.attn\.masked_bias|rotary_emb\.inv_freq)$/;

/** The HF tensor for `spec`, accepting GPT-2 checkpoints saved without the `transformer.` prefix. */
function findTensor(weights: Map<string, Tensor>, spec: ParamSpec): [string, Tensor] | undefined {
  const t = weights.get(spec.name);
  if (t !== undefined) return [spec.name, t];
  if (spec.name.startsWith('transformer.')) {
    const short = spec.name.slice('transformer.'.length);
    const s = weights.get(short);
    if (s !== undefined) return [short, s];
  }
  return undefined;
}

export async function loadHfModel(dir: string): Promise<LoadedModel> {
  const st = await stat(dir).catch(() => undefined);
  if (st === undefined) throw new SealError('model directory not found', dir);
  if (!st.isDirectory())
    throw new SealError('expected a Hugging Face model directory (config.json + model.safetensors)', dir);
  const configPath = join(dir, 'config.json');
  const config = fromHfConfig((await readJson(configPath, true))!, configPath);
  const weights = await readSafetensorsDir(dir);
  const weightsFile = join(
    dir,
    (await stat(join(dir, SINGLE_FILE)).catch(() => undefined)) ? SINGLE_FILE : INDEX_FILE,
  );
  const specs = paramSpecs(config);
  const data = new Map<string, Float32Array>();
  const used = new Set<string>();
  for (const spec of specs) {
    const found = findTensor(weights, spec);
    if (found === undefined)
      throw new SealError(`missing tensor ${spec.name} required by config.json`, weightsFile);
    const [name, t] = found;
    used.add(name);
    const want = spec.hfTransposed ? [...spec.shape].reverse() : [...spec.shape];
    if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i]))
      throw new SealError(
        `tensor ${name} has shape [${t.shape.join(', ')}] but config.json implies [${want.join(', ')}]`,
        weightsFile,
      );
    assertFinite(t.data, weightsFile, name);
    data.set(
      spec.name,
      spec.hfTransposed ? transpose2d(t.data, want[0] as number, want[1] as number) : t.data,
    );
  }
  const unknown = [...weights.keys()].filter(
    (n) => !used.has(n) && !IGNORED.test(n) && !(n === 'lm_head.weight' && config.tieEmbeddings),
  );
  if (unknown.length > 0)
    throw new SealError(
      `${unknown.length} tensor(s) not used by a ${config.modelType} model, e.g. ${unknown[0]}`,
      weightsFile,
    );
  const gen = await readJson(join(dir, 'generation_config.json'), false);
  const model = new Transformer(
    config,
    makeVariables(specs, (s) => data.get(s.name)!),
  );
  return { model, generation: gen === undefined ? {} : generationDefaults(gen) };
}

function generationDefaults(g: Record<string, unknown>): GenerationDefaults {
  const num = (k: string): number | undefined => {
    const v = g[k];
    if (typeof v === 'number') return v;
    if (Array.isArray(v) && typeof v[0] === 'number') return v[0];
    return undefined;
  };
  const out: { -readonly [K in keyof GenerationDefaults]: GenerationDefaults[K] } = {};
  const sample = g['do_sample'];
  const t = num('temperature');
  if (t !== undefined) out.temperature = sample === false ? 0 : t;
  else if (sample === false) out.temperature = 0;
  const k = num('top_k');
  if (k !== undefined) out.topK = k;
  const p = num('top_p');
  if (p !== undefined) out.topP = p;
  const m = num('max_new_tokens');
  if (m !== undefined) out.maxNewTokens = m;
  const e = num('eos_token_id');
  if (e !== undefined) out.eosId = e;
  const b = num('bos_token_id');
  if (b !== undefined) out.bosId = b;
  return out;
}

/** HF-layout tensors of a model (nn.Linear weights back to [out, in]). */
export function hfTensors(model: Transformer): Map<string, { shape: number[]; data: Float32Array }> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const spec of paramSpecs(model.config)) {
    const v = model.params.get(spec.name);
    if (v === undefined) throw new Error(`model lacks ${spec.name}`);
    const d = v.dataSync() as Float32Array;
    const [r, c] = spec.shape as [number, number];
    out.set(
      spec.name,
      spec.hfTransposed
        ? { shape: [c, r], data: transpose2d(d, r, c) }
        : { shape: [...spec.shape], data: d.slice() },
    );
  }
  return out;
}

export interface SaveOptions {
  readonly dtype?: WriteDtype;
  readonly maxShardBytes?: number;
  /** Replace an existing non-empty directory (default: refuse). */
  readonly overwrite?: boolean;
  /** Extra files to write into the directory, e.g. tokenizer.json. */
  readonly extraFiles?: Readonly<Record<string, string>>;
  readonly generation?: GenerationDefaults;
}

/**
 * Writes into a sibling temporary directory, then renames it into place: an existing directory is only replaced
 * (with `overwrite`) once the new one is complete.
 */
export async function saveHfModel(model: Transformer, dir: string, opts: SaveOptions = {}): Promise<void> {
  await writeDirAtomic(dir, opts.overwrite === true, 'model', async (tmp) => {
    await writeSafetensorsDir(tmp, hfTensors(model), {
      dtype: opts.dtype ?? 'F32',
      metadata: { format: 'pt' },
      ...(opts.maxShardBytes === undefined ? {} : { maxShardBytes: opts.maxShardBytes }),
    });
    await writeFile(join(tmp, 'config.json'), `${JSON.stringify(toHfConfig(model.config), null, 2)}\n`);
    await writeFile(
      join(tmp, 'generation_config.json'),
      `${JSON.stringify(hfGenerationConfig(model.config, opts.generation), null, 2)}\n`,
    );
    for (const [name, text] of Object.entries(opts.extraFiles ?? {})) await writeFile(join(tmp, name), text);
  });
}

function hfGenerationConfig(c: ModelConfig, g: GenerationDefaults | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = { _from_model_config: true };
  if (c.bosId !== undefined) out['bos_token_id'] = c.bosId;
  if (c.eosId !== undefined) out['eos_token_id'] = c.eosId;
  if (g?.temperature !== undefined) {
    out['do_sample'] = g.temperature > 0;
    if (g.temperature > 0) out['temperature'] = g.temperature;
  }
  if (g?.topK !== undefined) out['top_k'] = g.topK;
  if (g?.topP !== undefined) out['top_p'] = g.topP;
  if (g?.maxNewTokens !== undefined) out['max_new_tokens'] = g.maxNewTokens;
  return out;
}
