/**
 * Inner loops over a real Redis (Debian's redis-server, started here on 127.0.0.1 at a free port; never a mock) with
 * `seal worker` processes: one ReST-EM round over the queue with 2 workers writes the results of the in-process run;
 * a worker SIGKILLed mid-job, Redis killed and restarted mid-run (its data lost) and an orchestrator killed and
 * resumed change nothing; malformed, foreign and tampered jobs are refused with an error and never run. Each test
 * uses its own Redis database, so no test can reuse another's finished jobs.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../src/engine/index.js';
import { loadModel } from '../src/model/io/load.js';
import { checksum } from '../src/model/params.js';
import { PretrainConfigSchema, pretrainPeopleModel } from '../src/seal/domains/people-pretrain.js';
import { InnerLoopConfigSchema } from '../src/seal/inner/inner-loop.js';
import { QueueExecutor } from '../src/seal/inner/queue/executor.js';
import {
  lowestResult,
  QueueJobSchema,
  QueueResultSchema,
  queueJobId,
} from '../src/seal/inner/queue/payload.js';
import { exposureWarning, parseQueueUrl } from '../src/seal/inner/queue/url.js';
import { seal } from './helpers/cli.js';
import { CLI, tempDir } from './helpers/paths.js';
import { hasRedis, NO_REDIS, RedisServer } from './helpers/redis.js';

interface Proc {
  readonly proc: ChildProcess;
  out: string;
  readonly done: Promise<number>;
}

function start(args: readonly string[]): Proc {
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const p: Proc = {
    proc,
    out: '',
    done: new Promise((resolve) => proc.on('exit', (code) => resolve(code ?? -1))),
  };
  proc.stdout?.on('data', (d: Buffer) => {
    p.out += d.toString();
  });
  proc.stderr?.on('data', (d: Buffer) => {
    p.out += d.toString();
  });
  return p;
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 120_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** results.jsonl without wall times: what must not depend on where the inner loops ran. */
function comparable(parent: string): { lines: unknown[]; policy: Buffer; run: string } {
  const dirs = readdirSync(parent);
  expect(dirs).toHaveLength(1);
  const run = join(parent, dirs[0] as string);
  const lines = readFileSync(join(run, 'results.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const { ms: _ms, ...rest } = JSON.parse(l) as Record<string, unknown>;
      return rest;
    });
  const policy = readFileSync(join(run, 'checkpoints', 'round-001', 'policy', 'adapter_model.safetensors'));
  return { lines, policy, run };
}

/** Job log lines of a worker (one per job). */
const jobLines = (w: Proc) => w.out.split('\n').filter((l) => / job \S+ /.test(l));
/** Job lines of the round's rollout (not the held-out checks of val-* contexts). */
const rolloutLines = (w: Proc) => jobLines(w).filter((l) => !l.includes(' val-'));

// Without the binary these suites are skipped, and their titles say why.
const needs = hasRedis ? '' : ` (skipped: ${NO_REDIS})`;

describe.skipIf(!hasRedis)(`inner loops over a Redis queue with seal worker processes${needs}`, () => {
  let redis: RedisServer;
  let modelDir = '';
  let configFile = '';
  let reference: ReturnType<typeof comparable>;
  const procs: Proc[] = [];
  const url = (db: number) => `redis://127.0.0.1:${redis.port}/${db}`;

  async function worker(name: string, db: number): Promise<Proc> {
    const w = start(['worker', '--queue', url(db), '--model', modelDir, '--name', name, '--lock-ms', '3000']);
    procs.push(w);
    await until(
      `worker ${name} to start`,
      () => w.out.includes(`worker ${name}: queue`) || w.proc.exitCode !== null,
    );
    expect(w.proc.exitCode, w.out).toBe(null);
    return w;
  }

  function train(parent: string, db: number | undefined, extra: readonly string[] = []): Proc {
    const q = db === undefined ? [] : ['--queue', url(db)];
    const p = start(['train', '--config', configFile, '--out', parent, ...q, ...extra]);
    procs.push(p);
    return p;
  }

  async function stopAll(): Promise<void> {
    for (const p of procs.splice(0)) {
      if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
      await p.done;
    }
  }

  beforeAll(async () => {
    redis = await RedisServer.start();
    await initEngine('wasm');
    const out = tempDir();
    const cfg = PretrainConfigSchema.parse({
      world: { seed: 5, pretrainPeople: 10, rlPeople: 4, evalPeople: 2, biosPerPerson: 2 },
      copyDemos: 10,
      vocabSize: 400,
      model: { dim: 32, nLayers: 1, nHeads: 2, hiddenDim: 64, maxSeqLen: 256, seed: 1 },
      train: { steps: 3, batchSize: 4, seqLen: 64, lr: 3e-3 },
      evalPeople: 0,
    });
    await pretrainPeopleModel(cfg, out, { quiet: true });
    modelDir = join(out, 'model');
    configFile = join(tempDir(), 'train.json');
    // One ReST-EM round: 2 contexts × 4 samples, plus the held-out check: 9 inner loops.
    writeFileSync(
      configFile,
      JSON.stringify({
        model: modelDir,
        outer: {
          kind: 'rest-em',
          rounds: 1,
          contextsPerRound: 2,
          samplesPerContext: 4,
          maxNewTokens: 24,
          onlyPositiveGain: false,
          heldOutContexts: 1,
          sftEpochs: 1,
          inner: { epochs: 3, lora: { r: 2, alpha: 4 } },
          policyLora: { r: 2, alpha: 4 },
        },
      }),
    );
    const local = tempDir();
    const p = train(local, undefined, ['--quiet']);
    expect(await p.done, p.out).toBe(0);
    reference = comparable(local);
  }, 180_000);

  afterAll(async () => {
    await stopAll();
    await redis?.stop();
  });

  it('one ReST-EM round over the queue with 2 worker processes equals the in-process run', async () => {
    const [a, b] = [await worker('wA', 1), await worker('wB', 1)];
    const parent = tempDir();
    const t = train(parent, 1);
    expect(await t.done, t.out).toBe(0);
    expect(t.out).toMatch(/inner loops: queue seal-inner-[0-9a-f]{16}-/);
    // The progress bar counts the queue's jobs per worker.
    expect(t.out).toMatch(/0 queued, 0 running, 8\/8 done \(w[AB] \d, w[AB] \d\), 0 retried/);
    const q = comparable(parent);
    expect(q.lines).toEqual(reference.lines);
    expect(q.policy.equals(reference.policy)).toBe(true);
    // Both workers ran jobs; each of the 9 inner loops ran exactly once. (Workers log through a pipe that can
    // trail the results in Redis, so wait for the lines before counting them.)
    await until('9 job lines', () => jobLines(a).length + jobLines(b).length >= 9, 30_000);
    expect(jobLines(a).length).toBeGreaterThan(0);
    expect(jobLines(b).length).toBeGreaterThan(0);
    expect(jobLines(a).length + jobLines(b).length).toBe(9);

    // The same run again finds every job finished in Redis: same results, nothing runs a second time.
    const again = tempDir();
    const t2 = train(again, 1, ['--quiet']);
    expect(await t2.done, t2.out).toBe(0);
    expect(comparable(again).lines).toEqual(reference.lines);
    expect(jobLines(a).length + jobLines(b).length).toBe(9);
    await stopAll();
  }, 180_000);

  it('the orchestrator killed mid-round: --resume reuses the finished jobs; no job runs twice', async () => {
    const [a, b] = [await worker('wA', 2), await worker('wB', 2)];
    const parent = tempDir();
    const t = train(parent, 2, ['--quiet']);
    await until('two finished jobs', () => jobLines(a).length + jobLines(b).length >= 2);
    t.proc.kill('SIGKILL');
    await t.done;
    const run = join(parent, readdirSync(parent)[0] as string);
    const r = start(['train', '--resume', run, '--queue', url(2), '--quiet']);
    procs.push(r);
    expect(await r.done, r.out).toBe(0);
    expect(r.out).toContain('resuming');
    expect(comparable(parent).lines).toEqual(reference.lines);
    await until('9 job lines', () => jobLines(a).length + jobLines(b).length >= 9, 30_000);
    expect(jobLines(a).length + jobLines(b).length).toBe(9);
    await stopAll();
  }, 180_000);

  it('a worker SIGKILLed mid-job: its job is retried on the other worker, the results are unchanged', async () => {
    const [a, b] = [await worker('wA', 3), await worker('wB', 3)];
    const parent = tempDir();
    const t = train(parent, 3);
    const client = new Redis(url(3), { maxRetriesPerRequest: null });
    const name = /queue (seal-inner-\S+) on/.exec(a.out)?.[1] as string;
    const queue = new Queue(name, { connection: client });
    let victim = '';
    try {
      await until('wA mid-job', async () => {
        // A rollout job, so the round's progress bar counts the retry.
        const active = await queue.getActive();
        victim =
          active.find((j) => j.processedBy === 'wA' && !String(j.data?.job?.context?.id).startsWith('val-'))
            ?.id ?? '';
        return victim !== '';
      });
      a.proc.kill('SIGKILL');
      expect(await t.done, t.out).toBe(0);
    } finally {
      await queue.close();
      client.disconnect();
    }
    expect(comparable(parent).lines).toEqual(reference.lines);
    // The killed worker never finished the job; the other one did, after the stalled-job check gave it back.
    await until(
      'wB logs the retried job',
      () => jobLines(b).some((l) => l.includes(victim.slice(0, 15))),
      30_000,
    );
    expect(jobLines(a).some((l) => l.includes(victim.slice(0, 15)))).toBe(false);
    expect(jobLines(b).some((l) => l.includes(victim.slice(0, 15)))).toBe(true);
    expect(t.out).toMatch(/[1-9] retried/);
    await stopAll();
  }, 180_000);

  it('Redis killed and restarted mid-run (its data lost): the run waits, queues the lost jobs again, finishes the same', async () => {
    const [a, b] = [await worker('wA', 4), await worker('wB', 4)];
    const parent = tempDir();
    const t = train(parent, 4);
    // Mid-rollout: the round's other jobs wait in Redis, and are lost with it.
    await until('a finished rollout job', () => rolloutLines(a).length + rolloutLines(b).length >= 1);
    await redis.kill();
    // Long enough for the orchestrator to say it is waiting (after 5 s without an answer).
    await new Promise((r) => setTimeout(r, 6500));
    await redis.launch();
    expect(await t.done, t.out).toBe(0);
    expect(t.out).toMatch(/not answering .*waiting up to 300 s/);
    expect(t.out).toMatch(/missing from the queue .*queued again/);
    expect(t.out).toMatch(/[1-9] retried/);
    expect(comparable(parent).lines).toEqual(reference.lines);
    await stopAll();
  }, 180_000);

  it('Redis gone for longer than --queue-wait: the run stops saying how to resume; --resume then finishes the same', async () => {
    const [a, b] = [await worker('wA', 8), await worker('wB', 8)];
    const parent = tempDir();
    const t = train(parent, 8, ['--queue-wait', '4']);
    await until('a finished rollout job', () => rolloutLines(a).length + rolloutLines(b).length >= 1);
    await redis.kill();
    expect(await t.done, t.out).toBe(1);
    expect(t.out).toMatch(
      /seal train: error: queue redis:\/\/127\.0\.0\.1:\d+\/8 unreachable for 4 s .*; continue with: seal train --resume \S+ --queue URL/,
    );
    await redis.launch();
    const run = join(parent, readdirSync(parent)[0] as string);
    const r = start(['train', '--resume', run, '--queue', url(8), '--quiet']);
    procs.push(r);
    expect(await r.done, r.out).toBe(0);
    expect(comparable(parent).lines).toEqual(reference.lines);
    await stopAll();
  }, 180_000);

  it('malformed, unknown, foreign and tampered jobs are refused with an error and never run', async () => {
    const w = await worker('wA', 5);
    const name = /queue (seal-inner-\S+) on/.exec(w.out)?.[1] as string;
    const client = new Redis(url(5), { maxRetriesPerRequest: null });
    const eventsClient = new Redis(url(5), { maxRetriesPerRequest: null });
    const events = new QueueEvents(name, { connection: eventsClient });
    const queue = new Queue(name, { connection: client });
    const marker = join(tempDir(), 'pwned');
    try {
      await events.waitUntilReady();
      const valid = {
        v: 1,
        kind: 'inner-loop',
        model: 'f'.repeat(64),
        engine: 'wasm',
        task: { kind: 'people' },
        job: {
          context: { id: 'c', title: 'C', passage: 'C was born in Paris.', questions: [] },
          sequences: ['C was born in Paris.'],
          cfg: { epochs: 1 },
          seed: 1,
        },
      };
      const cases: [string, unknown, RegExp][] = [
        ['shell', { cmd: `touch ${marker}` }, /unknown job kind "shell"/],
        ['inner-loop', { ...valid, job: { ...valid.job, seed: 'x' } }, /malformed job: job\.seed/],
        ['inner-loop', { ...valid, extra: `touch ${marker}` }, /malformed job: .*extra/],
        [
          'inner-loop',
          { ...valid, job: { ...valid.job, cfg: { epochs: 1e9 } } },
          /malformed job: job\.cfg\.epochs/,
        ],
        ['inner-loop', valid, /job is for model ffffffffffffffff…, this worker has/],
      ];
      for (const [kind, data, why] of cases) {
        const job = await queue.add(kind, data, { attempts: 3 });
        await expect(job.waitUntilFinished(events, 60_000)).rejects.toThrow(why);
        const after = await queue.getJob(job.id as string);
        expect(after?.attemptsMade).toBe(1); // refused for good, not retried
      }
      // A payload for this worker's model and engine, filed under an id that is not its hash: refused, not run;
      // filed under its hash, it runs.
      const { model } = await loadModel(modelDir);
      const engine = /, (\w+(?:\+native)?), model /.exec(w.out)?.[1] as string;
      const mine = QueueJobSchema.parse({ ...valid, model: checksum(model.params), engine });
      model.dispose();
      const forged = await queue.add('inner-loop', mine, { jobId: `il-${'0'.repeat(64)}` });
      await expect(forged.waitUntilFinished(events, 60_000)).rejects.toThrow(
        /id is not the hash of its payload/,
      );
      // The worker logs before it fails the job, but its stdout reaches us through a pipe that can trail the
      // Redis event: wait for the lines, then check there are exactly as many as refused jobs.
      await until('the refusals in the worker log', () => jobLines(w).length >= cases.length + 1, 30_000);
      const refused = jobLines(w);
      expect(refused).toHaveLength(cases.length + 1);
      expect(refused.every((l) => l.includes('refused:'))).toBe(true);
      const real = await queue.add('inner-loop', mine, { jobId: queueJobId(mine) });
      const out = QueueResultSchema.parse(await real.waitUntilFinished(events, 60_000));
      expect(out.worker).toBe('wA');
      expect(out.result.steps).toBe(1);
      expect(existsSync(marker)).toBe(false);
      expect(w.proc.exitCode).toBe(null); // still serving
    } finally {
      await events.close();
      await queue.close();
      // BullMQ leaves clients it was handed open.
      client.disconnect();
      eventsClient.disconnect();
      await stopAll();
    }
  }, 120_000);
});

describe.skipIf(!hasRedis)(`QueueExecutor against hostile workers and a missing Redis${needs}`, () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('a worker that answers garbage or NaN scores the lowest reward, logged; a duplicate job runs once', async () => {
    const url = `redis://127.0.0.1:${redis.port}/6`;
    const lines: string[] = [];
    const ex = await QueueExecutor.create({
      queue: url,
      model: 'e'.repeat(64),
      engine: 'wasm',
      task: { kind: 'people' },
      log: (l) => lines.push(l),
      reconcileMs: 200,
    });
    let ran = 0;
    const evilClient = new Redis(url, { maxRetriesPerRequest: null });
    // A real BullMQ worker that lies: a string for one job, NaN accuracy (null once in JSON) for the other.
    const evil = new Worker(
      ex.name,
      async (job) => {
        ran++;
        return job.data.job.seed === 1
          ? 'garbage'
          : { v: 1, worker: 'evil', result: { ...lowestResult(job.data.job), accuracy: Number.NaN } };
      },
      { connection: evilClient },
    );
    try {
      const context = { id: 'c', title: 'C', passage: 'C was born in Paris.', questions: [] };
      const cfg = InnerLoopConfigSchema.parse({ epochs: 1 });
      const jobs = [1, 2, 1].map((seed) => ({ context, sequences: ['C was born in Paris.'], cfg, seed }));
      const r = await ex.run(jobs);
      expect(r.map((x) => x.accuracy)).toEqual([0, 0, 0]);
      expect(r[0]).toEqual(lowestResult(jobs[0]!));
      expect(ran).toBe(2); // jobs 0 and 2 are one job
      expect(lines.filter((l) => /returned an invalid result .*lowest reward/.test(l))).toHaveLength(2);
      expect(lines.some((l) => l.includes('from worker evil'))).toBe(true);
      // Run again: the finished jobs are reused from Redis, nothing runs.
      expect(await ex.run(jobs)).toEqual(r);
      expect(ran).toBe(2);
    } finally {
      await evil.close();
      evilClient.disconnect();
      await ex.close();
    }
  }, 60_000);

  it('an unreachable Redis: create() gives up after unavailableMs with a clear error', async () => {
    const dead = await RedisServer.start();
    const port = dead.port;
    await dead.stop();
    await expect(
      QueueExecutor.create({
        queue: `redis://127.0.0.1:${port}/0`,
        model: 'e'.repeat(64),
        engine: 'wasm',
        task: { kind: 'people' },
        unavailableMs: 1500,
      }),
    ).rejects.toThrow(
      new RegExp(`queue redis://127.0.0.1:${port}/0 unreachable for 2 s .*reused on --resume`),
    );
  }, 30_000);
});

describe('--queue on the command line', () => {
  it('a bad URL or --queue with --workers N is a usage error naming the flag', () => {
    const bad = seal(['train', '--queue', 'http://example.org/0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--queue: scheme http: is not supported');
    const both = seal(['eval', '--queue', 'redis://127.0.0.1:6379/0', '--workers', '2']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--queue and --workers 2 exclude each other');
    const db = seal(['worker', '--queue', 'redis://127.0.0.1:6379/x']);
    expect(db.code).toBe(2);
    expect(db.stderr).toContain('--queue: database "x" is not a number');
    expect(parseQueueUrl('rediss://:s3cret@queue.example:6380/2').redacted).toBe(
      'rediss://:***@queue.example:6380/2',
    );
    const fromEnv = parseQueueUrl('redis://10.0.0.5:6379/0', '--queue', { SEAL_QUEUE_PASSWORD: 'p@ss' });
    expect(fromEnv.url).toBe('redis://:p%40ss@10.0.0.5:6379/0');
    expect(fromEnv.redacted).toBe('redis://:***@10.0.0.5:6379/0');
    expect(exposureWarning(fromEnv)).toMatch(/has no TLS \(rediss:\/\/\)/);
    expect(exposureWarning(parseQueueUrl('redis://10.0.0.5:6379/0', '--queue', {}))).toMatch(
      /no password and no TLS/,
    );
    expect(exposureWarning(parseQueueUrl('redis://127.0.0.1:6379/0'))).toBeUndefined();
  });
});
