/** Options shared by several commands. */
import { z } from 'zod';
import { engineInfo } from '../../../engine/index.js';
import { SealError } from '../../../errors.js';
import type { Transformer } from '../../../model/model.js';
import { checksum } from '../../../model/params.js';
import type { InnerExecutor } from '../../../seal/inner/executor.js';
import { defaultInnerWorkers, InnerLoopPool } from '../../../seal/inner/pool.js';
import { QueueUnavailableError } from '../../../seal/inner/queue/errors.js';
import { parseQueueUrl } from '../../../seal/inner/queue/url.js';
import type { TaskSpec } from '../../../seal/inner/task-spec.js';
import type { Tokenizer } from '../../../tokenizer/types.js';
import { UsageError } from '../args.js';

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
 * The demo's default (`demoWorkers`): both cores (at most 2 here, `defaultInnerWorkers`), or 1 with --queue. Measured
 * on 2 cores: the default demo in 572 s against 774 s in one thread, with the same summary.json numbers (every
 * job's seed comes from its identity).
 */
export const DemoWorkersOption = workersSchema
  .optional()
  .describe(
    `Inner loops on N worker threads (default: one per core, at most ${defaultInnerWorkers()} here; 1 with --queue), ${WORKERS_NOTE}`,
  );

export function demoWorkers(workers: number | undefined, queue: string | undefined): number {
  return workers ?? (queue === undefined ? defaultInnerWorkers() : 1);
}

/** The inner-loop worker pool of `--workers N` (undefined for 1: inner loops run in this thread). */
export async function innerPool(
  modelDir: string,
  env: { readonly model: Transformer; readonly tok: Tokenizer },
  workers: number,
  task: TaskSpec = { kind: 'people' },
): Promise<InnerLoopPool | undefined> {
  if (workers <= 1) return undefined;
  const pool = await InnerLoopPool.create({
    modelDir,
    task,
    workers,
    local: { model: env.model, tok: env.tok },
    native: engineInfo().native.available,
  });
  log(`inner loops: ${pool.description}`);
  return pool;
}

export const QueueOption = z
  .string()
  .optional()
  .describe(
    'Run inner loops on `seal worker` processes through this Redis: redis://[user:password@]HOST:PORT/DB or rediss://… (docs/distributed.md)',
  );

export const QueueWaitOption = z
  .number()
  .int()
  .min(1)
  .max(86_400)
  .default(300)
  .describe(
    'With --queue: seconds to wait for an unreachable Redis before stopping (resumable with --resume)',
  );

/** Call first: --queue must be a redis:// or rediss:// URL, and excludes --workers N. */
export function prepareQueue(workers: number, queue: string | undefined): void {
  if (queue === undefined) return;
  if (workers > 1)
    throw new UsageError(
      `--queue and --workers ${workers} exclude each other: with --queue, inner loops run on \`seal worker\` processes (start more of them, or give them --concurrency)`,
    );
  try {
    parseQueueUrl(queue);
  } catch (e) {
    throw e instanceof SealError ? new UsageError(e.message) : e;
  }
}

/** Where inner loops run: the queue of `--queue`, else the pool of `--workers N` (undefined: this thread). */
export async function innerExecutor(
  modelDir: string,
  env: { readonly model: Transformer; readonly tok: Tokenizer },
  workers: number,
  queue: string | undefined,
  queueWaitS = 300,
  task: TaskSpec = { kind: 'people' },
): Promise<InnerExecutor | undefined> {
  if (queue === undefined) return innerPool(modelDir, env, workers, task);
  // Loaded only here: BullMQ and its Redis client cost every other command ~0.3 s of start-up.
  const { QueueExecutor } = await import('../../../seal/inner/queue/executor.js');
  const e = engineInfo();
  const ex = await QueueExecutor.create({
    queue,
    unavailableMs: queueWaitS * 1000,
    model: checksum(env.model.params),
    engine: `${e.backend}${e.native.available ? '+native' : ''}`,
    task,
    log,
  });
  log(`inner loops: ${ex.description}`);
  return ex;
}

/** A queue that stayed unreachable stops the run: the error then says how to carry on. */
export function withResumeHint(e: unknown, resume: string): unknown {
  return e instanceof QueueUnavailableError ? new SealError(`${e.message}; continue with: ${resume}`) : e;
}
