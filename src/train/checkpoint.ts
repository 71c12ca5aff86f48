/**
 * Resumable training checkpoints: trainable tensors, AdamW moments, and a JSON state (step, config, version, free
 * extra fields). Written atomically as a directory, so a crash mid-save leaves the previous checkpoint intact.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Tensor, tf, type Variable } from '../engine/tf.js';
import { SealError } from '../errors.js';
import { readSafetensors, writeSafetensors } from '../model/io/safetensors.js';
import { writeDirAtomic } from '../util/fs.js';
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
  await writeDirAtomic(dir, true, 'checkpoint', async (tmp) => {
    await writeSafetensors(join(tmp, 'params.safetensors'), params);
    await writeSafetensors(join(tmp, 'optimizer.safetensors'), moments, {
      metadata: { step: String(opt.step) },
    });
    await writeFile(join(tmp, 'state.json'), `${JSON.stringify(state, null, 2)}\n`);
  });
}

/** Restores tensors into `vars` (shapes must match) and the optimizer; returns the saved state. */
export async function loadCheckpoint(
  dir: string,
  vars: ReadonlyMap<string, Variable>,
  optimizer: AdamW,
): Promise<CheckpointState> {
  const stateFile = join(dir, 'state.json');
  let state: CheckpointState;
  try {
    state = JSON.parse(await readFile(stateFile, 'utf8')) as CheckpointState;
  } catch (e) {
    throw new SealError(`cannot read checkpoint state: ${(e as Error).message}`, stateFile);
  }
  if (typeof state.step !== 'number') throw new SealError('field "step" missing', stateFile);
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
