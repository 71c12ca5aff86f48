/**
 * The one checkpoint format: a directory holding `state.json` (validated when read back) and the files of what is
 * saved — trainable tensors and AdamW moments for a training run (this module), a policy adapter for an outer-loop
 * round (seal/outer/checkpoint.ts). Written atomically (a sibling temporary directory renamed into place), so a
 * crash mid-save leaves the previous checkpoint intact and never a half-written one.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { type Tensor, tf, type Variable } from '../engine/tf.js';
import { SealError } from '../errors.js';
import { readSafetensors, writeSafetensors } from '../model/io/safetensors.js';
import { writeDirAtomic } from '../util/fs.js';
import { readJsonFile } from '../util/json.js';
import { packageVersion } from '../version.js';
import type { AdamW } from './optimizer.js';

export interface CheckpointState {
  readonly step: number;
  readonly version: string;
  readonly config: unknown;
  readonly extra?: Record<string, unknown>;
}

export async function saveCheckpoint(
  dir: string,
  vars: ReadonlyMap<string, Variable>,
  optimizer: AdamW,
  step: number,
  config: unknown,
  extra: Record<string, unknown> = {},
): Promise<void> {
  const params = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [k, v] of vars) params.set(k, { shape: [...v.shape], data: v.dataSync() as Float32Array });
  const opt = optimizer.state();
  const moments = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [k, t] of opt.tensors)
    moments.set(k, { shape: [...t.shape], data: t.dataSync() as Float32Array });
  const state: CheckpointState = { step, version: packageVersion(), config, extra };
  await writeCheckpoint(dir, state, async (tmp) => {
    await writeSafetensors(join(tmp, 'params.safetensors'), params);
    await writeSafetensors(join(tmp, 'optimizer.safetensors'), moments, {
      metadata: { step: String(opt.step) },
    });
  });
}

/** Writes a checkpoint directory atomically: `fill` writes the payload, then `state.json` is written. */
export async function writeCheckpoint(
  dir: string,
  state: unknown,
  fill: (tmp: string) => Promise<void>,
): Promise<void> {
  await writeDirAtomic(dir, true, 'checkpoint', async (tmp) => {
    await fill(tmp);
    await writeFile(join(tmp, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
  });
}

/** A checkpoint's `state.json`, validated by `schema` (errors name the file and the field). */
export function readCheckpointState<S extends z.ZodType>(dir: string, schema: S): z.infer<S> {
  return readJsonFile(schema, join(dir, STATE_FILE));
}

const STATE_FILE = 'state.json';

/** A number that JSON may have written as null (NaN, ±Infinity). */
export const jsonNumber = z.number().or(z.null().transform(() => Number.NaN));

const CheckpointStateSchema = z.strictObject({
  step: z.number().int().min(0),
  version: z.string(),
  config: z.unknown(),
  extra: z.record(z.string(), z.unknown()).optional(),
});

/** Restores tensors into `vars` (shapes must match) and the optimizer; returns the saved state. */
export async function loadCheckpoint(
  dir: string,
  vars: ReadonlyMap<string, Variable>,
  optimizer: AdamW,
): Promise<CheckpointState> {
  const state = readCheckpointState(dir, CheckpointStateSchema) as CheckpointState;
  const paramsFile = join(dir, 'params.safetensors');
  const params = await readSafetensors(paramsFile);
  for (const [k, v] of vars) {
    const t = params.get(k);
    if (t === undefined) throw new SealError(`missing tensor ${k}`, paramsFile);
    if (t.shape.join(',') !== v.shape.join(','))
      throw new SealError(`tensor ${k} has shape [${t.shape}], expected [${v.shape}]`, paramsFile);
  }
  for (const [k, v] of vars) {
    const t = params.get(k)!;
    v.assign(tf.tensor(t.data, t.shape));
  }
  const moments = await readSafetensors(join(dir, 'optimizer.safetensors'));
  const tensors = new Map<string, Tensor>();
  for (const [k, t] of moments) tensors.set(k, tf.tensor(t.data, t.shape));
  optimizer.load(state.step, tensors);
  return state;
}
