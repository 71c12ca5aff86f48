/**
 * One benchmark on one engine path, in its own process: the parent (run.ts) starts a fresh worker per
 * (name, path) so that wasm heap growth, kernel registrations and JIT state of one measurement never leak into the
 * next. Input: one JSON argument `{ name, path, opts }`. Output: a line `BENCH_RESULT <json>` on stdout (anything
 * else on stdout is ignored by the parent); progress goes to stderr.
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { initEngine, setNativeGemm, tf } from '../../engine/index.js';
import { loadNative } from '../../engine/native/loader.js';
import { LoraAdapter } from '../../lora/adapter.js';
import { LoraConfigSchema } from '../../lora/config.js';
import { generate } from '../../model/generate.js';
import { loadModel } from '../../model/io/load.js';
import { Transformer } from '../../model/model.js';
import { makeBatch } from '../../train/data.js';
import { AdamW } from '../../train/optimizer.js';
import { trainStep } from '../../train/step.js';
import { Rng } from '../../util/rng.js';
import { genSpecs, gpt2Config, LORA, type ShapeSpec, STORIES_PATH, shapes, TRAIN } from './configs.js';
import {
  type BenchEntry,
  type BenchName,
  type BenchOptions,
  type EnginePath,
  RESULT_PREFIX,
  type SgemmPeak,
  type WorkerJob,
} from './options.js';

type Measured = Omit<BenchEntry, 'name' | 'path' | 'ratio_to_pytorch_fp32'>;

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Size of the wasm backend's heap: it never shrinks, so this is the run's peak (the cap is 4,096 MiB). */
function wasmHeapMiB(): number | undefined {
  if (tf.getBackend() !== 'wasm') return undefined;
  const be = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  const n = be.wasm?.HEAPU8?.length;
  return n === undefined ? undefined : Math.round(n / 2 ** 20);
}

function randomIds(rng: Rng, n: number, vocab: number): number[] {
  return Array.from({ length: n }, () => rng.int(vocab));
}

/** `auto` checkpoints only where it is needed to run at all: the GPT-2-small shape on pure wasm (4 GB heap). */
export function useCheckpointing(name: BenchName, path: EnginePath, opts: BenchOptions): boolean {
  switch (opts.gradientCheckpointing) {
    case 'on':
      return true;
    case 'off':
      return false;
    case 'auto':
      return name.startsWith('B') && path === 'wasm';
    default: {
      const never: never = opts.gradientCheckpointing;
      throw new Error(`unknown gradientCheckpointing ${String(never)}`);
    }
  }
}

function trainBench(name: BenchName, opts: BenchOptions, gradientCheckpointing: boolean): Measured {
  const shape: ShapeSpec = name.startsWith('A') ? shapes(opts.tiny).A : shapes(opts.tiny).B;
  const model = Transformer.init(gpt2Config(shape), TRAIN.seed);
  const lora = name.endsWith('lora')
    ? LoraAdapter.create(
        model,
        LoraConfigSchema.parse({ r: LORA.r, alpha: LORA.alpha, targetModules: [...LORA.targetModules] }),
        TRAIN.seed + 1,
      )
    : undefined;
  if (lora !== undefined && lora.modules.size !== 2 * shape.layers)
    throw new Error(
      `LoRA matched ${lora.modules.size} modules, expected ${2 * shape.layers} (attention only)`,
    );
  const vars = lora?.variables() ?? model.params;
  const optimizer = new AdamW(vars);
  const rng = new Rng(TRAIN.seed + 2);
  const batch = makeBatch(
    Array.from({ length: shape.batch }, () => ({ ids: randomIds(rng, shape.seq + 1, shape.vocab) })),
    shape.seq,
  );
  const stepOpts = {
    deltas: lora === undefined ? [] : [lora],
    clipNorm: TRAIN.clipNorm,
    gradientCheckpointing,
  };
  let baseline: number | undefined;
  const all: number[] = [];
  const step = (): { ms: number; loss: number } => {
    const t0 = performance.now();
    // trainStep reads the loss back (dataSync), so the work has finished when it returns.
    const r = trainStep(model, vars, optimizer, [batch], TRAIN.lr, stepOpts);
    const ms = performance.now() - t0;
    // The optimizer allocates its moments on the first update: count tensors from after that step.
    baseline ??= tf.memory().numTensors;
    all.push(r.loss);
    return { ms, loss: r.loss };
  };
  for (let i = 0; i < opts.warmup; i++) {
    const r = step();
    log(`${name}: warm-up ${i + 1}/${opts.warmup} ${r.ms.toFixed(0)} ms, loss ${r.loss.toFixed(3)}`);
  }
  const times: number[] = [];
  const losses: number[] = [];
  for (let i = 0; i < opts.steps; i++) {
    const r = step();
    times.push(r.ms);
    losses.push(r.loss);
    log(`${name}: step ${i + 1}/${opts.steps} ${r.ms.toFixed(0)} ms, loss ${r.loss.toFixed(3)}`);
  }
  const counted = opts.warmup > 0 ? opts.steps : opts.steps - 1;
  const leaked = counted > 0 ? (tf.memory().numTensors - (baseline ?? 0)) / counted : 0;
  const ms = median(times);
  return {
    ms_per_step: ms,
    tokens_per_s: (shape.batch * shape.seq) / (ms / 1000),
    runs: opts.steps,
    loss_first: losses[0] as number,
    loss_last: losses[losses.length - 1] as number,
    losses: all,
    leaked_tensors: leaked,
    gradient_checkpointing: gradientCheckpointing,
  };
}

async function genBench(name: BenchName, opts: BenchOptions): Promise<Measured> {
  const specs = genSpecs(opts.tiny);
  let model: Transformer;
  let prompt: number[];
  let spec = specs.B;
  if (name === 'gen-stories260K') {
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    model = (await loadModel(`${root}${STORIES_PATH}`)).model;
    prompt = [model.config.bosId ?? 1];
    spec = specs.stories;
  } else {
    model = Transformer.init(gpt2Config(shapes(opts.tiny).B), TRAIN.seed);
    prompt = randomIds(new Rng(TRAIN.seed + 3), spec.promptLen, model.config.vocabSize);
  }
  const useCache = name !== 'gen-B-nocache';
  // The nocache variant re-runs the whole sequence per token (~10x slower): one run says enough.
  const runs = useCache ? opts.genRuns : 1;
  // eosId -1 never matches, so every run decodes exactly `newTokens` tokens, as the PyTorch reference does.
  const run = (n: number) =>
    generate(model, [prompt], { maxNewTokens: n, temperature: 0, eosId: -1, useCache });
  const t0 = performance.now();
  run(Math.min(4, spec.newTokens));
  log(`${name}: warm-up ${(performance.now() - t0).toFixed(0)} ms`);
  const baseline = tf.memory().numTensors;
  const times: number[] = [];
  let tokens: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t1 = performance.now();
    const r = run(spec.newTokens);
    const ms = performance.now() - t1;
    tokens = r.tokens[0] ?? [];
    if (tokens.length !== spec.newTokens)
      throw new Error(`generated ${tokens.length} tokens, expected ${spec.newTokens}`);
    times.push(ms);
    log(
      `${name}: run ${i + 1}/${runs} ${ms.toFixed(0)} ms (${((1000 * spec.newTokens) / ms).toFixed(1)} tok/s)`,
    );
  }
  const ms = median(times);
  return {
    ms_per_step: ms / spec.newTokens,
    tokens_per_s: (1000 * spec.newTokens) / ms,
    runs,
    new_tokens: spec.newTokens,
    first_tokens: tokens.slice(0, 16),
    leaked_tensors: (tf.memory().numTensors - baseline) / runs,
  };
}

/**
 * The machine's SGEMM peak as this bench measures it: a 1024³ product on the addon's pool, median of 5 samples of
 * ≥ 200 ms each, for our SGEMM and OpenBLAS (when built in). The fraction-of-peak column divides by the larger.
 */
export function measurePeak(): SgemmPeak {
  const { addon, detail } = loadNative();
  if (addon === undefined) throw new Error(`native addon unavailable: ${detail}`);
  const n = 1024;
  const buf = new ArrayBuffer(3 * n * n * 4);
  const f = new Float32Array(buf);
  for (let i = 0; i < f.length; i++) f[i] = ((i * 7919) % 1000) / 1000 - 0.5;
  const call = () => addon.sgemm(buf, 0, 0, n, n, n, 1, 0, n, n * n * 4, n, 0, 2 * n * n * 4, n, 1);
  const gflops = (path: 'own' | 'openblas'): number => {
    addon.setGemm(path);
    call();
    const samples: number[] = [];
    for (let s = 0; s < 5; s++) {
      let iters = 0;
      const t0 = performance.now();
      while (performance.now() - t0 < 200) {
        call();
        iters++;
      }
      samples.push((2 * n * n * n * iters) / ((performance.now() - t0) * 1e6));
    }
    return median(samples);
  };
  const own = gflops('own');
  const openblas = addon.gemmConfig().openblas ? gflops('openblas') : null;
  addon.setGemm('auto');
  log(
    `SGEMM peak (1024³ on the pool): own ${own.toFixed(1)} GFLOP/s, OpenBLAS ${openblas?.toFixed(1) ?? '–'}`,
  );
  return { own, openblas, peak: Math.max(own, openblas ?? 0) };
}

export async function runJob(job: Extract<WorkerJob, { kind: 'bench' }>): Promise<BenchEntry> {
  // bf16 is explicit both ways: SEAL_NATIVE_BF16=1 in the environment must not turn "native" into bf16.
  const info = await initEngine('wasm', { native: job.path !== 'wasm', bf16: job.path === 'native-bf16' });
  if (job.path !== 'wasm' && !info.native.available)
    throw new Error(`native path unavailable: ${info.native.detail}`);
  // `native-own`: our SGEMM even where OpenBLAS is linked; the other native paths take the addon's default.
  let kernels: string | undefined;
  if (job.path !== 'wasm') {
    const g = setNativeGemm({ path: job.path === 'native-own' ? 'own' : 'auto' });
    kernels = g.path === 'own' ? `own SGEMM ${g.isa}` : g.path;
  }
  if (job.path === 'native-bf16' && !info.native.detail.includes('bf16 matmuls ON'))
    throw new Error(`bf16 matmuls unavailable: ${info.native.detail}`);
  log(`${job.name} on ${job.path} (${info.native.detail})`);
  const m = job.name.startsWith('gen-')
    ? await genBench(job.name, job.opts)
    : trainBench(job.name, job.opts, useCheckpointing(job.name, job.path, job.opts));
  const heap = wasmHeapMiB();
  return {
    name: job.name,
    path: job.path,
    ...m,
    ...(kernels === undefined ? {} : { kernels }),
    ...(heap === undefined ? {} : { wasm_heap_mib: heap }),
    ratio_to_pytorch_fp32: null,
  };
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '{}') as WorkerJob;
  try {
    const result = job.kind === 'peak' ? measurePeak() : await runJob(job);
    process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
  } catch (e) {
    const heap = wasmHeapMiB();
    const msg = `${e instanceof Error ? e.message : String(e)}${heap === undefined ? '' : ` (wasm heap ${heap} MiB of 4096)`}`;
    const what = job.kind === 'peak' ? 'SGEMM peak' : `${job.name} on ${job.path}`;
    log(`${what} failed: ${e instanceof Error && e.stack !== undefined ? e.stack : msg}`);
    process.stdout.write(`${RESULT_PREFIX}${JSON.stringify({ error: msg })}\n`);
    process.exitCode = 1;
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await main();
