import { hostname } from 'node:os';
import { z } from 'zod';
import { loadNative } from '../../../engine/native/loader.js';
import { resolveModelDir } from '../../config.js';
import type { Command } from '../args.js';
import { BackendOption, log, prepareQueue } from './common.js';

const schema = z.object({
  queue: z
    .string()
    .describe('Redis of the queue: redis://[user:password@]HOST:PORT/DB, or rediss://… for TLS'),
  model: z
    .string()
    .default('default')
    .describe('Model directory; jobs are taken only for this model (by content checksum)'),
  concurrency: z
    .number()
    .int()
    .min(1)
    .max(16)
    .default(1)
    .describe(
      'Jobs at once, one thread and one model copy each (native kernels then run one thread per job)',
    ),
  name: z.string().optional().describe('Worker name in logs and progress (default HOST-PID)'),
  lockMs: z
    .number()
    .int()
    .min(500)
    .max(3_600_000)
    .default(30_000)
    .describe("Lock per job: a killed worker's job is retried elsewhere after about this long"),
  backend: BackendOption,
});

export const workerCommand: Command<typeof schema> = {
  name: 'worker',
  summary:
    'Run inner-loop jobs from a Redis queue (seal train|eval|demo --queue) until stopped; one log line per job.',
  schema,
  examples: [
    'seal worker --queue redis://127.0.0.1:6379/0',
    'seal worker --queue rediss://:PASSWORD@queue.example:6380/0 --model runs/my-model --concurrency 2',
  ],
  async run(o) {
    prepareQueue(1, o.queue);
    // Several job threads: this thread loads the addon first, so it owns the pool and each job thread runs its
    // kernels inline on one core (native/src/pool.cc); one job thread keeps the whole pool for itself.
    if (o.concurrency > 1) loadNative();
    // Loaded here, not at start-up: `seal` must not pay for BullMQ in every other command.
    const { QueueWorker } = await import('../../../seal/inner/queue/worker.js');
    const worker = await QueueWorker.start({
      queue: o.queue,
      modelDir: resolveModelDir(o.model),
      concurrency: o.concurrency,
      backend: o.backend,
      name: o.name ?? `${hostname()}-${process.pid}`,
      lockMs: o.lockMs,
      log,
    });
    // SIGINT/SIGTERM: finish the jobs in hand, then exit; a second signal exits at once (the jobs are retried).
    let signalled = false;
    const onSignal = (sig: NodeJS.Signals) => {
      if (signalled) process.exit(130);
      signalled = true;
      log(`${sig}: finishing the jobs in hand (again to stop now)`);
      void worker.close();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const failed = await worker.stopped;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    log(`worker ${failed ? 'stopped on a failure' : 'stopped'}`);
    if (failed) process.exitCode = 1;
  },
};
