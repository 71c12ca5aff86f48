/**
 * InnerLoopPool: 1 worker (in-process) and 2 worker threads give identical inner-loop results; errors, bad model
 * directories, checksum mismatches and crashed workers reject clearly; close() stops every thread, and idle workers
 * never keep the process alive. Workers run dist/seal/inner/worker.js, which `npm test` builds first.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../src/engine/index.js';
import { saveHfModel } from '../src/model/io/hf.js';
import { Transformer } from '../src/model/model.js';
import { checksum } from '../src/model/params.js';
import { buildTokenizer, EOS_TOKEN } from '../src/seal/domains/people-pretrain.js';
import { InnerLoopConfigSchema, type InnerLoopResult } from '../src/seal/inner/inner-loop.js';
import { type InnerJob, InnerLoopPool, loadInnerEnv, runInnerJobs } from '../src/seal/inner/pool.js';
import { type TaskSpec, taskFromSpec } from '../src/seal/inner/task-spec.js';
import { peopleTask } from '../src/tasks/people/task.js';
import { qaText } from '../src/tasks/people/text.js';
import { generateWorld, WorldConfigSchema } from '../src/tasks/people/world.js';
import { squadTask } from '../src/tasks/squad.js';
import type { Context } from '../src/tasks/types.js';
import { serializeTokenizerJson } from '../src/tokenizer/hf.js';
import { seal } from './helpers/cli.js';
import { tinyLlama } from './helpers/models.js';
import { CLI } from './helpers/paths.js';

const ROOT = join(import.meta.dirname, '..');
const spec = { kind: 'people' } as const;
let dir: string;
let modelDir: string;
let sum: string;
let jobs: InnerJob[];
let world: ReturnType<typeof generateWorld>;
/** The in-process results of `jobs`, from the first test. */
let reference: InnerLoopResult[] = [];

/** Everything but wall time, which is the one field allowed to differ between runs. */
const comparable = (rs: readonly InnerLoopResult[]) => rs.map(({ ms: _ms, ...r }) => r);

beforeAll(async () => {
  // Native kernels stay off in both the parent and the workers, so both do the same arithmetic.
  await initEngine('wasm', { native: false });
  dir = mkdtempSync(join(tmpdir(), 'seal-pool-'));
  modelDir = join(dir, 'model');
  world = generateWorld(WorldConfigSchema.parse({ seed: 3, pretrainPeople: 20, rlPeople: 4, evalPeople: 4 }));
  const contexts = peopleTask(world).splits['rl'] ?? [];
  const qa = (c: Context) => c.questions.map((q) => qaText(q.question, q.answers[0] ?? ''));
  const { tok, json } = buildTokenizer(
    contexts.flatMap((c) => [c.passage, ...qa(c)]),
    400,
  );
  const model = Transformer.init(tinyLlama({ vocabSize: tok.vocabSize, eosId: tok.eosId }), 5);
  sum = checksum(model.params);
  await saveHfModel(model, modelDir, {
    extraFiles: {
      'tokenizer.json': serializeTokenizerJson(json),
      'tokenizer_config.json': `${JSON.stringify({ bos_token: EOS_TOKEN, eos_token: EOS_TOKEN, clean_up_tokenization_spaces: false })}\n`,
    },
  });
  model.dispose();
  const cfg = InnerLoopConfigSchema.parse({ epochs: 3, lr: 3e-3, batchSize: 4, lora: { r: 4, alpha: 8 } });
  // 8 jobs: every context twice (two seeds, different self-edits), one with no sequences (the baseline path)
  // and one with two repeats.
  jobs = contexts.flatMap((c, i) => [
    { context: c, sequences: i === 0 ? [] : [c.passage, ...qa(c)], cfg, seed: 11 + i },
    {
      context: c,
      sequences: qa(c).slice(0, 3),
      cfg: i === 1 ? { ...cfg, evalTimes: 2 } : cfg,
      seed: 100 + i,
    },
  ]);
});

afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('InnerLoopPool', () => {
  it('1 worker (in-process) and 2 workers give identical results, in input order', async () => {
    expect(jobs.length).toBe(8);
    const one = await InnerLoopPool.create({ modelDir, task: spec, workers: 1, expectedChecksum: sum });
    expect(one.description).toBe('in-process');
    expect(one.threads).toEqual([]);
    const seen: number[] = [];
    const a = await one.run(jobs, { onResult: (i) => seen.push(i) });
    reference = a;
    await one.close();
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);

    const two = await InnerLoopPool.create({ modelDir, task: spec, workers: 2, expectedChecksum: sum });
    expect(two.description).toBe('2 workers, wasm');
    expect(two.threads.length).toBe(2);
    // The same jobs in another order land on other workers after other jobs: results must not care.
    const reversed = await two.run([...jobs].reverse());
    const b = await two.run(jobs);
    await two.close();

    expect(a.length).toBe(8);
    expect(a[0]?.steps).toBe(0);
    expect(a[3]?.perRepeat.length).toBe(2);
    expect(a.every((r, i) => r.answers.length === jobs[i]!.context.questions.length)).toBe(true);
    expect(comparable(b)).toEqual(comparable(a));
    expect(comparable([...reversed].reverse())).toEqual(comparable(a));
    // Different seeds and self-edits really do train differently (the comparison above is not vacuous).
    expect(new Set(a.map((r) => r.finalLoss)).size).toBeGreaterThan(5);
  });

  it('an in-process pool over the caller’s model matches, and checks its checksum', async () => {
    const { env } = await loadInnerEnv(modelDir, spec, sum);
    const local = await InnerLoopPool.create({
      modelDir,
      task: spec,
      workers: 1,
      local: { model: env.model, tok: env.tok },
    });
    const r = await local.run(jobs.slice(1, 3));
    await local.close();
    expect(env.model.params.size).toBeGreaterThan(0); // close() leaves a caller's model alone
    expect(comparable(r)).toEqual(comparable(reference.slice(1, 3)));
    const noPool = await runInnerJobs({ ...env, task: taskFromSpec(spec) }, jobs.slice(1, 3));
    expect(comparable(noPool)).toEqual(comparable(r));
    await expect(
      InnerLoopPool.create({ modelDir, task: spec, workers: 1, local: env, expectedChecksum: 'f00d' }),
    ).rejects.toThrow(/checksum mismatch/);
    env.model.dispose();
  });

  it('taskFromSpec rebuilds exactly the prompt, stop strings and scorer of peopleTask and squadTask', () => {
    const c = jobs[1]!.context;
    const q = c.questions[0]!;
    const people = peopleTask(world);
    const p = taskFromSpec({ kind: 'people' });
    expect(p.answerPrompt(c, q)).toBe(people.answerPrompt(c, q));
    expect(p.answerStop).toEqual(people.answerStop);
    expect(p.scorer).toBe(people.scorer);
    for (const scorer of ['exact_match', 'f1'] as const) {
      const squad = squadTask([], { scorer });
      const t = taskFromSpec({ kind: 'squad', scorer });
      expect(t.answerPrompt(c, q)).toBe(squad.answerPrompt(c, q));
      expect(t.answerStop).toEqual(squad.answerStop);
      expect(t.scorer).toBe(squad.scorer);
    }
    expect(() => taskFromSpec({ kind: 'nope' } as unknown as TaskSpec)).toThrow(/unknown task spec/);
  });

  it("a job that throws rejects run() with the worker's message; the pool keeps working", async () => {
    const bad = {
      ...jobs[1]!,
      cfg: { ...jobs[1]!.cfg, lora: { ...jobs[1]!.cfg.lora, targetModules: ['nope'] } },
    };
    const pool = await InnerLoopPool.create({ modelDir, task: spec, workers: 2, expectedChecksum: sum });
    try {
      await expect(pool.run([jobs[2]!, bad, jobs[3]!])).rejects.toThrow(
        /inner-loop worker \d: LoRA target modules \["nope"\] match no linear layer/,
      );
      const ok = await pool.run([jobs[4]!]);
      expect(ok.length).toBe(1);
    } finally {
      await pool.close();
    }
    const inProcess = await InnerLoopPool.create({ modelDir, task: spec, workers: 1, expectedChecksum: sum });
    await expect(inProcess.run([bad])).rejects.toThrow(/match no linear layer/);
    await inProcess.close();
  });

  it('a bad model directory or a checksum mismatch fails start-up loudly', async () => {
    await expect(
      InnerLoopPool.create({ modelDir: join(dir, 'missing'), task: spec, workers: 2, expectedChecksum: sum }),
    ).rejects.toThrow(/inner-loop worker \d failed to start: .*not found/);
    await expect(
      InnerLoopPool.create({ modelDir, task: spec, workers: 2, expectedChecksum: 'deadbeef' }),
    ).rejects.toThrow(/failed to start: model checksum mismatch: .* but the parent's model has deadbeef/);
    await expect(InnerLoopPool.create({ modelDir, task: spec, workers: 2 })).rejects.toThrow(
      /needs `local` or `expectedChecksum`/,
    );
  });

  it('close() stops every thread and rejects later runs', async () => {
    const pool = await InnerLoopPool.create({ modelDir, task: spec, workers: 2, expectedChecksum: sum });
    const threads = pool.threads;
    expect(threads.every((t) => t.threadId > 0)).toBe(true);
    // The expectation is attached before the rejection happens: tfjs-wasm's Emscripten runtime turns any
    // unhandled rejection into a process crash.
    const pending = expect(pool.run(jobs)).rejects.toThrow(/closed while jobs were pending/);
    await pool.close();
    await pending;
    expect(threads.every((t) => t.threadId === -1)).toBe(true);
    await expect(pool.run(jobs)).rejects.toThrow(/closed/);
    await pool.close();
  });

  it('a worker that dies mid-run rejects the pending jobs and breaks the pool', async () => {
    const pool = await InnerLoopPool.create({ modelDir, task: spec, workers: 2, expectedChecksum: sum });
    const pending = expect(pool.run(jobs)).rejects.toThrow(
      /inner-loop worker 1 exited unexpectedly \(code 1\)/,
    );
    await pool.threads[1]!.terminate();
    await pending;
    await expect(pool.run(jobs.slice(0, 1))).rejects.toThrow(/pool is unusable/);
    await pool.close();
    expect(pool.threads.every((t) => t.threadId === -1)).toBe(true);
  });

  it('native kernels in 2 workers (one thread each) match native in-process on the 2-thread pool', () => {
    // A child process: the addon's pool is sized once, when first loaded in the process.
    const url = (f: string) => JSON.stringify(pathToFileURL(join(ROOT, 'dist', f)).href);
    const script = `
      import { initEngine } from ${url('engine/index.js')};
      import { InnerLoopPool } from ${url('seal/inner/pool.js')};
      const info = await initEngine('wasm', { native: true });
      if (!info.native.available) { console.log('SKIP ' + info.native.detail); process.exit(0); }
      const jobs = JSON.parse(process.argv[1]);
      const opts = { modelDir: ${JSON.stringify(modelDir)}, task: { kind: 'people' }, expectedChecksum: ${JSON.stringify(sum)} };
      const one = await InnerLoopPool.create({ ...opts, workers: 1 });
      const two = await InnerLoopPool.create({ ...opts, workers: 2, native: true });
      const strip = (rs) => JSON.stringify(rs.map(({ ms, ...r }) => r));
      const a = strip(await one.run(jobs));
      const b = strip(await two.run(jobs));
      await two.close();
      console.log(two.description, a === b ? 'EQUAL' : 'DIFFERENT');
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(jobs)], {
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, SEAL_NATIVE_THREADS: '2' },
    });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toMatch(/^(SKIP .*|2 workers, wasm\+native EQUAL)$/);
  });

  it('idle workers do not keep the process alive when close() is never called', () => {
    const poolUrl = pathToFileURL(join(ROOT, 'dist/seal/inner/pool.js')).href;
    const script = `
      import { InnerLoopPool } from ${JSON.stringify(poolUrl)};
      import { InnerLoopConfigSchema } from ${JSON.stringify(pathToFileURL(join(ROOT, 'dist/seal/inner/inner-loop.js')).href)};
      const pool = await InnerLoopPool.create({ modelDir: ${JSON.stringify(modelDir)}, task: { kind: 'people' }, workers: 2, expectedChecksum: ${JSON.stringify(sum)} });
      const cfg = InnerLoopConfigSchema.parse({ epochs: 1, lora: { r: 2, alpha: 4 } });
      const ctx = { id: 'x', title: 'X', passage: 'X was born in Paris.', questions: [{ question: 'Where was X born?', answers: ['Paris'] }] };
      const [r] = await pool.run([{ context: ctx, sequences: ['X was born in Paris.'], cfg, seed: 1 }]);
      console.log('steps', r.steps);
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('steps 1');
    expect(r.status).toBe(0);
  });

  it('seal eval --workers 2 runs its inner loops on two threads and prints the table of --workers 1', () => {
    const out = mkdtempSync(join(tmpdir(), 'seal-eval-workers-'));
    try {
      const args = ['eval', '--contexts', '2', '--seeds', '1', '--epochs', '2', '--out', out, '--json'];
      const one = seal(args);
      const two = seal([...args, '--workers', '2']);
      expect(one.code, one.stderr).toBe(0);
      expect(two.code, two.stderr).toBe(0);
      expect(two.stderr).toMatch(/inner loops: 2 workers/);
      expect(JSON.parse(two.stdout)).toEqual(JSON.parse(one.stdout));
      // Native kernels: workers run them one thread each while the parent keeps its 2-thread pool; same table.
      const native = spawnSync(process.execPath, [CLI, ...args, '--workers', '2'], {
        encoding: 'utf8',
        env: { ...process.env, SEAL_NATIVE_THREADS: '2' },
      });
      expect(native.status, native.stderr).toBe(0);
      expect(JSON.parse(native.stdout)).toEqual(JSON.parse(one.stdout));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
