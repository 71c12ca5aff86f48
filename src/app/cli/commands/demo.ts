import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { initEngine } from '../../../engine/index.js';
import { loraTargets } from '../../../lora/config.js';
import { loadPeopleProblem } from '../../../seal/domains/people.js';
import { formatPaired, formatTable } from '../../../seal/eval/evaluate.js';
import { INNER_DEFAULTS } from '../../../seal/inner/inner-loop.js';
import { checkOutputRoot } from '../../../util/fs.js';
import { RunDir, runName } from '../../../util/run-dir.js';
import { readRunConfig, resolveModelDir } from '../../config.js';
import { type DemoConfig, DemoConfigSchema, type DemoSummary, runDemo } from '../../demo.js';
import {
  GRID_DEMO,
  GRID_DEMO_QUICK,
  type GridTableOptions,
  GridTableOptionsSchema,
  runGridTable,
} from '../../experiments/grids-table.js';
import { buildReport } from '../../report/html.js';
import { type Command, UsageError } from '../args.js';
import {
  BackendOption,
  DemoWorkersOption,
  demoWorkers,
  innerExecutor,
  log,
  prepareQueue,
  QueueOption,
  QueueWaitOption,
  withResumeHint,
} from './common.js';
import { resolveGridModelDir } from './grids-common.js';

/** `--quick`: the budget the test suite runs (well under 2 minutes on 2 cores). */
export const QUICK_DEMO: Partial<DemoConfig> = {
  rounds: 1,
  rlContexts: 2,
  rlPeople: 40,
  samples: 2,
  evalContexts: 2,
  seeds: 1,
  innerEpochs: 5,
  maxNewTokens: 96,
  continuedContexts: 2,
  forgettingContexts: 2,
  deltaContexts: 2,
  deltaPeople: 40,
  deltaSteps: 20,
  deltaTimesteps: 64,
};

// Every DemoConfig field is a flag; unset flags take the default (or the --quick value), shown in --help.
const defaults = DemoConfigSchema.parse({});
const demoFlags = Object.fromEntries(
  Object.entries(DemoConfigSchema.shape).map(([k, f]) => {
    const key = k as keyof DemoConfig;
    const quick = QUICK_DEMO[key];
    const note = `default ${JSON.stringify(defaults[key])}${quick === undefined ? '' : `; --quick ${JSON.stringify(quick)}`}`;
    return [
      k,
      f
        .unwrap()
        .optional()
        .describe(`${f.description ?? ''} (${note})`),
    ];
  }),
) as unknown as { [K in keyof DemoConfig]: z.ZodOptional<z.ZodType<DemoConfig[K]>> };

const schema = z.object({
  domain: z
    .enum(['people', 'grids'])
    .default('people')
    .describe(
      `people: knowledge incorporation (the main job); grids: few-shot grid puzzles, the self-edit a training recipe (${GRID_DEMO.tasks} test tasks, ${GRID_DEMO.rounds} ReST-EM rounds; --rounds, --seeds, --samples, --rl-contexts, --eval-contexts (= tasks) apply)`,
    ),
  model: z
    .string()
    .default('default')
    .describe(
      'Model directory from `seal pretrain` ("default" = the bundled one; --domain grids: a grid model)',
    ),
  quick: z
    .boolean()
    .default(false)
    .describe('Tiny budget (well under 2 minutes): 1 round, 2 contexts, 1 seed'),
  ...demoFlags,
  out: z.string().default('runs').describe('Parent directory of the run directory'),
  resume: z
    .string()
    .optional()
    .describe(
      'Run directory of an interrupted demo to finish (its config is reused; finished parts are kept)',
    ),
  workers: DemoWorkersOption,
  queue: QueueOption,
  queueWait: QueueWaitOption,
  backend: BackendOption,
});

/** The demo flags that mean the same in the grid demo, and the grid table option each sets. */
const GRID_DEMO_FLAGS = {
  rounds: 'rounds',
  seeds: 'seeds',
  samples: 'samples',
  rlContexts: 'rlContexts',
  evalContexts: 'tasks',
} as const satisfies Partial<Record<keyof DemoConfig, keyof GridTableOptions>>;

/**
 * `seal demo --domain grids`: the grid table (experiment:grids) on the demo's budget, in a run directory under
 * --out, with its report. A people-only flag is refused, naming it. `--resume DIR` reruns the same options (finished
 * parts are kept).
 */
async function demoGrids(o: z.output<typeof schema>): Promise<void> {
  if (o.queue !== undefined) throw new UsageError('--queue is not available with --domain grids');
  let opts: GridTableOptions;
  if (o.resume !== undefined) {
    opts = readRunConfig(z.looseObject({ options: GridTableOptionsSchema }), o.resume).config.options;
    opts = { ...opts, workers: demoWorkers(o.workers, undefined) };
  } else {
    const mapped: Record<string, unknown> = {};
    for (const k of Object.keys(DemoConfigSchema.shape) as (keyof DemoConfig)[]) {
      const v = (o as Record<string, unknown>)[k];
      if (v === undefined) continue;
      const to = (GRID_DEMO_FLAGS as Partial<Record<keyof DemoConfig, keyof GridTableOptions>>)[k];
      if (to === undefined)
        throw new UsageError(
          `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is a people-demo option (not for --domain grids)`,
        );
      mapped[to] = v;
    }
    const modelDir = resolveGridModelDir(o.model);
    checkOutputRoot(o.out);
    opts = GridTableOptionsSchema.parse({
      ...(o.quick ? GRID_DEMO_QUICK : GRID_DEMO),
      ...mapped,
      model: modelDir,
      out: join(o.out, runName('grids', 'demo', 0)),
      workers: demoWorkers(o.workers, undefined),
      split: 'test',
    });
  }
  await initEngine(o.backend);
  log(`grid demo: ${opts.out}`);
  await runGridTable(opts);
  process.stdout.write(readFileSync(join(opts.out, 'table', 'table.txt'), 'utf8'));
  log(`done — ${join(opts.out, 'table', 'grids.json')}, ${join(opts.out, 'report.html')}`);
}

/**
 * The main job (`npm start`): on the people world with the bundled model, the baselines, the SEAL outer loop, the
 * results table with CIs, the continued-pretraining setting and the forgetting matrix, written to a run directory
 * with its report.
 */
export const demoCommand: Command<typeof schema> = {
  name: 'demo',
  summary:
    'The main job: SEAL on the built-in people world (no downloads): baselines, outer loop, table, report.',
  schema,
  examples: [
    'seal demo',
    'seal demo --quick',
    'seal demo --outer grpo --rounds 3 --eval-contexts 8',
    'seal demo --resume runs/people-demo-0-20261125T180000Z',
    'seal demo --domain grids',
  ],
  async run(o) {
    if (o.domain === 'grids') return demoGrids(o);
    const workers = demoWorkers(o.workers, o.queue);
    prepareQueue(workers, o.queue);
    const e = await initEngine(o.backend);
    log(`engine: tfjs ${e.tfjsVersion} on ${e.backend}${e.native.available ? ' + native' : ''}`);
    if (e.backend === 'wasm' && !e.native.available && o.quick !== true)
      log(
        `native kernels are off (${e.native.detail}): the demo runs on wasm, several times slower than the ~10 minutes of the native build on 2 cores (measured 2026-11-29: 80 minutes on wasm, when it still trained delta mode and ran in one thread); \`npm run build:native\` needs only a C++ compiler (Debian: apt install g++)`,
      );
    let cfg: DemoConfig;
    let modelDir: string;
    if (o.resume !== undefined) {
      const c = readRunConfig(z.strictObject({ demo: DemoConfigSchema, model: z.string() }), o.resume).config;
      cfg = c.demo;
      modelDir = c.model;
    } else {
      modelDir = resolveModelDir(o.model);
      if (!existsSync(join(modelDir, 'seal_world.json')))
        throw new UsageError(
          `--model ${o.model}: not a people-world model (no seal_world.json); make one with \`seal pretrain\``,
        );
      const given = Object.fromEntries(
        Object.keys(DemoConfigSchema.shape)
          .map((k) => [k, (o as Record<string, unknown>)[k]])
          .filter(([, v]) => v !== undefined),
      );
      cfg = DemoConfigSchema.parse({ ...(o.quick ? QUICK_DEMO : {}), ...given });
      checkOutputRoot(o.out);
    }
    // Inputs first, the run directory last: a model that fails to load leaves nothing behind.
    const loaded = await loadPeopleProblem(modelDir, 8, cfg.prompt, cfg.rlPeople);
    loraTargets(
      loaded.problem.env.model.config,
      { r: cfg.innerRank, targetModules: INNER_DEFAULTS.lora.targetModules },
      '--inner-rank',
    );
    // Inner loops on worker threads (same results: every job's seed comes from its identity, not its worker).
    const pool = await innerExecutor(modelDir, loaded.problem.env, workers, o.queue, o.queueWait);
    const pp = pool === undefined ? loaded : { ...loaded, problem: { ...loaded.problem, executor: pool } };
    const run =
      o.resume !== undefined
        ? new RunDir(o.resume)
        : RunDir.create(o.out, runName('people', 'demo', cfg.seed), { demo: cfg, model: modelDir });
    // Ctrl-C: everything finished is on disk (JSONL lines, round checkpoints); say how to carry on, then stop.
    const onSigint = () => {
      log(`\ninterrupted — finish this run with: seal demo --resume ${run.dir}`);
      process.exit(130);
    };
    process.on('SIGINT', onSigint);
    log(`run directory: ${run.dir}`);
    let summary: DemoSummary;
    try {
      summary = await runDemo(pp, o.resume === undefined ? o.model : modelDir, cfg, run, {
        log,
        resume: o.resume !== undefined,
      });
    } catch (e) {
      throw withResumeHint(e, `seal demo --resume ${run.dir} --queue URL`);
    } finally {
      await pool?.close();
    }
    process.off('SIGINT', onSigint);
    const pairs = (title: string, p: DemoSummary['paired']) =>
      Object.keys(p).length > 0 ? `\npaired over people (${title}):\n${formatPaired(p)}\n` : '';
    process.stdout.write(
      `${formatTable(summary.results)}\n${pairs('seen wordings', summary.paired)}${pairs('held-out wordings', summary.pairedHeldOut)}`,
    );
    writeFileSync(join(run.dir, 'report.html'), buildReport(run.dir));
    log(
      `done in ${summary.elapsed_s.toFixed(0)} s — ${join(run.dir, 'summary.json')}, ${join(run.dir, 'report.html')}`,
    );
  },
};
