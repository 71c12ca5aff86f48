/**
 * `npm run bench`: times training steps and generation on every available path and compares them with a
 * hand-written PyTorch reference. Each (benchmark, engine path) runs in a fresh worker process (worker.ts); the
 * PyTorch reference (bench/pytorch_ref.py) runs after them, per benchmark, when `torch` imports. stdout carries
 * only the JSON array of entries; the results file adds machine metadata. See `--help`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nativeInfo } from '../../engine/index.js';
import { packageVersion } from '../../version.js';
import { LORA, shapes, trainFlopsPerStep } from './configs.js';
import {
  BENCH_NAMES,
  type BenchEntry,
  type BenchName,
  type BenchOptions,
  BenchUsageError,
  type EnginePath,
  type EntryPath,
  helpText,
  parseBenchArgs,
  RESULT_PREFIX,
  type SgemmPeak,
  TRAIN_NAMES,
  type WorkerJob,
} from './options.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));
const PYTORCH_REF = join(ROOT, 'bench', 'pytorch_ref.py');
const PATH_ORDER: readonly EntryPath[] = [
  'wasm',
  'native',
  'native-own',
  'native-bf16',
  'pytorch-fp32',
  'pytorch-bf16',
];

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

function emptyEntry(name: BenchName, path: EntryPath, error: string): BenchEntry {
  return { name, path, ms_per_step: null, tokens_per_s: null, ratio_to_pytorch_fp32: null, error };
}

function lastResultLine(stdout: string): unknown {
  const line = stdout
    .split('\n')
    .reverse()
    .find((l) => l.startsWith(RESULT_PREFIX));
  return line === undefined ? undefined : JSON.parse(line.slice(RESULT_PREFIX.length));
}

function spawnWorker(job: WorkerJob) {
  return spawnSync(process.execPath, [WORKER, JSON.stringify(job)], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: job.opts.timeoutS * 1000,
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** The SGEMM peak, measured by a worker of this run (null when it failed: the fraction column is then empty). */
function runPeak(opts: BenchOptions): SgemmPeak | null {
  const r = spawnWorker({ kind: 'peak', opts });
  try {
    const p = r.status === 0 ? (lastResultLine(r.stdout) as SgemmPeak | undefined) : undefined;
    if (p !== undefined && Number.isFinite(p.peak)) return p;
  } catch {}
  log(`SGEMM peak not measured (worker exit ${r.status}${r.signal === null ? '' : `, ${r.signal}`})`);
  return null;
}

function runWorker(name: BenchName, path: EnginePath, opts: BenchOptions): BenchEntry {
  const t0 = Date.now();
  const r = spawnWorker({ kind: 'bench', name, path, opts });
  const wall = ((Date.now() - t0) / 1000).toFixed(1);
  if (r.error !== undefined || r.signal !== null) {
    const why =
      r.signal !== null ? `killed by ${r.signal} (time limit ${opts.timeoutS} s?)` : String(r.error);
    return emptyEntry(name, path, why);
  }
  let parsed: unknown;
  try {
    parsed = lastResultLine(r.stdout);
  } catch (e) {
    return emptyEntry(name, path, `unreadable worker output: ${(e as Error).message}`);
  }
  if (parsed === undefined) return emptyEntry(name, path, `worker exited ${r.status} without a result`);
  const p = parsed as Partial<BenchEntry> & { error?: string };
  if (p.error !== undefined) return emptyEntry(name, path, p.error);
  log(`${name} on ${path}: ${p.ms_per_step?.toFixed(1)} ms/step (${wall} s wall)`);
  return p as BenchEntry;
}

/**
 * Every path of one benchmark, `opts.repeats` times in turns (A B A B …): each path's row is its median repeat, with
 * every repeat's ms/step beside it. On a shared machine whose speed drifts, turns keep the ratios honest.
 */
function runInTurns(name: BenchName, paths: readonly EnginePath[], opts: BenchOptions): BenchEntry[] {
  const runs = new Map<EnginePath, BenchEntry[]>(paths.map((p) => [p, []]));
  for (let r = 0; r < opts.repeats; r++)
    for (const path of paths) runs.get(path)?.push(runWorker(name, path, opts));
  return paths.map((path) => {
    const all = runs.get(path) ?? [];
    if (opts.repeats === 1 || all.length === 0) return all[0] ?? emptyEntry(name, path, 'not run');
    const ok = all.filter((e) => e.ms_per_step !== null);
    if (ok.length === 0) return all[0] as BenchEntry;
    const sorted = [...ok].sort((a, b) => (a.ms_per_step ?? 0) - (b.ms_per_step ?? 0));
    const mid = sorted[(sorted.length - 1) >> 1] as BenchEntry;
    return { ...mid, repeat_ms: ok.map((e) => e.ms_per_step as number) };
  });
}

function pythonHasTorch(python: string): boolean {
  const r = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore', timeout: 60_000 });
  return r.status === 0;
}

interface PytorchRun {
  readonly meta: Record<string, unknown>;
  readonly entries: BenchEntry[];
}

function runPytorch(names: readonly BenchName[], opts: BenchOptions): PytorchRun | string {
  const args = [
    PYTORCH_REF,
    '--only',
    names.join(','),
    '--steps',
    String(opts.steps),
    '--warmup',
    String(opts.warmup),
    '--gen-runs',
    String(opts.genRuns),
    '--threads',
    String(opts.torchThreads),
    ...(opts.tiny ? ['--tiny'] : []),
  ];
  const r = spawnSync(opts.python, args, {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: opts.timeoutS * 1000 * names.length,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error !== undefined || r.status !== 0)
    return `pytorch_ref.py failed: ${r.error?.message ?? `exit ${r.status} ${r.signal ?? ''}`}`;
  try {
    const out = JSON.parse(r.stdout) as { meta: Record<string, unknown>; entries: BenchEntry[] };
    return { meta: out.meta, entries: out.entries };
  } catch (e) {
    return `pytorch_ref.py printed no JSON: ${(e as Error).message}`;
  }
}

/** ratio = this entry's ms/step ÷ PyTorch fp32's for the same name (1 for the fp32 entry itself). */
function addRatios(entries: BenchEntry[]): void {
  const ref = new Map<BenchName, BenchEntry>();
  for (const e of entries) if (e.path === 'pytorch-fp32' && e.ms_per_step !== null) ref.set(e.name, e);
  for (const e of entries) {
    const r = ref.get(e.name);
    e.ratio_to_pytorch_fp32 =
      r?.ms_per_step != null && e.ms_per_step !== null ? e.ms_per_step / r.ms_per_step : null;
    // Same checkpoint, same greedy decoding: the first tokens should agree across engines.
    if (e.name === 'gen-stories260K' && e.path !== 'pytorch-fp32' && r?.first_tokens && e.first_tokens) {
      const n = Math.min(r.first_tokens.length, e.first_tokens.length);
      e.tokens_match_pytorch = r.first_tokens.slice(0, n).every((t, i) => t === e.first_tokens?.[i]);
      if (!e.tokens_match_pytorch)
        log(`warning: gen-stories260K on ${e.path} decodes differently from PyTorch`);
    }
  }
}

/** Model FLOPs per step of every training row (PyTorch's too), GFLOP/s, and the fraction of this run's peak. */
function addFlops(entries: BenchEntry[], opts: BenchOptions, peak: SgemmPeak | null): void {
  for (const e of entries) {
    if (!TRAIN_NAMES.includes(e.name) || e.ms_per_step === null) continue;
    const shape = e.name.startsWith('A') ? shapes(opts.tiny).A : shapes(opts.tiny).B;
    const flops = trainFlopsPerStep(
      shape,
      e.name.endsWith('lora') ? { r: LORA.r, targets: 'attn' } : undefined,
    );
    e.model_gflop_per_step = flops / 1e9;
    e.achieved_gflops = flops / 1e9 / (e.ms_per_step / 1000);
    e.fraction_of_peak = peak === null ? null : e.achieved_gflops / peak.peak;
  }
}

function gitCommit(): { commit: string | null; dirty: boolean | null } {
  const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  if (head.status !== 0) return { commit: null, dirty: null };
  const st = spawnSync('git', ['status', '--porcelain'], { cwd: ROOT, encoding: 'utf8' });
  return { commit: head.stdout.trim(), dirty: st.status === 0 ? st.stdout.trim() !== '' : null };
}

const fmt = (x: number | null | undefined, digits: number) => (x == null ? '–' : x.toFixed(digits));

function table(entries: readonly BenchEntry[]): string {
  const head = `${'name'.padEnd(16)} ${'path'.padEnd(13)} ${'ms/step'.padStart(10)} ${'tokens/s'.padStart(10)} ${'ratio'.padStart(7)} ${'GFLOP/s'.padStart(8)} ${'%peak'.padStart(6)}`;
  const pct = (x: number | null | undefined) => (x == null ? null : 100 * x);
  const rows = entries.map(
    (e) =>
      `${e.name.padEnd(16)} ${e.path.padEnd(13)} ${fmt(e.ms_per_step, 1).padStart(10)} ${fmt(e.tokens_per_s, 1).padStart(10)} ${fmt(e.ratio_to_pytorch_fp32, 2).padStart(7)} ${fmt(e.achieved_gflops, 1).padStart(8)} ${fmt(pct(e.fraction_of_peak), 1).padStart(6)}${e.error ? `  error: ${e.error}` : ''}`,
  );
  return [head, ...rows].join('\n');
}

function writeResults(opts: BenchOptions, doc: Record<string, unknown>, date: Date): string {
  const dir = isAbsolute(opts.outDir) ? opts.outDir : join(ROOT, opts.outDir);
  mkdirSync(dir, { recursive: true });
  const stamp = date
    .toISOString()
    .replace(/[:]/g, '-')
    .replace(/\.\d+Z$/, 'Z');
  const file = join(dir, `${stamp}.json`);
  const text = `${JSON.stringify(doc, null, 2)}\n`;
  writeFileSync(file, text);
  // Readers of latest.json must never see a half-written file.
  const tmp = join(dir, `.latest.${process.pid}.tmp`);
  writeFileSync(tmp, text);
  renameSync(tmp, join(dir, 'latest.json'));
  return file;
}

async function main(argv: readonly string[]): Promise<number> {
  let opts: BenchOptions | 'help';
  try {
    opts = parseBenchArgs(argv);
  } catch (e) {
    if (e instanceof BenchUsageError) {
      process.stderr.write(`bench: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  if (opts === 'help') {
    process.stdout.write(`${helpText()}\n`);
    return 0;
  }
  const date = new Date();
  const loadStart = loadavg()[0] ?? 0;
  // Every path here is CPU-bound on all cores: another busy process skews (OpenMP in PyTorch badly) the numbers.
  if (loadStart > 0.5) log(`warning: 1-minute load average is ${loadStart.toFixed(2)} before starting`);
  const names = BENCH_NAMES.filter((n) => opts.only.includes(n));
  const native = nativeInfo();
  const enginePaths: EnginePath[] = [];
  if (opts.paths.includes('wasm')) enginePaths.push('wasm');
  for (const p of ['native', 'native-own', 'native-bf16'] as const) {
    if (!opts.paths.includes(p)) continue;
    if (!native.available) log(`${p} path skipped: ${native.detail}`);
    // Without OpenBLAS, `native` already runs our SGEMM: a second row would time the same thing.
    else if (p === 'native-own' && !/OpenBLAS/.test(native.detail) && opts.paths.includes('native'))
      log('native-own path skipped: the addon has no OpenBLAS, so `native` is our SGEMM already');
    else enginePaths.push(p);
  }
  // The hardware anchor, measured now on this machine: every training row's fraction of peak divides by it.
  const peak =
    enginePaths.some((p) => p !== 'wasm') && names.some((n) => TRAIN_NAMES.includes(n))
      ? runPeak(opts)
      : null;
  let torch = false;
  if (opts.paths.includes('pytorch')) {
    torch = existsSync(PYTORCH_REF) && pythonHasTorch(opts.python);
    if (!torch)
      log(`PyTorch reference skipped: ${opts.python} cannot import torch (or ${PYTORCH_REF} is missing)`);
  }

  const entries: BenchEntry[] = [];
  let pytorchMeta: Record<string, unknown> | null = null;
  // PyTorch runs right after our paths for the same benchmark, so a load change on a shared machine skews both
  // sides of a ratio alike rather than one side only.
  for (const name of names) {
    entries.push(...runInTurns(name, enginePaths, opts));
    if (!torch) continue;
    const r = runPytorch([name], opts);
    if (typeof r === 'string') {
      log(r);
      entries.push(emptyEntry(name, 'pytorch-fp32', r));
    } else {
      pytorchMeta ??= r.meta;
      // Labelled with its version: a reference point, not a speed claim (Debian's 1.13 fp32 path is slow here).
      const version = `torch ${String(r.meta['torch'] ?? '?')}`;
      entries.push(...r.entries.map((e) => ({ ...e, kernels: version })));
    }
  }
  entries.sort(
    (a, b) =>
      BENCH_NAMES.indexOf(a.name) - BENCH_NAMES.indexOf(b.name) ||
      PATH_ORDER.indexOf(a.path) - PATH_ORDER.indexOf(b.path),
  );
  addRatios(entries);
  addFlops(entries, opts, peak);

  const cpu = cpus();
  const doc = {
    date: date.toISOString(),
    seal_ts_version: packageVersion(),
    git: gitCommit(),
    machine: {
      cpu_model: cpu[0]?.model ?? 'unknown',
      cores: cpu.length,
      memory_gb: Math.round(totalmem() / 2 ** 30),
      platform: `${process.platform}-${process.arch}`,
      node: process.version,
      load_average_1m: { start: loadStart, end: loadavg()[0] ?? 0 },
      sgemm_peak: peak,
    },
    native,
    pytorch: pytorchMeta,
    configs: { ...shapes(opts.tiny), lora: LORA, tiny: opts.tiny },
    options: { ...opts },
    command: `node dist/app/bench/run.js ${argv.join(' ')}`.trim(),
    entries,
  };
  if (opts.save) log(`results written to ${writeResults(opts, doc, date)}`);
  process.stderr.write(`${table(entries)}\n`);
  process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
  return entries.some((e) => e.error !== undefined) ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
