/**
 * A queue worker (`seal worker`): takes inner-loop jobs for its model and engine from Redis, runs each on one of
 * `concurrency` threads (each with its own copy of the model), and writes one log line per job.
 *
 * A job is checked before anything runs: its kind must be one this worker knows, its payload must pass the zod
 * schema, it must be for this worker's model checksum and engine, and its id must be the hash of its content.
 * Anything else fails the job for good (BullMQ's UnrecoverableError, no retry) with the reason; it never runs.
 *
 * Inner loops run off the main thread (thread.ts), which stays free to renew BullMQ's job locks. A worker killed
 * mid-job stops renewing its lock; after `lockMs` another worker's stalled-job check queues the job again.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker as ThreadWorker } from 'node:worker_threads';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { BackendChoice } from '../../../engine/index.js';
import { SealError } from '../../../errors.js';
import type { InnerLoopResult } from '../inner-loop.js';
import type { FromWorker } from '../job.js';
import { redisClient } from './connection.js';
import {
  encodeResult,
  INNER_LOOP_KIND,
  innerJobOf,
  type QueueJob,
  QueueJobSchema,
  type QueueResult,
  queueJobId,
  queueName,
} from './payload.js';
import type { QueueThreadInit, ToQueueThread } from './thread.js';
import { exposureWarning, parseQueueUrl } from './url.js';

export interface QueueWorkerOptions {
  readonly queue: string;
  readonly modelDir: string;
  /** Jobs at once, one thread (and one model copy) each. */
  readonly concurrency: number;
  readonly backend: BackendChoice;
  /** undefined = native kernels when the addon is built. */
  readonly native?: boolean;
  /** Shown in logs and in the orchestrator's per-worker counts. */
  readonly name: string;
  /** How long a job's lock lasts without renewal: how soon a dead worker's job is retried. Default 30 000 ms. */
  readonly lockMs?: number;
  readonly log: (line: string) => void;
  readonly threadScript?: URL;
}

/** dist/seal/inner/queue/thread.js: beside this module in dist, the package's build when running from src. */
export function defaultThreadScript(): URL {
  const candidates = [
    new URL('./thread.js', import.meta.url),
    new URL('../../../../dist/seal/inner/queue/thread.js', import.meta.url),
  ];
  for (const url of candidates) if (existsSync(fileURLToPath(url))) return url;
  throw new Error(`queue worker thread script not found; run \`npm run build\``);
}

interface Slot {
  readonly thread: ThreadWorker;
  busy:
    | { readonly id: number; resolve: (r: InnerLoopResult) => void; reject: (e: Error) => void }
    | undefined;
}

export class QueueWorker {
  private readonly free: Slot[] = [];
  private readonly waiting: ((s: Slot) => void)[] = [];
  private nextId = 0;
  private lastErrorLog = 0;
  private stopping = false;
  private failed = false;
  /** Resolves when the worker has stopped (close(), or a thread died); true if it stopped on a failure. */
  readonly stopped: Promise<boolean>;
  private stop: (failed: boolean) => void = () => {};
  private bull: Worker | undefined;
  private client: Redis | undefined;

  private constructor(
    private readonly opts: QueueWorkerOptions,
    private readonly slots: Slot[],
    readonly checksum: string,
    readonly engine: string,
  ) {
    this.free.push(...slots);
    this.stopped = new Promise((r) => {
      this.stop = r;
    });
  }

  get queueName(): string {
    return queueName(this.checksum, this.engine);
  }

  /** Starts the threads (each loads and checksums the model), then listens to the queue of that model and engine. */
  static async start(opts: QueueWorkerOptions): Promise<QueueWorker> {
    const url = parseQueueUrl(opts.queue);
    const warn = exposureWarning(url);
    if (warn !== undefined) opts.log(`warning: ${warn}`);
    const script = opts.threadScript ?? defaultThreadScript();
    const init: QueueThreadInit = {
      modelDir: opts.modelDir,
      backend: opts.backend,
      native: opts.native,
      shared: opts.concurrency > 1,
    };
    const slots: Slot[] = [];
    const ready: Promise<{ engine: string; checksum: string }>[] = [];
    for (let i = 0; i < opts.concurrency; i++) {
      const thread = new ThreadWorker(script, { workerData: init, name: `seal-queue-${i}` });
      slots.push({ thread, busy: undefined });
      ready.push(threadReady(thread, i));
    }
    let infos: { engine: string; checksum: string }[];
    try {
      infos = await Promise.all(ready);
    } catch (e) {
      await Promise.all(slots.map((s) => s.thread.terminate()));
      throw e;
    }
    const first = infos[0] as { engine: string; checksum: string };
    const w = new QueueWorker(opts, slots, first.checksum, first.engine);
    for (const s of slots) w.attach(s);
    const client = redisClient(url, `seal-worker-${opts.name}`);
    w.client = client;
    const lockMs = opts.lockMs ?? 30_000;
    const bull = new Worker(w.queueName, (job: Job) => w.process(job), {
      connection: client,
      concurrency: opts.concurrency,
      name: opts.name,
      lockDuration: lockMs,
      stalledInterval: lockMs,
      // A job survives a few dead workers before it is failed as poison.
      maxStalledCount: 3,
    });
    w.bull = bull;
    // Redis going away shows as a stream of errors while ioredis reconnects: one line per 10 s is enough.
    bull.on('error', (e) => {
      if (Date.now() - w.lastErrorLog < 10_000) return;
      w.lastErrorLog = Date.now();
      opts.log(`queue error (reconnecting): ${e.message}`);
    });
    // An unreachable Redis is retried for ever (workers may start before it); say so rather than sit silent.
    const waiting = setInterval(() => opts.log(`waiting for the queue at ${url.redacted} …`), 10_000);
    try {
      await bull.waitUntilReady();
    } finally {
      clearInterval(waiting);
    }
    opts.log(
      `worker ${opts.name}: queue ${w.queueName} on ${url.redacted}, ${opts.concurrency} thread(s), ${first.engine}, model ${first.checksum.slice(0, 16)}…`,
    );
    return w;
  }

  /** Finishes the jobs in hand, then stops. */
  async close(): Promise<void> {
    if (this.stopping) return this.stopped.then(() => {});
    this.stopping = true;
    await this.bull?.close();
    this.client?.disconnect();
    await Promise.all(this.slots.map((s) => s.thread.terminate()));
    this.stop(this.failed);
  }

  private async process(job: Job): Promise<QueueResult> {
    const t0 = performance.now();
    const id = job.id === undefined ? '?' : job.id.length > 15 ? `${job.id.slice(0, 15)}…` : job.id;
    const line = (what: string) =>
      this.opts.log(
        `${new Date().toISOString()} ${this.opts.name} job ${id} ${what} (${((performance.now() - t0) / 1000).toFixed(1)} s, attempt ${job.attemptsMade + 1})`,
      );
    let payload: QueueJob;
    try {
      payload = this.check(job);
    } catch (e) {
      line(`refused: ${(e as Error).message}`);
      throw e;
    }
    const slot = await this.takeSlot();
    try {
      const r = await this.runOn(slot, payload);
      line(`${payload.job.context.id}: accuracy ${r.accuracy.toFixed(3)}${r.diverged ? ' (diverged)' : ''}`);
      return encodeResult(r, this.opts.name);
    } catch (e) {
      line(`failed: ${(e as Error).message}`);
      throw e;
    } finally {
      this.giveSlot(slot);
    }
  }

  /** The job's payload if this worker may run it; else an UnrecoverableError saying why (never retried). */
  private check(job: Job): QueueJob {
    if (job.name !== INNER_LOOP_KIND)
      throw new UnrecoverableError(
        `unknown job kind "${job.name}": this worker runs only ${INNER_LOOP_KIND}`,
      );
    const parsed = QueueJobSchema.safeParse(job.data);
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new UnrecoverableError(
        `malformed job: ${i?.path.join('.') || '(payload)'}: ${i?.message ?? 'invalid'}`,
      );
    }
    const p = parsed.data;
    if (p.model !== this.checksum)
      throw new UnrecoverableError(
        `job is for model ${p.model.slice(0, 16)}…, this worker has ${this.checksum.slice(0, 16)}…`,
      );
    if (p.engine !== this.engine)
      throw new UnrecoverableError(`job is for engine ${p.engine}, this worker computes with ${this.engine}`);
    if (queueJobId(p) !== job.id)
      throw new UnrecoverableError('job id is not the hash of its payload (tampered or foreign job)');
    return p;
  }

  private takeSlot(): Promise<Slot> {
    const s = this.free.pop();
    return s !== undefined ? Promise.resolve(s) : new Promise((r) => this.waiting.push(r));
  }

  private giveSlot(s: Slot): void {
    const next = this.waiting.shift();
    if (next !== undefined) next(s);
    else this.free.push(s);
  }

  private runOn(slot: Slot, p: QueueJob): Promise<InnerLoopResult> {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      slot.busy = { id, resolve, reject };
      const msg: ToQueueThread = { type: 'job', id, task: p.task, job: innerJobOf(p) };
      slot.thread.postMessage(msg);
    });
  }

  private attach(slot: Slot): void {
    slot.thread.on('message', (m: FromWorker) => {
      const b = slot.busy;
      if ((m.type !== 'result' && m.type !== 'error') || b === undefined || b.id !== m.id) return;
      slot.busy = undefined;
      if (m.type === 'result') b.resolve(m.result);
      else b.reject(new Error(m.message));
    });
    slot.thread.on('error', () => {});
    slot.thread.on('exit', (code) => {
      if (this.stopping) return;
      // A dead thread means a broken process (out of memory, a crash in the engine): stop taking jobs. The job it
      // held fails here and is retried; jobs of other threads finish first.
      this.opts.log(`a worker thread exited (code ${code}); stopping this worker`);
      slot.busy?.reject(new Error(`worker thread exited (code ${code})`));
      this.failed = true;
      void this.close();
    });
  }
}

function threadReady(thread: ThreadWorker, i: number): Promise<{ engine: string; checksum: string }> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: FromWorker) => {
      if (m.type === 'ready') {
        cleanup();
        resolve({ engine: m.engine, checksum: m.checksum });
      } else if (m.type === 'init-error') {
        cleanup();
        reject(new SealError(`queue worker thread ${i} failed to start: ${m.message}`));
      }
    };
    const onExit = (code: number) => {
      cleanup();
      reject(new Error(`queue worker thread ${i} exited with code ${code} while starting`));
    };
    const cleanup = () => {
      thread.off('message', onMessage);
      thread.off('exit', onExit);
    };
    thread.on('message', onMessage);
    thread.on('exit', onExit);
  });
}
