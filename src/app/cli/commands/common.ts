/** Options shared by several commands. */
import { z } from 'zod';
import { engineInfo } from '../../../engine/index.js';
import type { Transformer } from '../../../model/model.js';
import { defaultInnerWorkers, InnerLoopPool } from '../../../seal/inner/pool.js';
import type { Tokenizer } from '../../../tokenizer/types.js';

export const BackendOption = z
  .enum(['auto', 'wasm', 'cpu', 'tensorflow'])
  .default('auto')
  .describe('Compute backend: auto picks tfjs-node when installed, else wasm');

/** Writes to stderr: stdout is reserved for a command's result (generated text, JSON). */
export function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

const workersSchema = z.number().int().min(1).max(16);
const WORKERS_NOTE =
  'native kernels one thread per worker; the main thread keeps the whole pool for sampling and training';

export const WorkersOption = workersSchema
  .default(1)
  .describe(`Inner loops on N worker threads (2 = both cores), ${WORKERS_NOTE}`);

/**
 * The demo's default: both cores (at most 2 here, `defaultInnerWorkers`). Measured on 2 cores: the default demo in
 * 572 s against 774 s in one thread, with the same summary.json numbers (every job's seed comes from its identity).
 */
export const DemoWorkersOption = workersSchema
  .default(defaultInnerWorkers())
  .describe(`Inner loops on N worker threads (default: one per core, at most 2), ${WORKERS_NOTE}`);

/** The inner-loop worker pool of `--workers N` (undefined for 1: inner loops run in this thread). */
export async function innerPool(
  modelDir: string,
  env: { readonly model: Transformer; readonly tok: Tokenizer },
  workers: number,
): Promise<InnerLoopPool | undefined> {
  if (workers <= 1) return undefined;
  const pool = await InnerLoopPool.create({
    modelDir,
    task: { kind: 'people' },
    workers,
    local: { model: env.model, tok: env.tok },
    native: engineInfo().native.available,
  });
  log(`inner loops: ${pool.description}`);
  return pool;
}
