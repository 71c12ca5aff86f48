/**
 * Benchmark names, paths and command-line options. The options are one zod schema so that `--help`, validation
 * and the child-process protocol (the parent hands the parsed options to each worker as JSON) share one source.
 */
import { z } from 'zod';

export const BENCH_NAMES = [
  'A-full',
  'A-lora',
  'B-lora',
  'gen-stories260K',
  'gen-B',
  'gen-B-nocache',
] as const;
export type BenchName = (typeof BENCH_NAMES)[number];

/**
 * Paths a user can ask for; `pytorch` expands to the fp32 and bf16 reference entries. `native` is the addon's
 * default matrix products (OpenBLAS when built in, else our SGEMM), `native-own` our SGEMM even when OpenBLAS is
 * there (skipped when the addon has no OpenBLAS: it would repeat `native`). `native-bf16` (the addon's opt-in bf16
 * matrix products, builds with oneDNN) is not in the default set.
 */
export const PATH_CHOICES = ['wasm', 'native', 'native-own', 'native-bf16', 'pytorch'] as const;
export const DEFAULT_PATHS: PathChoice[] = ['wasm', 'native', 'native-own', 'pytorch'];
export type PathChoice = (typeof PATH_CHOICES)[number];
export type EnginePath = 'wasm' | 'native' | 'native-own' | 'native-bf16';
export type EntryPath = EnginePath | 'pytorch-fp32' | 'pytorch-bf16';

export const TRAIN_NAMES: readonly BenchName[] = ['A-full', 'A-lora', 'B-lora'];

const csvList = <T extends string>(choices: readonly [T, ...T[]]) =>
  z
    .string()
    .transform((s) => s.split(',').map((x) => x.trim()))
    .pipe(z.array(z.enum(choices)).min(1));

export const BenchOptionsSchema = z.object({
  only: csvList(BENCH_NAMES)
    .default([...BENCH_NAMES])
    .describe(`Comma-separated benchmarks to run (${BENCH_NAMES.join(', ')})`),
  paths: csvList(PATH_CHOICES)
    .default(DEFAULT_PATHS)
    .describe(
      'Comma-separated paths: wasm, native (when the addon is built: OpenBLAS if linked), native-own (our SGEMM), native-bf16 (opt-in), pytorch (when torch imports)',
    ),
  steps: z.coerce
    .number()
    .int()
    .min(1)
    .default(5)
    .describe('Measured training steps (the median is reported)'),
  warmup: z.coerce.number().int().min(0).default(2).describe('Unmeasured training steps before timing'),
  genRuns: z.coerce
    .number()
    .int()
    .min(1)
    .default(3)
    .describe('Measured generation runs (median; gen-B-nocache always runs once)'),
  gradientCheckpointing: z
    .enum(['auto', 'on', 'off'])
    .default('auto')
    .describe(
      'Recompute each block in the backward pass (auto: only B-lora on pure wasm, whose activations overflow the 4 GB heap otherwise)',
    ),
  tiny: z
    .boolean()
    .default(false)
    .describe('Shrink every config to toy size (for smoke tests: layout, not speed)'),
  outDir: z
    .string()
    .default('bench/results')
    .describe('Where <timestamp>.json and latest.json go, relative to the package root unless absolute'),
  save: z.boolean().default(true).describe('Write the results files (--no-save to only print)'),
  torchThreads: z.coerce
    .number()
    .int()
    .min(1)
    .default(2)
    .describe('torch.set_num_threads for the reference (2 = the notes; 1 is steadier on a busy machine)'),
  python: z.string().default('/usr/bin/python3').describe('Python interpreter for the PyTorch reference'),
  repeats: z.coerce
    .number()
    .int()
    .min(1)
    .default(1)
    .describe(
      'Fresh worker processes per (benchmark, path), run in turns (A B A B …) so that a drift in machine speed hits every path alike; each row reports the median run (ms_per_step) and all of them (repeat_ms)',
    ),
  timeoutS: z.coerce
    .number()
    .int()
    .min(1)
    .default(900)
    .describe('Per-benchmark child-process time limit in seconds'),
});
export type BenchOptions = z.infer<typeof BenchOptionsSchema>;

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const camel = (s: string) => s.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

const BOOLEAN_FLAGS = new Set(['tiny', 'save']);

export function helpText(): string {
  const lines = [
    'Usage: npm run bench -- [options]   (or: node dist/app/bench/run.js [options])',
    '',
    'Times training steps and generation on the wasm engine, the native addon (when built) and a hand-written',
    'PyTorch reference (when /usr/bin/python3 can import torch). Prints a JSON array of entries',
    '{name, path, ms_per_step, tokens_per_s, ratio_to_pytorch_fp32} on stdout, progress on stderr, and writes',
    'bench/results/<timestamp>.json and bench/results/latest.json with machine metadata. Exits 1 when any',
    'entry failed (that entry carries an "error" field and null timings), 2 on bad options.',
    '',
    'Options:',
  ];
  for (const [key, field] of Object.entries(BenchOptionsSchema.shape)) {
    const flag = BOOLEAN_FLAGS.has(key) ? `--${kebab(key)}` : `--${kebab(key)} <value>`;
    const d = (field as unknown as { _zod: { def: { defaultValue?: unknown } } })._zod.def.defaultValue;
    const shown = Array.isArray(d) ? d.join(',') : String(d);
    const dflt = BOOLEAN_FLAGS.has(key) || d === undefined ? '' : ` [default: ${shown}]`;
    lines.push(`  ${flag.padEnd(25)} ${field.description ?? ''}${dflt}`);
  }
  lines.push(
    '  --help                    This text',
    '',
    'Examples:',
    '  npm run bench',
    '  npm run bench -- --only A-full,B-lora --steps 5 --paths wasm,pytorch',
    '  node dist/app/bench/run.js --tiny --only A-full --steps 1 --warmup 0 --paths wasm --no-save',
  );
  return lines.join('\n');
}

export class BenchUsageError extends Error {}

/** argv (without node and script) → validated options, or 'help'. */
export function parseBenchArgs(argv: readonly string[]): BenchOptions | 'help' {
  const raw: Record<string, unknown> = {};
  const shape = BenchOptionsSchema.shape as Record<string, unknown>;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--help' || a === '-h') return 'help';
    if (!a.startsWith('--')) throw new BenchUsageError(`unexpected argument "${a}" (see --help)`);
    let name = a.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    if (name.startsWith('no-') && BOOLEAN_FLAGS.has(camel(name.slice(3)))) {
      raw[camel(name.slice(3))] = false;
      continue;
    }
    const key = camel(name);
    if (!(key in shape)) throw new BenchUsageError(`unknown option --${name} (see --help)`);
    if (BOOLEAN_FLAGS.has(key)) {
      raw[key] = value === undefined ? true : value !== 'false';
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new BenchUsageError(`option --${name} needs a value`);
    }
    raw[key] = value;
  }
  const r = BenchOptionsSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    const field = String(issue?.path[0] ?? '');
    throw new BenchUsageError(`invalid --${kebab(field)}: ${issue?.message ?? 'invalid value'}`);
  }
  return r.data;
}

/** One row of the results: the layout other tools read (extra fields are informational). */
export interface BenchEntry {
  name: BenchName;
  path: EntryPath;
  ms_per_step: number | null;
  tokens_per_s: number | null;
  ratio_to_pytorch_fp32: number | null;
  /** With --repeats N: ms_per_step of each repeat, in run order (the row is the median one). */
  repeat_ms?: number[];
  /** Training: measured steps; generation: measured runs. */
  runs?: number;
  /** Training: loss of the first and last timed step (a sanity check that both engines train the same thing). */
  loss_first?: number;
  loss_last?: number;
  /** Training: the loss of every step, warm-up included (compares the curves of fp32 and bf16 products). */
  losses?: number[];
  /** Training: model FLOPs per step (configs.ts trainFlopsPerStep), what they make per second, and that as a
   * fraction of the SGEMM peak this run measured (`machine.sgemm_peak` of the results file). */
  model_gflop_per_step?: number;
  achieved_gflops?: number;
  fraction_of_peak?: number | null;
  /** What ran the matrix products: the addon's path ("openblas", "own SGEMM avx512"), or "torch 1.13.1". */
  kernels?: string;
  /** Generation: new tokens per run, and the first greedy tokens (compared across engines for stories260K). */
  new_tokens?: number;
  first_tokens?: number[];
  tokens_match_pytorch?: boolean;
  /** Tensors left behind per timed step/run by our engine (should be 0). */
  leaked_tensors?: number;
  /** Training: whether activations were recomputed in the backward pass (gradient checkpointing). */
  gradient_checkpointing?: boolean;
  /** Our engine: wasm heap size at the end (it only grows, so the peak; capped at 4,096 MiB). */
  wasm_heap_mib?: number;
  error?: string;
}

/**
 * The parent→worker message (one JSON argument) and the marker of the worker's result line on stdout. `peak`
 * measures the machine's SGEMM peak (a 1024³ product on the addon's pool, each native path) in the same run.
 */
export type WorkerJob =
  | {
      readonly kind: 'bench';
      readonly name: BenchName;
      readonly path: EnginePath;
      readonly opts: BenchOptions;
    }
  | { readonly kind: 'peak'; readonly opts: BenchOptions };

/** GFLOP/s of a 1024³ product on the pool, per native path (null: not built), and their maximum. */
export interface SgemmPeak {
  readonly own: number;
  readonly openblas: number | null;
  readonly peak: number;
}

export const RESULT_PREFIX = 'BENCH_RESULT ';
