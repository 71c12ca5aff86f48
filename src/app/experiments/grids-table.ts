/**
 * The results table of the grid domain (issue #16): SEAL's recipes against in-context learning, the base model's
 * recipes, the best fixed recipe (chosen on val) and the oracle recipe per task, on held-out-family tasks, over
 * several independent RL runs.
 *
 *   npm run experiment:grids -- --model DIR --out DIR [--runs 3] [--tasks 40] [--seeds 3] [--rounds 3]
 *     [--split test|val] [--val-tasks 32] [--rl-contexts 16] [--samples 8] [--space N] [--workers 2]
 *     [--outer rest-em|grpo] [--keep solved|beats-in-context] [--keep-per-task 8]   (--help lists every option)
 *
 * Layout of DIR:
 *   fixed/      the sweep of the recipe space on val tasks (seed 0) and the best fixed recipe it chose
 *   run-R/      RL run R (outer-loop seed R): ReST-EM (or GRPO) rounds on the rl split with the per-round monitor on val
 *               tasks, round checkpoints; the policy evaluated is the round with the best val monitor
 *   table/      one JSONL of rows per condition (condition, seed, task, score, recipe), grids.json and table.txt
 *
 * Every choice reads val tasks only: the best fixed recipe, each run's round. `--split test` is the final
 * evaluation; `--split val` measures the table on val tasks (to choose settings; the fixed recipe is then
 * in-sample). Evaluation seeds are 0 … seeds−1 for every condition, so differences are paired over tasks and seeds.
 * Resumable: rerun the same command (finished sweeps, rounds and conditions are kept).
 */
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { initEngine } from '../../engine/index.js';
import { SealError } from '../../errors.js';
import { RECIPE_MAX_TOKENS, readGridRecipeSpace } from '../../seal/domains/grids-model.js';
import { GRID_WORLD_TASK_SPEC, loadGridProblem } from '../../seal/domains/grids-problem.js';
import {
  bestFixedIndex,
  evaluateGridConditions,
  type GridCondition,
  type GridConditionResult,
  type GridEvalSettings,
  type GridTable,
  gridTable,
  isSealRun,
  readGridRows,
  summariseGridRows,
  sweepRecipes,
} from '../../seal/eval/grids.js';
import { type InnerLoopConfig, InnerLoopConfigSchema } from '../../seal/inner/inner-loop.js';
import { loadLastRound, loadRoundPolicy, saveRoundCheckpoint } from '../../seal/outer/checkpoint.js';
import { type OuterConfig, OuterConfigSchema, runOuterLoop } from '../../seal/outer/outer.js';
import type { RestEmConfig } from '../../seal/outer/rest-em.js';
import type { SealProblem } from '../../seal/outer/rollout.js';
import { formatRecipe, namedRecipeSpace, recipeSpaceSizes, recipeSubset } from '../../tasks/grids/recipe.js';
import { gridContext } from '../../tasks/grids/task.js';
import { readJsonFile } from '../../util/json.js';
import { packageVersion } from '../../version.js';
import { innerPool } from '../cli/commands/common.js';
import { resolveGridModelDir } from '../cli/commands/grids-common.js';
import { readRunConfig } from '../config.js';
import { buildGridReport, type DrawnTask } from '../report/grids.js';
import { experimentMain, flagOf, openRunDir, schemaArgs, schemaUsage, usageError } from './args.js';

const count = (dflt: number, what: string, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(1).max(max).default(dflt).describe(what);

export const GridTableOptionsSchema = z.strictObject({
  model: z.string().default('default').describe('Grid model directory ("default" = the bundled grid model)'),
  out: z.string().describe('Output directory (resumable)'),
  runs: count(3, 'Independent RL runs (outer-loop seeds 0 … runs−1)'),
  tasks: count(40, 'Tasks of the table (the first N of the split)'),
  seeds: count(3, 'Evaluation seeds per (condition, task)'),
  rounds: count(3, 'Outer-loop rounds per run (ReST-EM or GRPO)'),
  split: z
    .enum(['test', 'val'])
    .default('test')
    .describe('Tasks of the table: test (final) or val (choices)'),
  valTasks: count(32, 'Val tasks: the monitor, the round choice and the best-fixed-recipe sweep'),
  rlContexts: count(16, 'RL tasks per round'),
  samples: count(8, 'Recipes sampled per RL task', 64),
  space: z.coerce
    .number()
    .int()
    .min(1)
    .optional()
    .describe(
      `Recipes swept for the oracle and the best fixed recipe: the whole recipe space the model was pretrained to write (its manifest's recipeSpace: ${recipeSpaceSizes()}) when omitted, or N of them drawn by a fixed seed (recipeSubset: a small budget still spans augmentations, rates and epochs)`,
    ),
  rank: count(16, 'Test-time LoRA rank (alpha = 2 × rank)'),
  sftLr: z.coerce
    .number()
    .positive()
    .default(1e-4)
    .describe(
      "ReST-EM only: the SFT learning rate for the recipe writer (the people domain's 1e-3 made 67% of the 0.8M-parameter grid model's recipes malformed after 4 steps on one kept recipe, 1e-4 12%, the base 9%: session 13, val tasks)",
    ),
  outer: z
    .enum(['rest-em', 'grpo'])
    .default('rest-em')
    .describe(
      "The outer loop over recipes: ReST-EM (SEAL's) or GRPO (a clipped policy gradient, same rollouts)",
    ),
  grpoLr: z.coerce
    .number()
    .positive()
    .default(1e-4)
    .describe(
      "GRPO only: the Adam learning rate for the recipe writer (as --sft-lr: the people domain's rates break this small model's recipes)",
    ),
  keep: z
    .enum(['solved', 'beats-in-context'])
    .default('solved')
    .describe(
      "ReST-EM only: the keep rule — every sampled recipe that solved its RL task (SEAL's ARC rule), or only those that solved a task in-context learning does not (session 13's val table kept 0 then 1 recipe with it)",
    ),
  keepPerTask: count(
    8,
    "ReST-EM only: recipes kept per RL task at most (the best first; all of a task's solving recipes if ≥ --samples)",
    64,
  ),
  workers: count(1, 'Inner-loop worker threads'),
  temperature: z.coerce
    .number()
    .positive()
    .default(1)
    .describe(
      'Recipe sampling temperature of the RL rollouts and of the per-round val monitor that picks the evaluated round (and of the evaluation unless --eval-temperature)',
    ),
  evalTemperature: z.coerce
    .number()
    .min(0)
    .optional()
    .describe(
      "Sampling temperature of every recipe the table evaluates, the base model's and SEAL's alike (0 = greedy; default: --temperature); the monitor that picks SEAL's round samples at --temperature",
    ),
});
export type GridTableOptions = z.output<typeof GridTableOptionsSchema>;

/** Options that only one outer loop reads (their `.describe()` says "ReST-EM only" / "GRPO only"). */
const LOOP_ONLY: Record<GridTableOptions['outer'], readonly (keyof GridTableOptions)[]> = {
  'rest-em': ['sftLr', 'keep', 'keepPerTask'],
  grpo: ['grpoLr'],
};

/** The options among `given` (the ones a user set) that the chosen outer loop would silently ignore. */
export function otherLoopOptions(given: readonly string[], outer: GridTableOptions['outer']): string[] {
  const mine = new Set<string>(LOOP_ONLY[outer]);
  const loopOnly = new Set<string>(Object.values(LOOP_ONLY).flat());
  return given.filter((k) => loopOnly.has(k) && !mine.has(k));
}

/**
 * `seal demo --domain grids`: the table on a budget that fits the demo's 15 minutes on 2 cores (16 test tasks, one
 * seed, one RL run of 2 rounds, an 8-recipe space), and `--quick`'s plumbing budget.
 */
export const GRID_DEMO: Omit<GridTableOptions, 'model' | 'out' | 'workers'> = {
  ...GridTableOptionsSchema.parse({ out: '' }),
  runs: 1,
  tasks: 16,
  seeds: 1,
  rounds: 2,
  valTasks: 16,
  rlContexts: 8,
  samples: 4,
  space: 8,
};
export const GRID_DEMO_QUICK: Omit<GridTableOptions, 'model' | 'out' | 'workers'> = {
  ...GRID_DEMO,
  tasks: 2,
  rounds: 1,
  valTasks: 2,
  rlContexts: 2,
  samples: 2,
  space: 2,
  rank: 4,
};

const USAGE = `The grid domain's results table over several RL runs (issue #16).
  npm run experiment:grids -- --model DIR --out DIR [options]`;

/** ReST-EM's keep settings for a `--keep` rule (rewards on grids are 0/1: the test output solved or not). */
export function keepRule(
  keep: GridTableOptions['keep'],
): Pick<RestEmConfig, 'onlyPositiveGain'> & { minReward?: number } {
  switch (keep) {
    case 'solved':
      return { onlyPositiveGain: false, minReward: 0 };
    case 'beats-in-context':
      return { onlyPositiveGain: true };
    default: {
      const never: never = keep;
      throw new Error(`unknown keep rule ${String(never)}`);
    }
  }
}

/** The outer loop of RL run `seed` from the table's options (rollouts the same for both kinds). */
export function gridOuterConfig(
  o: GridTableOptions,
  run: { readonly seed: number; readonly heldOutContexts: number; readonly inner: InnerLoopConfig },
): OuterConfig {
  const rollouts = {
    rounds: o.rounds,
    contextsPerRound: o.rlContexts,
    samplesPerContext: o.samples,
    temperature: o.temperature,
    maxNewTokens: RECIPE_MAX_TOKENS,
    heldOutContexts: run.heldOutContexts,
    inner: run.inner,
    seed: run.seed,
  };
  switch (o.outer) {
    case 'rest-em':
      return OuterConfigSchema.parse({
        kind: 'rest-em',
        ...rollouts,
        sftLr: o.sftLr,
        ...keepRule(o.keep),
        keepPerContext: o.keepPerTask,
      });
    case 'grpo':
      return OuterConfigSchema.parse({ kind: 'grpo', ...rollouts, lr: o.grpoLr });
    default: {
      const never: never = o.outer;
      throw new Error(`unknown outer loop ${String(never)}`);
    }
  }
}

/**
 * Whether a saved table's options and these describe the same table, so that it may be resumed: equal but for
 * `workers` (results do not depend on it), with `space` omitted read as the whole space of `fullSpace` recipes
 * (tables written before it was optional hold that size: the same thing).
 */
export function sameTable(saved: GridTableOptions, o: GridTableOptions, fullSpace: number): boolean {
  const resolved = (x: GridTableOptions) => ({ ...x, workers: 0, space: x.space ?? fullSpace });
  return isDeepStrictEqual(resolved(saved), resolved(o));
}

/** Tasks the report draws (their grids are kept in table/tasks.json). */
const DRAWN_TASKS = 6;

/** The val sweep as `fixed/sweep.json` keeps it (validated when read back). */
const SweepSchema = z.strictObject({
  recipes: z.array(z.string()),
  tasks: z.array(z.string()),
  scores: z.array(z.array(z.number())),
  best: z.number().int().min(0),
});

const pct = (x: number) => (100 * x).toFixed(1);
const fmt = (m: { mean: number; ci95: readonly [number, number] }) =>
  `${pct(m.mean)} [${pct(m.ci95[0])}, ${pct(m.ci95[1])}]`;

/** The table as `table.txt` and `npm run results` print it; `what` names the tasks and seeds. */
export function gridTableText(t: GridTable, what: string): string {
  const runs = Object.keys(t.results).filter(isSealRun).length;
  const lines = [
    `grid table: ${what} (mean % [95% CI over tasks])`,
    ...Object.entries(t.results).map(([k, v]) => `  ${k.padEnd(16)} ${fmt(v)}  rejected ${pct(v.rejected)}%`),
    'paired (SEAL − other, points):',
    ...Object.values(t.paired).flatMap((ps) =>
      Object.entries(ps).map(([k, v]) => `  ${k.padEnd(32)} ${fmt(v)}`),
    ),
    ...(runs < 2
      ? []
      : [`SEAL across ${runs} RL runs (95% t interval over runs): ${fmt(t.acrossRuns.seal)}`]),
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * The table into `o.out` (the engine must be initialised). A directory holding another set of options is refused
 * (workers aside): its results are never mixed with or overwritten by a different run.
 */
export async function runGridTable(o: GridTableOptions): Promise<void> {
  const t0 = performance.now();
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const modelDir = resolveGridModelDir(o.model);
  const { problem: gp, world } = await loadGridProblem(modelDir, o.valTasks);
  const tasks = world.splits[o.split].slice(0, o.tasks);
  const taskIds = tasks.map((t) => t.id);
  const contexts = tasks.map(gridContext);
  const inner = InnerLoopConfigSchema.parse({
    seqLen: gp.env.model.config.maxSeqLen,
    lora: { r: o.rank, alpha: 2 * o.rank },
    batchSize: 16,
  });
  const settings: GridEvalSettings = {
    seeds: Array.from({ length: o.seeds }, (_, i) => i),
    inner,
    temperature: o.evalTemperature ?? o.temperature,
    topP: 0.95,
    maxNewTokens: RECIPE_MAX_TOKENS,
  };
  const fullSpace = namedRecipeSpace(readGridRecipeSpace(modelDir));
  const space = recipeSubset(o.space ?? fullSpace.length, fullSpace);
  // The outer loop's settings are checked before anything is written or computed.
  gridOuterConfig(o, { seed: 0, heldOutContexts: gp.heldOut.length, inner });
  const configFile = join(o.out, 'config.json');
  if (existsSync(configFile)) {
    const saved = readRunConfig(z.looseObject({ options: GridTableOptionsSchema }), o.out).config.options;
    if (!sameTable(saved, o, fullSpace.length))
      throw new SealError(
        `holds a grid table with other options (${JSON.stringify(saved)}): use another --out, or the same options to resume`,
        o.out,
      );
  } else {
    mkdirSync(o.out, { recursive: true });
    writeFileSync(
      configFile,
      `${JSON.stringify({ version: packageVersion(), config: { options: o, settings } }, null, 2)}\n`,
    );
  }
  const pool = await innerPool(modelDir, gp.env, o.workers, GRID_WORLD_TASK_SPEC);
  const problem: SealProblem = { ...gp, ...(pool === undefined ? {} : { executor: pool }) };
  try {
    // 1. The best fixed recipe: the space swept on val tasks (seed 0), never on the table's tasks.
    const sweepFile = join(o.out, 'fixed', 'sweep.json');
    let sweep: z.infer<typeof SweepSchema>;
    if (existsSync(sweepFile)) {
      sweep = readJsonFile(SweepSchema, sweepFile);
      // Its recipes must be this space's, in order: the best fixed recipe and the oracle are read by index.
      if (!isDeepStrictEqual(sweep.recipes, space.map(formatRecipe)))
        throw new SealError('holds a sweep of another recipe space: use another --out', sweepFile);
    } else {
      log(`best fixed recipe: ${space.length} recipes × ${gp.heldOut.length} val tasks…`);
      const scores = await sweepRecipes(problem, gp.heldOut, space, inner, 0, { label: 'val sweep' });
      sweep = {
        recipes: space.map(formatRecipe),
        tasks: gp.heldOut.map((c) => c.id),
        scores,
        best: bestFixedIndex(scores),
      };
      mkdirSync(join(o.out, 'fixed'), { recursive: true });
      writeFileSync(sweepFile, `${JSON.stringify(sweep)}\n`);
    }
    const fixed = space[sweep.best]!;
    log(`best fixed recipe on val: ${formatRecipe(fixed).trim().replaceAll('\n', '; ')}`);

    // 2. The conditions that involve no RL, once.
    const tableDir = join(o.out, 'table');
    mkdirSync(tableDir, { recursive: true });
    const results: Record<string, GridConditionResult> = {};
    const evaluate = async (cond: GridCondition) => {
      const file = join(tableDir, `${cond.name}.jsonl`);
      let rows = readGridRows(file);
      // A condition counts as done only with every (seed, task) row; a partial file (a crash) is redone.
      const expected = contexts.length * (cond.kind === 'icl' ? 1 : settings.seeds.length);
      if (rows.length !== expected) {
        writeFileSync(file, '');
        rows = [];
      }
      if (rows.length === 0)
        await evaluateGridConditions(problem, [cond], contexts, settings, {
          onRows: (rs) => {
            for (const r of rs) appendFileSync(file, `${JSON.stringify(r)}\n`);
            rows.push(...rs);
          },
        });
      results[cond.name] = summariseGridRows(rows, taskIds);
      log(`${cond.name}: ${fmt(results[cond.name]!)}`);
    };
    await evaluate({ kind: 'icl', name: 'in_context' });
    await evaluate({ kind: 'recipes', name: 'base_recipes', policy: undefined });
    await evaluate({ kind: 'fixed', name: 'best_fixed', recipe: fixed });
    // 3. RL runs: ReST-EM over recipes, the round chosen by the val monitor, then SEAL on the table's tasks.
    const runs: { run: number; selectedRound: number; rounds: unknown[]; seal: string }[] = [];
    for (let r = 0; r < o.runs; r++) {
      const outer = gridOuterConfig(o, { seed: r, heldOutContexts: gp.heldOut.length, inner });
      const runDir = join(o.out, `run-${r}`);
      // A run resumed under another outer loop would mix two trainings in one policy (e.g. a table written before
      // --keep existed, whose options now parse to the new defaults): refused, naming the run.
      if (existsSync(join(runDir, 'config.json'))) {
        const saved = readRunConfig(z.looseObject({ outer: z.unknown() }), runDir).config.outer;
        if (!isDeepStrictEqual(saved, outer))
          throw new SealError(
            `holds an RL run with another outer loop (${JSON.stringify(saved)}; these options give ${JSON.stringify(outer)}): use another --out`,
            runDir,
          );
      }
      const run = openRunDir(runDir, { version: packageVersion(), options: o, outer });
      log(`RL run ${r + 1}/${o.runs}: ${o.rounds} rounds × ${o.rlContexts} tasks × ${o.samples} recipes…`);
      const resume = await loadLastRound(run, problem.env.model);
      const { policy, rounds } = await runOuterLoop(problem, outer, run, {
        ...(resume === undefined ? {} : { resume }),
        onRound: (round, p, rs) => saveRoundCheckpoint(run, problem.env.model, round, p, rs, outer),
      });
      const monitorMean = (m: readonly number[]) => m.reduce((a, b) => a + b, 0) / Math.max(1, m.length);
      const selectedRound = rounds.reduce((best, x) =>
        monitorMean(x.monitor) > monitorMean(best.monitor) ? x : best,
      ).round;
      const chosen =
        selectedRound === rounds.length
          ? policy
          : await loadRoundPolicy(run, selectedRound, problem.env.model);
      const name = `seal_run${r}`;
      await evaluate({ kind: 'recipes', name, policy: chosen });
      if (chosen !== policy) chosen.dispose();
      policy.dispose();
      runs.push({ run: r, selectedRound, rounds, seal: name });
    }

    // 4. The oracle last: it costs tasks × seeds × recipes inner loops (most of the table's time), and a budgeted,
    // resumed run then has the goal's comparisons (base recipes, best fixed, SEAL) first.
    // On val tasks the oracle's seed-0 sweep is the val sweep itself (same tasks in the same order, same inner seeds).
    const sweepCovers = taskIds.every((id, i) => sweep.tasks[i] === id);
    await evaluate({
      kind: 'oracle',
      name: 'oracle',
      space,
      known: (seed) =>
        seed === 0 && sweepCovers ? sweep.scores.map((row) => row.slice(0, taskIds.length)) : undefined,
    });

    // 5. The table: per condition, and SEAL's paired differences per run (from the rows, as `npm run results`).
    const table = gridTable(
      Object.fromEntries(Object.keys(results).map((k) => [k, readGridRows(join(tableDir, `${k}.jsonl`))])),
      taskIds,
    );
    const summary = {
      version: packageVersion(),
      split: o.split,
      tasks: tasks.length,
      families: Object.fromEntries(tasks.map((t) => [t.id, t.family])),
      bestFixed: formatRecipe(fixed),
      results: Object.fromEntries(
        Object.entries(table.results).map(([k, v]) => [
          k,
          { mean: v.mean, ci95: v.ci95, n: v.n, seeds: v.seeds, rejected: v.rejected },
        ]),
      ),
      runs: runs.map((x) => ({ run: x.run, selectedRound: x.selectedRound, rounds: x.rounds })),
      paired: table.paired,
      acrossRuns: table.acrossRuns,
      elapsed_s: (performance.now() - t0) / 1000,
    };
    writeFileSync(join(tableDir, 'grids.json'), `${JSON.stringify(summary, null, 2)}\n`);
    const text = gridTableText(table, `${tasks.length} ${o.split} tasks × ${o.seeds} seeds`);
    writeFileSync(join(tableDir, 'table.txt'), text);
    const drawn: DrawnTask[] = tasks.slice(0, DRAWN_TASKS).map((t) => ({
      id: t.id,
      family: t.family,
      rule: t.rule,
      train: t.train,
      test: t.test[0],
    }));
    writeFileSync(join(tableDir, 'tasks.json'), `${JSON.stringify(drawn)}\n`);
    writeFileSync(join(o.out, 'report.html'), buildGridReport(o.out));
    log(text);
  } finally {
    await pool?.close();
  }
}

const invokedAs = process.argv[1] === undefined ? '' : resolve(process.argv[1]);
if (invokedAs === fileURLToPath(import.meta.url)) {
  const { options, given } = schemaArgs(process.argv.slice(2), GridTableOptionsSchema, USAGE);
  const ignored = otherLoopOptions(given, options.outer);
  if (ignored.length > 0)
    usageError(
      `${ignored.map(flagOf).join(', ')}: not read by --outer ${options.outer}`,
      schemaUsage(USAGE, GridTableOptionsSchema),
    );
  await initEngine('auto');
  await experimentMain(() => runGridTable(options));
}
