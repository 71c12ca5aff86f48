/**
 * worker_threads entry of a queue worker (`QueueWorker`): loads the base model once, then runs one inner loop per
 * `job` message. Inner loops run here, off the worker's main thread, because `runInnerLoop` is synchronous: on the
 * main thread it would block BullMQ's lock renewals for the whole job, and every long job would look stalled.
 * Unlike the pool's worker (../worker.ts) the task comes with each job, so one worker serves every task kind.
 * Only ever started from the built file, dist/seal/inner/queue/thread.js.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type BackendChoice, initEngine } from '../../../engine/index.js';
import type { Transformer } from '../../../model/model.js';
import type { Tokenizer } from '../../../tokenizer/types.js';
import { runInnerLoop } from '../inner-loop.js';
import { describeError, type FromWorker, type InnerJob, loadInnerEnv, runsInline } from '../job.js';
import { type TaskSpec, taskFromSpec } from '../task-spec.js';

export interface QueueThreadInit {
  readonly modelDir: string;
  readonly backend: BackendChoice;
  /** undefined = the engine's default (native kernels when the addon is built). */
  readonly native: boolean | undefined;
  /** More than one thread in this process: native kernels must then run a 1-thread pool (see ../pool.ts). */
  readonly shared: boolean;
}

export type ToQueueThread = {
  readonly type: 'job';
  readonly id: number;
  readonly task: TaskSpec;
  readonly job: InnerJob;
};

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null)
    throw new Error('inner/queue/thread.js is a worker_threads entry; start it through QueueWorker');
  const post = (m: FromWorker) => port.postMessage(m);
  const init = workerData as QueueThreadInit;
  let base: { model: Transformer; tok: Tokenizer };
  try {
    const info = await initEngine(init.backend, init.native === undefined ? {} : { native: init.native });
    if (init.shared && info.native.available && !runsInline(info.native.detail))
      throw new Error(
        `native kernels must run on this thread alone when several job threads share the process; got: ${info.native.detail}`,
      );
    // The task is per job; loading needs one only to build the env, which is rebuilt per job below.
    const loaded = await loadInnerEnv(init.modelDir, { kind: 'people' });
    base = { model: loaded.env.model, tok: loaded.env.tok };
    post({
      type: 'ready',
      engine: `${info.backend}${info.native.available ? '+native' : ''}`,
      checksum: loaded.checksum,
    });
  } catch (e) {
    post({ type: 'init-error', ...describeError(e) });
    return;
  }
  port.on('message', (m: ToQueueThread) => {
    if (m.type !== 'job') return;
    try {
      const env = { ...base, task: taskFromSpec(m.task) };
      const { context, sequences, cfg, seed } = m.job;
      post({ type: 'result', id: m.id, result: runInnerLoop(env, context, sequences, cfg, seed) });
    } catch (e) {
      post({ type: 'error', id: m.id, ...describeError(e) });
    }
  });
}

await main();
