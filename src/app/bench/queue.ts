/**
 * `npm run bench:queue`: SEAL inner loops per minute over the Redis queue with 1, 2 and 4 `seal worker` processes
 * on this machine, the queue's own cost per job, and from both a model of how throughput scales with machines.
 *
 *   npm run build && node dist/app/bench/queue.js [--workers 1,2,4] [--jobs 8] [--repeats 3] [--epochs 10]
 *     [--trivial 1000] [--model DIR] [--out FILE.json]
 *
 * Throughput: the inner loop of inner-workers.ts (an rl person's passage + QA lines, `--epochs`, then the person's
 * questions) on the bundled people model. Every setting has its own workers on its own Redis database, all started
 * before timing, and settings are interleaved repeat by repeat, so drifting background load hits each alike; each
 * repeat uses fresh seeds (jobs are content-addressed: a repeated job would be reused, not run). Worker processes
 * run native kernels on one thread each (SEAL_NATIVE_THREADS=1): one process per core is the deployment this models.
 *
 * Queue overhead: trivial jobs answered at once by an in-process BullMQ worker: the round-trip latency of one job
 * alone, and the throughput of a large batch, with the CPU seconds redis-server spent per job (from /proc). Redis is
 * single-threaded, so 1 / (its CPU per job) is the job rate at which it saturates a core: the ceiling.
 *
 * Scaling model: W worker processes (on any number of machines) give min(W / (c + o), 1 / r) jobs/s, with c the
 * compute time of one inner loop on one worker, o the queue's latency per job, r Redis CPU per job; Redis becomes
 * the bottleneck at W* = (c + o) / r workers.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, getPriority, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Job, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { assetPath } from '../../assets.js';
import { initEngine } from '../../engine/index.js';
import { loadModel } from '../../model/io/load.js';
import { checksum } from '../../model/params.js';
import { InnerLoopConfigSchema } from '../../seal/inner/inner-loop.js';
import type { InnerJob } from '../../seal/inner/job.js';
import { QueueExecutor } from '../../seal/inner/queue/executor.js';
import type { QueueResult } from '../../seal/inner/queue/payload.js';
import { peopleTask } from '../../tasks/people/task.js';
import { qaText } from '../../tasks/people/text.js';
import { generateWorld, WorldConfigSchema } from '../../tasks/people/world.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const log = (m: string) => process.stderr.write(`[bench:queue] ${m}\n`);

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}
const num = (name: string, dflt: number) => Number(arg(name) ?? dflt);

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a !== null ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/** redis-server on loopback at a free port, without persistence, in a temp dir. */
async function startRedis(): Promise<{ port: number; proc: ChildProcess; dir: string }> {
  if (spawnSync('redis-server', ['--version']).status !== 0)
    throw new Error('redis-server not found (Debian: apt-get install redis-server)');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'seal-bench-redis-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
  ];
  const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
    proc.on('exit', (c) => reject(new Error(`redis-server exited (${c}): ${out}`)));
  });
  return { port, proc, dir };
}

/** CPU seconds (user + system) a process has used, from /proc/PID/stat; NaN where /proc is absent. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100 Hz on Linux)
  } catch {
    return Number.NaN;
  }
}

/** An immediate, valid answer to a job with no sequences: what a worker's reply costs, with no inner loop. */
async function echo(_job: Job): Promise<QueueResult> {
  return {
    v: 1,
    worker: 'echo',
    result: { accuracy: 0, perRepeat: [0], finalLoss: 'NaN', steps: 0, diverged: false, ms: 0, answers: [] },
  };
}

function startWorkers(n: number, url: string, modelDir: string, tag: string): Promise<ChildProcess[]> {
  const procs = Array.from({ length: n }, (_, i) =>
    spawn(process.execPath, [CLI, 'worker', '--queue', url, '--model', modelDir, '--name', `${tag}-${i}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, SEAL_NATIVE_THREADS: '1' },
    }),
  );
  return Promise.all(
    procs.map(
      (p) =>
        new Promise<ChildProcess>((resolve, reject) => {
          let err = '';
          p.stderr?.on('data', (d: Buffer) => {
            err += d.toString();
            if (err.includes(': queue seal-inner-')) resolve(p);
          });
          p.on('exit', (c) => reject(new Error(`seal worker exited (${c}): ${err}`)));
        }),
    ),
  );
}

async function main(): Promise<void> {
  const workerCounts = (arg('workers') ?? '1,2,4').split(',').map(Number);
  const nJobs = num('jobs', 8);
  const repeats = num('repeats', 3);
  const epochs = num('epochs', 10);
  const trivial = num('trivial', 1000);
  const modelDir = arg('model') ?? assetPath('models/people-default');
  const outFile = arg('out') ?? 'bench/results/queue.json';
  if (!existsSync(join(modelDir, 'seal_world.json')))
    throw new Error(`${modelDir}: not a people-world model`);
  const info = await initEngine('auto');
  const engine = `${info.backend}${info.native.available ? '+native' : ''}`;
  const redis = await startRedis();
  const url = (db: number) => `redis://127.0.0.1:${redis.port}/${db}`;
  const { model } = await loadModel(modelDir);
  const sum = checksum(model.params);
  model.dispose();
  const worldCfg = WorldConfigSchema.parse(
    JSON.parse(readFileSync(join(modelDir, 'seal_world.json'), 'utf8')),
  );
  const contexts = (peopleTask(generateWorld(worldCfg)).splits['rl'] ?? []).slice(0, nJobs);
  const cfg = InnerLoopConfigSchema.parse({ epochs });
  const jobsFor = (salt: number): InnerJob[] =>
    contexts.map((c, i) => ({
      context: c,
      sequences: [c.passage, ...c.questions.map((q) => qaText(q.question, q.answers[0] ?? ''))],
      cfg,
      seed: salt * 1000 + i,
    }));
  const startedAt = new Date().toISOString();
  const niceness = getPriority();
  log(
    `engine ${engine}, ${cpus().length} cores, niceness ${niceness}, load ${loadavg().map((x) => x.toFixed(2))}`,
  );

  // 1. Queue overhead, with trivial jobs and an in-process echo worker.
  const exO = await QueueExecutor.create({ queue: url(15), model: sum, engine, task: { kind: 'people' } });
  const echoConn = new Redis(url(15), { maxRetriesPerRequest: null });
  const echoWorker = new Worker(exO.name, echo, { connection: echoConn, concurrency: 64 });
  await echoWorker.waitUntilReady();
  const tiny = (seed: number): InnerJob => ({
    context: { id: 'bench', title: 'Bench', passage: '', questions: [] },
    sequences: [],
    cfg,
    seed,
  });
  await exO.run([tiny(0)]); // warm-up
  const latencyMs: number[] = [];
  for (let i = 1; i <= 50; i++) {
    const t0 = performance.now();
    await exO.run([tiny(i)]);
    latencyMs.push(performance.now() - t0);
  }
  const batchJobsPerS: number[] = [];
  const redisCpuMsPerJob: number[] = [];
  const orchestratorCpuMsPerJob: number[] = [];
  for (let r = 0; r < 3; r++) {
    const jobs = Array.from({ length: trivial }, (_, i) => tiny(1_000_000 * (r + 1) + i));
    const cpu0 = cpuSeconds(redis.proc.pid);
    const own0 = process.cpuUsage();
    const t0 = performance.now();
    await exO.run(jobs);
    const s = (performance.now() - t0) / 1000;
    const own = process.cpuUsage(own0);
    batchJobsPerS.push(trivial / s);
    redisCpuMsPerJob.push(((cpuSeconds(redis.proc.pid) - cpu0) * 1000) / trivial);
    // This process is the orchestrator and the echo worker: an upper bound on the orchestrator's CPU per job.
    orchestratorCpuMsPerJob.push((own.user + own.system) / 1000 / trivial);
    log(`trivial batch ${r + 1}/3: ${trivial} jobs in ${s.toFixed(2)} s`);
  }
  await echoWorker.close();
  echoConn.disconnect();
  await exO.close();
  const overhead = {
    roundTripMsMedian: median(latencyMs),
    batchJobsPerSMedian: median(batchJobsPerS),
    redisCpuMsPerJobMedian: median(redisCpuMsPerJob),
    orchestratorCpuMsPerJobMedian: median(orchestratorCpuMsPerJob),
    batchJobsPerS: batchJobsPerS.map((x) => Number(x.toFixed(1))),
    redisCpuMsPerJob: redisCpuMsPerJob.map((x) => Number(x.toFixed(3))),
    orchestratorCpuMsPerJob: orchestratorCpuMsPerJob.map((x) => Number(x.toFixed(3))),
  };
  log(`overhead: ${JSON.stringify(overhead)}`);

  // 2. Real inner loops on 1, 2, 4 worker processes, each setting on its own database.
  const settings = [];
  for (const [k, n] of workerCounts.entries()) {
    const procs = await startWorkers(n, url(k), modelDir, `w${n}`);
    const ex = await QueueExecutor.create({ queue: url(k), model: sum, engine, task: { kind: 'people' } });
    await ex.run(jobsFor(999 - k).slice(0, n)); // warm-up: one job per worker
    settings.push({ n, procs, ex, loopsPerMin: [] as number[], load1: [] as number[] });
  }
  for (let r = 0; r < repeats; r++) {
    for (const s of settings) {
      const t0 = performance.now();
      const results = await s.ex.run(jobsFor(r));
      const sec = (performance.now() - t0) / 1000;
      s.loopsPerMin.push((results.length / sec) * 60);
      s.load1.push(loadavg()[0] ?? Number.NaN);
      log(`repeat ${r + 1}/${repeats}, ${s.n} worker(s): ${results.length} loops in ${sec.toFixed(1)} s`);
    }
  }
  for (const s of settings) {
    await s.ex.close();
    for (const p of s.procs) p.kill('SIGTERM');
  }
  redis.proc.kill('SIGTERM');
  rmSync(redis.dir, { recursive: true, force: true });

  const throughput = settings.map((s) => ({
    workers: s.n,
    medianLoopsPerMin: median(s.loopsPerMin),
    runs: s.loopsPerMin.map((x) => Number(x.toFixed(2))),
    load1: s.load1.map((x) => Number(x.toFixed(2))),
  }));
  const one = throughput.find((t) => t.workers === 1) ?? throughput[0];
  const c = one === undefined ? Number.NaN : 60 / one.medianLoopsPerMin; // s of compute per loop per worker
  const o = overhead.roundTripMsMedian / 1000;
  const rr = overhead.redisCpuMsPerJobMedian / 1000;
  const ro = overhead.orchestratorCpuMsPerJobMedian / 1000;
  const ceiling = 1 / rr;
  const wStar = (c + o) / rr;
  const model_ = {
    formula: 'jobs/s = min(W / (c + o), 1 / r, 1 / q)',
    cSecondsPerLoop: c,
    oSecondsPerJob: o,
    rRedisCpuSecondsPerJob: rr,
    qOrchestratorCpuSecondsPerJobUpperBound: ro,
    redisCeilingJobsPerS: ceiling,
    orchestratorCeilingJobsPerSLowerBound: 1 / ro,
    workersAtRedisCeiling: wStar,
    workersAtOrchestratorCeiling: (c + o) / ro,
    note: 'r: Redis CPU per job in a batch of trivial jobs; q: the orchestrator process CPU per job (with an in-process echo worker, so an upper bound); c: compute per loop on this (loaded) machine',
  };
  const report = {
    startedAt,
    machine: { cores: cpus().length, model: cpus()[0]?.model, niceness, engine },
    contaminated:
      niceness > 0
        ? `run at niceness ${niceness} beside other work (load averages below): compute numbers are lower bounds`
        : undefined,
    settings: { jobs: contexts.length, epochs, repeats, trivial, modelDir },
    overhead,
    throughput,
    model: model_,
  };
  process.stdout.write(
    '| worker processes | inner loops/min (median) | runs | load avg (1 min) |\n|---|---|---|---|\n',
  );
  for (const t of throughput)
    process.stdout.write(
      `| ${t.workers} | ${t.medianLoopsPerMin.toFixed(2)} | ${t.runs.join(', ')} | ${t.load1.join(', ')} |\n`,
    );
  process.stdout.write(
    `\nqueue overhead: ${o * 1000 < 10 ? (o * 1000).toFixed(2) : (o * 1000).toFixed(0)} ms round trip per job; ` +
      `${overhead.batchJobsPerSMedian.toFixed(0)} trivial jobs/s in a batch; Redis CPU ${(rr * 1000).toFixed(3)} ms/job ` +
      `→ ceiling ${ceiling.toFixed(0)} jobs/s; orchestrator CPU ≤ ${(ro * 1000).toFixed(3)} ms/job → ≥ ${(1 / ro).toFixed(0)} jobs/s; ` +
      `at ${c.toFixed(2)} s per loop Redis saturates at about ${wStar.toFixed(0)} worker processes, the orchestrator at ≥ ${((c + o) / ro).toFixed(0)}\n`,
  );
  writeFileSync(outFile, `${JSON.stringify(report, null, 2)}\n`);
  log(`wrote ${outFile}`);
  process.exit(0);
}

await main();
