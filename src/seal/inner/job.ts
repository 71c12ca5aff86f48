/**
 * One inner-loop job as plain data — what crosses to a worker thread (or, later, a queue) — the messages of the
 * worker protocol, and how a worker builds its environment. Shared by the pool and the worker (no cycle).
 */
import type { BackendName } from '../../engine/index.js';
import { loadModel } from '../../model/io/load.js';
import { checksum } from '../../model/params.js';
import type { Context } from '../../tasks/types.js';
import { loadTokenizer } from '../../tokenizer/load.js';
import type { InnerEnv, InnerLoopConfig, InnerLoopResult, TrainingText } from './inner-loop.js';
import { type TaskSpec, taskFromSpec } from './task-spec.js';

/** One inner loop: the arguments of `runInnerLoop` after its env. Plain data, so it can cross to a worker. */
export interface InnerJob {
  readonly context: Context;
  readonly sequences: readonly TrainingText[];
  readonly cfg: InnerLoopConfig;
  readonly seed: number;
}

/** Loads model + tokenizer from `modelDir` and checks the model is the expected one. What each worker does. */
export async function loadInnerEnv(
  modelDir: string,
  task: TaskSpec,
  expectedChecksum?: string,
): Promise<{ env: InnerEnv; checksum: string }> {
  const { model } = await loadModel(modelDir);
  try {
    const tok = loadTokenizer(modelDir, { vocabSize: model.config.vocabSize });
    const sum = checksum(model.params);
    if (expectedChecksum !== undefined && sum !== expectedChecksum) {
      throw new Error(
        `model checksum mismatch: ${modelDir} has ${sum} but the parent's model has ${expectedChecksum}; ` +
          'inner loops would adapt a different base than the one being trained',
      );
    }
    return { env: { model, tok, task: taskFromSpec(task) }, checksum: sum };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/** `workerData` of every worker. */
export interface WorkerInit {
  readonly modelDir: string;
  readonly task: TaskSpec;
  readonly expectedChecksum: string;
  readonly backend: BackendName;
  readonly native: boolean;
}

export type ToWorker = { readonly type: 'job'; readonly id: number; readonly job: InnerJob };

export type FromWorker =
  | { readonly type: 'ready'; readonly engine: string; readonly checksum: string }
  | { readonly type: 'init-error'; readonly message: string; readonly stack?: string }
  | { readonly type: 'result'; readonly id: number; readonly result: InnerLoopResult }
  | { readonly type: 'error'; readonly id: number; readonly message: string; readonly stack?: string };

/** An error as plain data for a worker message. */
export function describeError(e: unknown): { message: string; stack?: string } {
  if (e instanceof Error)
    return e.stack === undefined ? { message: e.message } : { message: e.message, stack: e.stack };
  return { message: String(e) };
}

/** Whether an addon's `info()` says kernels run on the calling thread alone (a 1-thread pool, or not its owner). */
export function runsInline(nativeDetail: string): boolean {
  return /\b1 threads?\b|1 on this thread/.test(nativeDetail);
}
