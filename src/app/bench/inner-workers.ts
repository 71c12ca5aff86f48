/**
 * Inner loops per minute with 1 (in-process) vs N worker threads (InnerLoopPool), on a realistic SEAL inner loop:
 * the people-world model, one rl person's passage + six canonical QA lines as the self-edit, 10 epochs, then the
 * six no-context questions. Settings are interleaved repeat by repeat, so background load drifting over the run
 * hits each of them alike; the median over repeats is reported, with the load average seen during each.
 *
 *   npm run build && node dist/app/bench/inner-workers.js [--engine wasm|native] [--model DIR] [--workers 1,2]
 *     [--jobs 8] [--repeats 5] [--epochs 10] [--out FILE.json]
 *
 * --model: a Hugging Face people model dir (default: the bundled people-default model; if absent, a freshly
 * initialised model of the same shape, whose QA is meaningless but whose compute is about the same).
 * "cores used" is the process's CPU time (all threads) per wall second: on a shared machine it shows whether the
 * workers actually got both cores, which the load average alone does not (sessions share CPU fairly by autogroup).
 * --engine native: the native addon in the parent and in every worker; workers run kernels one thread each, the
 * parent (`--workers 1`) on the addon's 2-thread pool.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { assetPath } from '../../assets.js';
import { engineInfo, initEngine } from '../../engine/index.js';
import { parseModelConfig } from '../../model/config.js';
import { saveHfModel } from '../../model/io/hf.js';
import { Transformer } from '../../model/model.js';
import { buildTokenizer, EOS_TOKEN } from '../../seal/domains/people-pretrain.js';
import { InnerLoopConfigSchema } from '../../seal/inner/inner-loop.js';
import { type InnerJob, InnerLoopPool, loadInnerEnv } from '../../seal/inner/pool.js';
import { peopleTask, pretrainDocuments } from '../../tasks/people/task.js';
import { qaText } from '../../tasks/people/text.js';
import { generateWorld, type WorldConfig, WorldConfigSchema } from '../../tasks/people/world.js';
import { serializeTokenizerJson } from '../../tokenizer/hf.js';
import { Rng } from '../../util/rng.js';

const DEFAULT_MODEL = assetPath('models/people-default');
const log = (m: string) => process.stderr.write(`[inner-workers] ${m}\n`);

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

/** The pretraining run's shape (llama, vocab 1024, dim 128, 4 layers, 4 heads, hidden 352), untrained. */
async function freshModel(dir: string, world: WorldConfig): Promise<void> {
  const texts = pretrainDocuments(generateWorld(world), new Rng(world.seed)).map((d) => d.text);
  const { tok, json } = buildTokenizer(texts, 1024);
  const config = parseModelConfig(
    {
      arch: 'llama',
      modelType: 'llama',
      vocabSize: tok.vocabSize,
      dim: 128,
      nLayers: 4,
      nHeads: 4,
      nKvHeads: 4,
      hiddenDim: 352,
      maxSeqLen: 256,
      normEps: 1e-5,
      ropeTheta: 10000,
      tieEmbeddings: true,
      attnBias: false,
      bosId: tok.eosId,
      eosId: tok.eosId,
    },
    'bench config',
  );
  const model = Transformer.init(config, 0);
  await saveHfModel(model, dir, {
    extraFiles: {
      'tokenizer.json': serializeTokenizerJson(json),
      'tokenizer_config.json': `${JSON.stringify({ bos_token: EOS_TOKEN, eos_token: EOS_TOKEN, clean_up_tokenization_spaces: false })}\n`,
    },
  });
  model.dispose();
}

interface Row {
  readonly setting: string;
  readonly loopsPerMin: number[];
  /** CPU seconds of the whole process (all threads) per wall second: 2 means both cores were ours. */
  readonly cores: number[];
  readonly load1: number[];
}

async function main(): Promise<void> {
  const workerCounts = (arg('workers') ?? '1,2').split(',').map(Number);
  const nJobs = num('jobs', 8);
  const repeats = num('repeats', 5);
  const epochs = num('epochs', 10);
  const engine = arg('engine') ?? 'wasm';
  if (engine !== 'wasm' && engine !== 'native')
    throw new Error(`--engine must be wasm or native, got ${engine}`);
  let modelDir = arg('model') ?? (existsSync(DEFAULT_MODEL) ? DEFAULT_MODEL : undefined);
  const worldFile = modelDir === undefined ? undefined : join(modelDir, 'seal_world.json');
  const worldCfg = WorldConfigSchema.parse(
    worldFile !== undefined && existsSync(worldFile)
      ? JSON.parse(readFileSync(worldFile, 'utf8'))
      : { pretrainPeople: 200 },
  );
  const info = await initEngine('wasm', { native: engine === 'native' });
  const threads = /(\d+) threads?/.exec(info.native.detail)?.[1] ?? '?';
  const kernels = info.native.available ? `native, ${threads} thread${threads === '1' ? '' : 's'}` : 'wasm';
  let tmp: string | undefined;
  if (modelDir === undefined) {
    tmp = mkdtempSync(join(tmpdir(), 'seal-inner-bench-'));
    modelDir = join(tmp, 'model');
    log(`${DEFAULT_MODEL} not found: initialising a model of the same shape in ${modelDir}`);
    await freshModel(modelDir, worldCfg);
  }
  const spec = { kind: 'people' } as const;
  const { env, checksum } = await loadInnerEnv(modelDir, spec);
  const contexts = (peopleTask(generateWorld(worldCfg)).splits['rl'] ?? []).slice(0, nJobs);
  const cfg = InnerLoopConfigSchema.parse({ epochs });
  const jobs: InnerJob[] = contexts.map((c, i) => ({
    context: c,
    sequences: [c.passage, ...c.questions.map((q) => qaText(q.question, q.answers[0] ?? ''))],
    cfg,
    seed: i,
  }));
  log(
    `model ${modelDir} (${env.model.numParams.toLocaleString('en-US')} params), ${jobs.length} jobs × ${repeats}, engine ${engineInfo().backend} (${kernels})`,
  );

  const pools: { setting: string; pool: InnerLoopPool }[] = [];
  for (const n of workerCounts) {
    const t0 = performance.now();
    const pool = await InnerLoopPool.create({
      modelDir,
      task: spec,
      workers: n,
      local: { model: env.model, tok: env.tok },
      expectedChecksum: checksum,
      native: engine === 'native',
    });
    log(`${pool.description}: started in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    pools.push({ setting: `${n === 1 ? '1, in-process' : `${n} workers`} (${kernels})`, pool });
  }
  const rows: Row[] = pools.map(({ setting }) => ({ setting, loopsPerMin: [], cores: [], load1: [] }));
  // Warm-up: wasm compilation, allocator growth and JIT of the first inner loop are start-up cost, not throughput.
  for (const { pool } of pools) await pool.run(jobs.slice(0, Math.max(...workerCounts)));
  for (let r = 0; r < repeats; r++) {
    for (const [i, row] of rows.entries()) {
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      const results = await (pools[i] as { pool: InnerLoopPool }).pool.run(jobs);
      const s = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      row.loopsPerMin.push((results.length / s) * 60);
      row.cores.push((cpu.user + cpu.system) / 1e6 / s);
      row.load1.push(loadavg()[0] ?? Number.NaN);
      log(`repeat ${r + 1}/${repeats} ${row.setting}: ${s.toFixed(1)} s, load ${loadavg()[0]?.toFixed(2)}`);
    }
  }
  for (const { pool } of pools) await pool.close();
  env.model.dispose();
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });

  const base = median(rows[0]?.loopsPerMin ?? []);
  const out = rows.map((row) => ({
    setting: row.setting,
    medianLoopsPerMin: median(row.loopsPerMin),
    speedup: median(row.loopsPerMin) / base,
    runs: row.loopsPerMin.map((x) => Number(x.toFixed(2))),
    cores: row.cores.map((x) => Number(x.toFixed(2))),
    load1: row.load1.map((x) => Number(x.toFixed(2))),
  }));
  const report = {
    modelDir: tmp === undefined ? modelDir : 'fresh init',
    jobs: jobs.length,
    epochs,
    repeats,
    out,
  };
  process.stdout.write(
    '| setting | inner loops/min (median) | speedup | runs | cores used | load avg (1 min) |\n|---|---|---|---|---|---|\n',
  );
  for (const o of out)
    process.stdout.write(
      `| ${o.setting} | ${o.medianLoopsPerMin.toFixed(2)} | ${o.speedup.toFixed(2)}× | ${o.runs.join(', ')} | ${o.cores.join(', ')} | ${o.load1.join(', ')} |\n`,
    );
  const outFile = arg('out');
  if (outFile !== undefined) writeFileSync(outFile, `${JSON.stringify(report, null, 2)}\n`);
}

await main();
