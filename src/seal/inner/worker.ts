/**
 * worker_threads entry of InnerLoopPool (pool.ts): sets up the engine, loads and verifies the base model once,
 * then runs one inner loop per `job` message and answers with its result or its error. Jobs arrive one at a time
 * (the pool never sends a busy worker another), and `runInnerLoop` is synchronous, so there is no interleaving.
 * Only ever started from the built file, dist/seal/inner/worker.js (see pool.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initEngine } from '../../engine/index.js';
import { type InnerEnv, runInnerLoop } from './inner-loop.js';
import {
  describeError,
  type FromWorker,
  loadInnerEnv,
  runsInline,
  type ToWorker,
  type WorkerInit,
} from './job.js';

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null)
    throw new Error('inner/worker.js is a worker_threads entry; start it through InnerLoopPool');
  const post = (m: FromWorker) => port.postMessage(m);
  const init = workerData as WorkerInit;
  let env: InnerEnv;
  try {
    const info = await initEngine(init.backend, { native: init.native });
    // Workers must run kernels inline (the parent owns the addon's pool): check the addon agrees.
    if (init.native && !(info.native.available && runsInline(info.native.detail)))
      throw new Error(`native kernels in a worker must run on its own thread; got: ${info.native.detail}`);
    const loaded = await loadInnerEnv(init.modelDir, init.task, init.expectedChecksum);
    env = loaded.env;
    post({
      type: 'ready',
      engine: `${info.backend}${info.native.available ? '+native' : ''}`,
      checksum: loaded.checksum,
    });
  } catch (e) {
    // The parent terminates every worker when one fails to start; nothing more to do here.
    post({ type: 'init-error', ...describeError(e) });
    return;
  }
  port.on('message', (m: ToWorker) => {
    if (m.type !== 'job') return;
    try {
      const { context, sequences, cfg, seed } = m.job;
      post({ type: 'result', id: m.id, result: runInnerLoop(env, context, sequences, cfg, seed) });
    } catch (e) {
      post({ type: 'error', id: m.id, ...describeError(e) });
    }
  });
}

await main();
