/**
 * The executor seam: where a batch of inner-loop jobs runs. Every SEAL loop (rollouts, held-out checks,
 * evaluations) hands its jobs to one `InnerExecutor` and gets the results back in job order, so the place they run —
 * this thread, worker threads (`InnerLoopPool`), or a distributed queue — never changes a result: each job carries
 * its own seed, derived from its identity, not from where or when it ran.
 */
import type { InnerEnv, InnerLoopResult } from './inner-loop.js';
import { runInnerLoop } from './inner-loop.js';
import type { InnerJob } from './job.js';

export interface RunOptions {
  /** Called as each job finishes (in completion order), e.g. to tick a progress bar. */
  readonly onResult?: (index: number, result: InnerLoopResult) => void;
}

export interface InnerExecutor {
  /** One line for logs, e.g. "2 worker threads (wasm + native)". */
  readonly description: string;
  /** Runs the jobs; resolves with their results in job order. */
  run(jobs: readonly InnerJob[], opts?: RunOptions): Promise<InnerLoopResult[]>;
  close(): Promise<void>;
  /** Where the jobs in flight stand, for progress bars (e.g. a queue's queued / running / done / retried). */
  progress?(): string;
}

/** `executor.progress()` prefixed for a progress bar's info text; empty when the executor reports nothing. */
export function executorProgress(executor: InnerExecutor | undefined): string {
  const s = executor?.progress?.() ?? '';
  return s === '' ? '' : ` | ${s}`;
}

/** Jobs one after another in this thread, on the caller's model. */
export class LocalExecutor implements InnerExecutor {
  readonly description = 'in this thread';

  constructor(private readonly env: InnerEnv) {}

  async run(jobs: readonly InnerJob[], opts: RunOptions = {}): Promise<InnerLoopResult[]> {
    const out: InnerLoopResult[] = [];
    for (const [i, j] of jobs.entries()) {
      const r = runInnerLoop(this.env, j.context, j.sequences, j.cfg, j.seed);
      out.push(r);
      opts.onResult?.(i, r);
      // Let signal handlers (Ctrl-C) and timers run between inner loops.
      await new Promise((resolve) => setImmediate(resolve));
    }
    return out;
  }

  async close(): Promise<void> {}
}

/** The jobs on `executor` when there is one, else in this thread on `env`: the same results either way. */
export function runInnerJobs(
  env: InnerEnv,
  jobs: readonly InnerJob[],
  executor?: InnerExecutor,
  opts: RunOptions = {},
): Promise<InnerLoopResult[]> {
  return (executor ?? new LocalExecutor(env)).run(jobs, opts);
}
