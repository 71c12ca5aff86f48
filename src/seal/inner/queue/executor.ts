/**
 * Inner loops on a BullMQ queue in Redis: `seal worker` processes on any machine with the base model take them.
 * Same results as in-process: a job carries its seed and is named by its content (payload.ts), so where, when and
 * how often it ran never shows in its result.
 *
 * Robustness, each by construction rather than by luck:
 * - a worker killed mid-job: its lock lapses, BullMQ's stalled-job check (in the other workers) queues the job
 *   again, and it is run elsewhere with the same result;
 * - a worker that answers garbage or NaN: the result fails its schema and scores the lowest reward, with a warning;
 * - duplicate completions: only the first completion of a job id is taken, and every completion is the same result;
 * - Redis restarting: commands wait through the restart; a periodic reconciliation re-reads every pending job and
 *   queues again any a non-persistent Redis has lost; after `unavailableMs` without Redis, run() rejects with a
 *   `QueueUnavailableError` (callers print how to --resume: finished jobs left in Redis are then reused);
 * - an orchestrator restarted on the same run rebuilds the same jobs, whose ids find the finished results.
 */
import { Job, Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { InnerExecutor, RunOptions } from '../executor.js';
import type { InnerLoopResult } from '../inner-loop.js';
import type { InnerJob } from '../job.js';
import type { TaskSpec } from '../task-spec.js';
import { redisClient } from './connection.js';
import { QueueJobError, QueueUnavailableError } from './errors.js';
import { decodeResult, INNER_LOOP_KIND, lowestResult, queueJobId, queueName, toQueueJob } from './payload.js';
import { exposureWarning, parseQueueUrl, type QueueUrl } from './url.js';

export interface QueueExecutorOptions {
  /** redis://[user:password@]host:port/db or rediss://… */
  readonly queue: string;
  /** `checksum(model.params)` of the base model the jobs adapt. */
  readonly model: string;
  /** The orchestrator's engine, e.g. `wasm+native` (workers must compute with the same one). */
  readonly engine: string;
  readonly task: TaskSpec;
  readonly log?: (line: string) => void;
  /** How long run() waits for an unreachable Redis before rejecting; default 300 000 ms. */
  readonly unavailableMs?: number;
  /** How often pending jobs are re-read from Redis (events are the fast path); default 2000 ms. */
  readonly reconcileMs?: number;
  /** Tries per job when the worker throws; default 3. A stalled job (worker died) is retried separately. */
  readonly attempts?: number;
  /** How long finished jobs stay in Redis for a resumed run to reuse; default 7 days. */
  readonly keepS?: number;
}

export { QueueJobError, QueueUnavailableError } from './errors.js';

interface Batch {
  readonly jobs: readonly InnerJob[];
  /** Job id → the indices of `jobs` with that content. */
  readonly indices: ReadonlyMap<string, readonly number[]>;
  readonly pending: Set<string>;
  readonly results: (InnerLoopResult | undefined)[];
  readonly running: Set<string>;
  readonly retried: Set<string>;
  readonly perWorker: Map<string, number>;
  readonly onResult: RunOptions['onResult'];
  error: Error | undefined;
  /** Wakes the run loop early (an event arrived). */
  wake: () => void;
}

export class QueueExecutor implements InnerExecutor {
  readonly description: string;
  private readonly batches = new Set<Batch>();
  private closed = false;
  private readonly log: (line: string) => void;
  private readonly unavailableMs: number;
  private readonly reconcileMs: number;
  /** When Redis last answered: outages are timed from here, not from the call that happens to be waiting. */
  private lastOk = Date.now();

  private constructor(
    private readonly opts: QueueExecutorOptions,
    private readonly url: QueueUrl,
    readonly name: string,
    private readonly queue: Queue,
    private readonly events: QueueEvents,
    private readonly clients: readonly Redis[],
  ) {
    this.log = opts.log ?? (() => {});
    this.unavailableMs = opts.unavailableMs ?? 300_000;
    this.reconcileMs = opts.reconcileMs ?? 2000;
    this.description = `queue ${name} on ${url.redacted}`;
    events.on('completed', ({ jobId, returnvalue }) => this.onCompleted(jobId, returnvalue));
    events.on('failed', ({ jobId, failedReason }) => this.onFailed(jobId, failedReason));
    events.on('active', ({ jobId }) => this.each(jobId, (b) => b.running.add(jobId)));
    const requeued = (jobId: string) =>
      this.each(jobId, (b) => {
        b.retried.add(jobId);
        b.running.delete(jobId);
      });
    // Back in the queue after a stall (its worker died) or a failed try: it will run again.
    events.on('stalled', ({ jobId }) => requeued(jobId));
    events.on('waiting', ({ jobId, prev }) => {
      if (prev === 'active') requeued(jobId);
    });
    events.on('error', () => {});
    queue.on('error', () => {});
  }

  /** Connects (waiting at most `unavailableMs` for Redis) to the queue of this model and engine. */
  static async create(opts: QueueExecutorOptions): Promise<QueueExecutor> {
    const url = parseQueueUrl(opts.queue);
    const warn = exposureWarning(url);
    if (warn !== undefined) opts.log?.(`warning: ${warn}`);
    const name = queueName(opts.model, opts.engine);
    const qc = redisClient(url, 'seal-orchestrator');
    const ec = redisClient(url, 'seal-orchestrator-events');
    const keep = opts.keepS ?? 7 * 86_400;
    const queue = new Queue(name, {
      connection: qc,
      defaultJobOptions: {
        attempts: opts.attempts ?? 3,
        backoff: { type: 'fixed', delay: 1000 },
        removeOnComplete: { age: keep },
        removeOnFail: { age: keep },
      },
    });
    const events = new QueueEvents(name, { connection: ec });
    const ex = new QueueExecutor(opts, url, name, queue, events, [qc, ec]);
    try {
      await ex.guard(Promise.all([queue.waitUntilReady(), events.waitUntilReady()]), 'connecting');
    } catch (e) {
      await ex.close();
      throw e;
    }
    return ex;
  }

  /** e.g. `3 queued, 2 running, 5/10 done (host-a 3, host-b 2), 1 retried`; empty when no run is in flight. */
  progress(): string {
    const parts: string[] = [];
    for (const b of this.batches) {
      const done = b.results.filter((r) => r !== undefined).length;
      const running = [...b.pending].filter((id) => b.running.has(id)).length;
      const workers = [...b.perWorker].map(([w, n]) => `${w} ${n}`).join(', ');
      parts.push(
        `${b.pending.size - running} queued, ${running} running, ${done}/${b.jobs.length} done${workers === '' ? '' : ` (${workers})`}, ${b.retried.size} retried`,
      );
    }
    return parts.join('; ');
  }

  async run(jobs: readonly InnerJob[], opts: RunOptions = {}): Promise<InnerLoopResult[]> {
    if (this.closed) throw new Error('QueueExecutor is closed');
    if (jobs.length === 0) return [];
    const { model, engine, task } = this.opts;
    const payloads = jobs.map((j) => toQueueJob(j, model, engine, task));
    const indices = new Map<string, number[]>();
    payloads.forEach((p, i) => {
      const id = queueJobId(p);
      indices.set(id, [...(indices.get(id) ?? []), i]);
    });
    const batch: Batch = {
      jobs,
      indices,
      pending: new Set(indices.keys()),
      results: jobs.map(() => undefined),
      running: new Set(),
      retried: new Set(),
      perWorker: new Map(),
      onResult: opts.onResult,
      error: undefined,
      wake: () => {},
    };
    this.batches.add(batch);
    // Time between runs (sampling, training) is not an outage.
    this.lastOk = Date.now();
    try {
      const add = [...indices].map(([id, [i]]) => ({
        name: INNER_LOOP_KIND,
        data: payloads[i as number],
        opts: { jobId: id },
      }));
      // Existing ids are left as they are: a finished job of an earlier (interrupted) run is reused.
      await this.guard(this.queue.addBulk(add), 'queueing jobs');
      await this.reconcile(batch, true);
      let lastReconcile = Date.now();
      let lastProgress = Date.now();
      let seen = batch.pending.size;
      while (batch.pending.size > 0 && batch.error === undefined) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, this.reconcileMs);
          batch.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        if (batch.error !== undefined || batch.pending.size === 0) break;
        if (Date.now() - lastReconcile >= this.reconcileMs) {
          await this.reconcile(batch, false);
          lastReconcile = Date.now();
        }
        if (batch.pending.size !== seen || batch.running.size > 0) {
          seen = batch.pending.size;
          lastProgress = Date.now();
        } else if (Date.now() - lastProgress > 30_000) {
          lastProgress = Date.now();
          const workers = await this.guard(this.queue.getWorkersCount(), 'counting workers');
          if (workers === 0)
            this.log(
              `no worker is serving queue ${this.name} (model ${model.slice(0, 16)}…, engine ${engine}): start \`seal worker --queue URL --model DIR\` where the model is`,
            );
        }
      }
      if (batch.error !== undefined) throw batch.error;
      return batch.results as InnerLoopResult[];
    } finally {
      this.batches.delete(batch);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const b of this.batches) this.fail(b, new Error('QueueExecutor closed while jobs were pending'));
    // The clients are ours (BullMQ does not close a connection it was given): stop them even if Redis is gone.
    await Promise.race([
      Promise.allSettled([this.events.close(), this.queue.close()]),
      new Promise((r) => setTimeout(r, 2000)),
    ]);
    for (const c of this.clients) c.disconnect();
  }

  private each(jobId: string, f: (b: Batch) => void): void {
    for (const b of this.batches) if (b.pending.has(jobId)) f(b);
  }

  private onCompleted(jobId: string, returnvalue: unknown): void {
    this.each(jobId, (b) => this.finish(b, jobId, returnvalue));
  }

  private onFailed(jobId: string, failedReason: string): void {
    this.each(jobId, (b) => this.fail(b, this.jobError(b, jobId, failedReason)));
  }

  private jobError(b: Batch, jobId: string, reason: string): QueueJobError {
    const i = b.indices.get(jobId)?.[0] ?? 0;
    return new QueueJobError(
      `inner-loop job ${jobId.slice(0, 15)}… (context ${b.jobs[i]?.context.id}) failed on its worker: ${reason}`,
    );
  }

  private fail(b: Batch, e: Error): void {
    b.error ??= e;
    b.wake();
  }

  /** Takes the first completion of a job; later ones (duplicates) find it no longer pending and are ignored. */
  private finish(b: Batch, jobId: string, raw: unknown): void {
    if (!b.pending.delete(jobId)) return;
    b.running.delete(jobId);
    const idx = b.indices.get(jobId) ?? [];
    const job = b.jobs[idx[0] as number] as InnerJob;
    const value = typeof raw === 'string' ? safeJson(raw) : raw;
    const decoded = decodeResult(value, job);
    let result: InnerLoopResult;
    if (decoded.ok) {
      result = decoded.result;
      b.perWorker.set(decoded.worker, (b.perWorker.get(decoded.worker) ?? 0) + 1);
    } else {
      const who = (value as { worker?: unknown } | null)?.worker;
      this.log(
        `warning: job ${jobId.slice(0, 15)}… (context ${job.context.id}) from worker ${typeof who === 'string' ? who : '?'} returned an invalid result (${decoded.why}); scored as the lowest reward`,
      );
      result = lowestResult(job);
    }
    for (const i of idx) {
      b.results[i] = result;
      try {
        b.onResult?.(i, result);
      } catch (e) {
        this.fail(b, e instanceof Error ? e : new Error(String(e)));
      }
    }
    b.wake();
  }

  /**
   * Re-reads every pending job from Redis: takes finished results whose events were missed, and queues again jobs
   * that Redis no longer has. On the first pass, a job failed by an earlier run is retried rather than failing this one.
   */
  private async reconcile(b: Batch, first: boolean): Promise<void> {
    const ids = [...b.pending];
    const states = await this.guard(
      Promise.all(ids.map((id) => this.queue.getJobState(id))),
      'reading job states',
    );
    const lost: string[] = [];
    for (const [k, id] of ids.entries()) {
      const state = states[k];
      if (!b.pending.has(id)) continue;
      if (state === 'active') b.running.add(id);
      else b.running.delete(id);
      if (state === 'completed' || state === 'failed') {
        const job = await this.guard(Job.fromId(this.queue, id), 'reading a job');
        if (job === undefined) lost.push(id);
        else if (state === 'completed') {
          if (job.attemptsMade > 1 || job.stalledCounter > 0) b.retried.add(id);
          this.finish(b, id, job.returnvalue);
        } else if (first) await this.guard(job.retry('failed'), 'retrying a failed job');
        else this.fail(b, this.jobError(b, id, job.failedReason));
      } else if (state === 'unknown') lost.push(id);
    }
    if (lost.length > 0) {
      for (const id of lost) b.retried.add(id);
      this.log(
        `${lost.length} job(s) missing from the queue (Redis restarted without persistence?): queued again`,
      );
      const { model, engine, task } = this.opts;
      await this.guard(
        this.queue.addBulk(
          lost.map((id) => {
            const job = b.jobs[b.indices.get(id)?.[0] as number] as InnerJob;
            return { name: INNER_LOOP_KIND, data: toQueueJob(job, model, engine, task), opts: { jobId: id } };
          }),
        ),
        'queueing lost jobs',
      );
    }
  }

  /**
   * `p`, or a QueueUnavailableError once Redis has not answered for `unavailableMs`; says so after 5 s of silence
   * and again when Redis is back.
   */
  private async guard<T>(p: Promise<T>, what: string): Promise<T> {
    p.catch(() => {}); // may settle after the deadline: never an unhandled rejection
    const silent = Date.now() - this.lastOk;
    let warned = false;
    let warnTimer: NodeJS.Timeout | undefined;
    let deadline: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      warnTimer = setTimeout(
        () => {
          warned = true;
          this.log(
            `queue ${this.url.redacted} not answering (${what}); waiting up to ${Math.round(this.unavailableMs / 1000)} s for it`,
          );
        },
        Math.max(0, 5000 - silent),
      );
      deadline = setTimeout(
        () =>
          reject(
            new QueueUnavailableError(
              `queue ${this.url.redacted} unreachable for ${Math.round(this.unavailableMs / 1000)} s (${what}); finished jobs stay in Redis and are reused on --resume`,
            ),
          ),
        Math.max(0, this.unavailableMs - silent),
      );
    });
    try {
      const r = await Promise.race([p, timeout]);
      this.lastOk = Date.now();
      if (warned) this.log(`queue ${this.url.redacted} answering again`);
      return r;
    } finally {
      clearTimeout(warnTimer);
      clearTimeout(deadline);
    }
  }
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}
