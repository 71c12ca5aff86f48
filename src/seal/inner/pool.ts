/**
 * Runs independent inner loops on several cores. tfjs-wasm is single-threaded in Node, so SEAL's inner loops
 * (one fresh LoRA per self-edit, all on the same frozen base) are farmed out to `worker_threads`, each holding its
 * own copy of the base model, loaded once from a Hugging Face directory and checked against the parent's checksum.
 *
 * Determinism: a job's result depends only on the job (context, sequences, cfg, seed), never on which worker ran
 * it or what ran before, so 1 worker and N workers give identical results — provided every engine does the same
 * arithmetic: `workers: 1` runs in-process on the parent's engine, workers run `backend` with `native` (default:
 * the parent's backend, native off). Keep the parent on `initEngine(backend, {native: false})` when comparing.
 *
 * Native kernels in workers: the addon's thread pool serves only the thread that loaded the addon (the parent,
 * which `create` makes load it first), so each worker runs its kernels inline on one core, with the same chunking
 * as the parent's pool (the same bits), and the parent keeps both cores for its own phases (sampling, SFT).
 *
 * Worker script: `dist/seal/inner/worker.js`. From dist it sits beside this module; when this module runs from src
 * (vitest transforms TS in-process, but a Worker is a plain Node thread that cannot load .ts or resolve
 * `.js` imports to .ts files) it is the package's built copy, `../../dist/seal/inner/worker.js`: run `npm run build`
 * first (`npm test` does), and rebuild after changing anything the worker imports.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type BackendName, engineInfo } from '../../engine/index.js';
import { loadNative } from '../../engine/native/loader.js';
import type { Transformer } from '../../model/model.js';
import { checksum } from '../../model/params.js';
import type { Tokenizer } from '../../tokenizer/types.js';
import { type InnerExecutor, LocalExecutor, type RunOptions } from './executor.js';
import type { InnerEnv, InnerLoopResult } from './inner-loop.js';
import { type FromWorker, type InnerJob, loadInnerEnv, type ToWorker, type WorkerInit } from './job.js';
import { type TaskSpec, taskFromSpec } from './task-spec.js';

export { type RunOptions, runInnerJobs } from './executor.js';
export { type InnerJob, loadInnerEnv } from './job.js';

export interface InnerLoopPoolOptions {
  /** Hugging Face model directory with tokenizer.json: what every worker loads. */
  readonly modelDir: string;
  readonly task: TaskSpec;
  /** Default `defaultInnerWorkers()`. 1 = run in the calling thread, no worker at all. */
  readonly workers?: number;
  /**
   * The parent's model and tokenizer: `workers: 1` uses them instead of loading `modelDir`, and their checksum
   * becomes the one every worker must match.
   */
  readonly local?: { readonly model: Transformer; readonly tok: Tokenizer };
  /** sha256 from `checksum(model.params)` that the loaded model must have; required when `local` is absent. */
  readonly expectedChecksum?: string;
  /** Workers' tfjs backend; default the parent's (engineInfo()), else wasm. */
  readonly backend?: BackendName;
  /** Native addon in workers, one thread each (see the module comment). Default false. */
  readonly native?: boolean;
  /** Worker entry; default `defaultWorkerScript()`. */
  readonly workerScript?: URL;
  /**
   * Node flags of the worker threads; default none. Not inherited from the parent: its flags can be unusable in a
   * worker (`--input-type` of `node -e` makes a worker fail to start) or change how modules load (test runners'
   * loaders), and the worker only ever runs built JS.
   */
  readonly execArgv?: readonly string[];
}

export class InnerLoopWorkerError extends Error {
  override readonly name = 'InnerLoopWorkerError';
  constructor(
    message: string,
    readonly worker: number,
    readonly workerStack?: string,
  ) {
    super(message);
  }
}

/** Both cores of the target laptop; more workers than cores only adds model copies. */
export function defaultInnerWorkers(): number {
  return Math.max(1, Math.min(2, availableParallelism()));
}

/** dist/seal/inner/worker.js: beside this module when running from dist, the package's build when running from src. */
export function defaultWorkerScript(): URL {
  const candidates = [
    new URL('./worker.js', import.meta.url),
    new URL('../../../dist/seal/inner/worker.js', import.meta.url),
  ];
  for (const url of candidates) if (existsSync(fileURLToPath(url))) return url;
  throw new Error(
    `inner-loop worker script not found (looked for ${candidates.map((u) => fileURLToPath(u)).join(', ')}); run \`npm run build\``,
  );
}

interface Batch {
  readonly results: (InnerLoopResult | undefined)[];
  remaining: number;
  settled: boolean;
  readonly resolve: (r: InnerLoopResult[]) => void;
  readonly reject: (e: Error) => void;
  readonly onResult: RunOptions['onResult'];
}

interface Pending {
  readonly id: number;
  readonly batch: Batch;
  readonly index: number;
  readonly job: InnerJob;
}

interface Slot {
  readonly index: number;
  readonly worker: Worker;
  busy: Pending | undefined;
  /** Uncaught error reported by the thread just before it exits. */
  lastError: Error | undefined;
}

export class InnerLoopPool implements InnerExecutor {
  private readonly queue: Pending[] = [];
  private nextId = 0;
  private closed = false;
  /** Set once a worker dies: the pool is then unusable and every run rejects with this. */
  private broken: Error | undefined;

  private constructor(
    private readonly slots: Slot[],
    private readonly env: InnerEnv | undefined,
    /** In-process with a model this pool loaded: disposed by close(). */
    private readonly ownsModel: boolean,
    /** e.g. `in-process` or `2 workers, wasm`. */
    readonly description: string,
  ) {}

  /** Starts the workers and waits until each has loaded and verified the model. */
  static async create(opts: InnerLoopPoolOptions): Promise<InnerLoopPool> {
    const n = opts.workers ?? defaultInnerWorkers();
    if (!Number.isInteger(n) || n < 1) throw new Error(`workers must be a whole number >= 1, got ${n}`);
    if (n === 1) {
      if (opts.local !== undefined) {
        const sum = checksum(opts.local.model.params);
        if (opts.expectedChecksum !== undefined && sum !== opts.expectedChecksum)
          throw new Error(
            `model checksum mismatch: local model has ${sum}, expected ${opts.expectedChecksum}`,
          );
        const env = { ...opts.local, task: taskFromSpec(opts.task) };
        return new InnerLoopPool([], env, false, 'in-process');
      }
      const { env } = await loadInnerEnv(opts.modelDir, opts.task, opts.expectedChecksum);
      return new InnerLoopPool([], env, true, 'in-process');
    }
    // The addon's pool belongs to the thread that loads it first: make that this one, not a worker.
    if (opts.native === true) loadNative();
    const expected =
      opts.expectedChecksum ?? (opts.local === undefined ? undefined : checksum(opts.local.model.params));
    if (expected === undefined) throw new Error('InnerLoopPool needs `local` or `expectedChecksum`');
    const init: WorkerInit = {
      modelDir: opts.modelDir,
      task: opts.task,
      expectedChecksum: expected,
      backend: opts.backend ?? parentBackend(),
      native: opts.native ?? false,
    };
    const script = opts.workerScript ?? defaultWorkerScript();
    const slots: Slot[] = [];
    const ready: Promise<string>[] = [];
    for (let i = 0; i < n; i++) {
      const worker = new Worker(script, {
        workerData: init,
        name: `seal-inner-${i}`,
        execArgv: [...(opts.execArgv ?? [])],
      });
      const slot: Slot = { index: i, worker, busy: undefined, lastError: undefined };
      // Registered for the thread's whole life: an 'error' event with no listener would crash the parent.
      worker.on('error', (e) => {
        slot.lastError = e;
      });
      slots.push(slot);
      ready.push(waitReady(slot));
    }
    let engines: string[];
    try {
      engines = await Promise.all(ready);
    } catch (e) {
      await Promise.all(slots.map((s) => s.worker.terminate()));
      throw e;
    }
    const pool = new InnerLoopPool(slots, undefined, false, `${n} workers, ${engines[0] ?? init.backend}`);
    for (const slot of slots) pool.attach(slot);
    return pool;
  }

  /** Worker threads (empty in-process); `threadId` is -1 once a thread has stopped. */
  get threads(): readonly Worker[] {
    return this.slots.map((s) => s.worker);
  }

  /** Runs every job; results in input order. Rejects with the first job's error (the rest of its jobs are dropped). */
  run(jobs: readonly InnerJob[], opts: RunOptions = {}): Promise<InnerLoopResult[]> {
    if (this.closed) return Promise.reject(new Error('InnerLoopPool is closed'));
    if (this.broken !== undefined) return Promise.reject(this.broken);
    if (this.env !== undefined) return new LocalExecutor(this.env).run(jobs, opts);
    if (jobs.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      const batch: Batch = {
        results: jobs.map(() => undefined),
        remaining: jobs.length,
        settled: false,
        resolve,
        reject,
        onResult: opts.onResult,
      };
      for (const [index, job] of jobs.entries()) this.queue.push({ id: this.nextId++, batch, index, job });
      this.dispatch();
    });
  }

  /** Stops every worker (jobs still queued or running reject) and waits for the threads to end. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.failAll(new Error('InnerLoopPool closed while jobs were pending'));
    if (this.ownsModel) this.env?.model.dispose();
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private attach(slot: Slot): void {
    const { worker } = slot;
    worker.on('message', (m: FromWorker) => this.onMessage(slot, m));
    // Idle workers must not keep the process alive; a busy one must, or a pending run could be abandoned. After
    // adding the listener: a new 'message' listener re-references the worker's port.
    worker.unref();
    worker.on('exit', (code) => {
      if (this.closed) return;
      const why = slot.lastError === undefined ? '' : `: ${slot.lastError.message}`;
      this.broken = new InnerLoopWorkerError(
        `inner-loop worker ${slot.index} exited unexpectedly (code ${code})${why}; the pool is unusable, create a new one`,
        slot.index,
        slot.lastError?.stack,
      );
      this.failAll(this.broken);
      for (const s of this.slots) if (s !== slot) void s.worker.terminate();
    });
  }

  private onMessage(slot: Slot, m: FromWorker): void {
    const p = slot.busy;
    if ((m.type !== 'result' && m.type !== 'error') || p === undefined || p.id !== m.id) return;
    slot.busy = undefined;
    slot.worker.unref();
    const { batch } = p;
    if (!batch.settled) {
      if (m.type === 'error') {
        this.settle(
          batch,
          new InnerLoopWorkerError(`inner-loop worker ${slot.index}: ${m.message}`, slot.index, m.stack),
        );
      } else {
        batch.results[p.index] = m.result;
        batch.remaining--;
        try {
          batch.onResult?.(p.index, m.result);
        } catch (e) {
          this.settle(batch, e instanceof Error ? e : new Error(String(e)));
        }
        if (batch.remaining === 0 && !batch.settled) {
          batch.settled = true;
          batch.resolve(batch.results as InnerLoopResult[]);
        }
      }
    }
    this.dispatch();
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.busy !== undefined) continue;
      let next = this.queue.shift();
      while (next?.batch.settled) next = this.queue.shift();
      if (next === undefined) return;
      slot.busy = next;
      slot.worker.ref();
      const msg: ToWorker = { type: 'job', id: next.id, job: next.job };
      slot.worker.postMessage(msg);
    }
  }

  /** Rejects a run and drops its queued jobs; its running jobs finish and are ignored. */
  private settle(batch: Batch, error: Error): void {
    if (batch.settled) return;
    batch.settled = true;
    batch.reject(error);
    for (let i = this.queue.length - 1; i >= 0; i--)
      if (this.queue[i]?.batch === batch) this.queue.splice(i, 1);
  }

  private failAll(error: Error): void {
    for (const slot of this.slots) {
      if (slot.busy !== undefined) this.settle(slot.busy.batch, error);
      slot.busy = undefined;
    }
    for (const p of this.queue.splice(0)) this.settle(p.batch, error);
  }
}

function parentBackend(): BackendName {
  try {
    return engineInfo().backend;
  } catch {
    return 'wasm';
  }
}

/** Resolves with the worker's engine description once it has loaded the model; rejects with why it could not. */
function waitReady(slot: Slot): Promise<string> {
  const { worker, index } = slot;
  return new Promise((resolve, reject) => {
    const fail = (msg: string, stack?: string) => {
      cleanup();
      reject(new InnerLoopWorkerError(`inner-loop worker ${index} failed to start: ${msg}`, index, stack));
    };
    const onMessage = (m: FromWorker) => {
      if (m.type === 'ready') {
        cleanup();
        resolve(m.engine);
      } else if (m.type === 'init-error') fail(m.message, m.stack);
    };
    const onExit = (code: number) =>
      fail(
        `exited with code ${code}${slot.lastError === undefined ? '' : ` (${slot.lastError.message})`}`,
        slot.lastError?.stack,
      );
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('exit', onExit);
  });
}
