/**
 * The headline experiment of issue #15: SEAL on the people world against the baselines a reviewer asks for, on
 * test people, over several independent RL runs.
 *
 *   npm run experiment:headline -- --out DIR [--runs 3] [--people 40] [--seeds 3] [--rounds 2] [--workers 2]
 *     [--outer rest-em|grpo] [--score reward|length-neutral] [--select last|val] [--split test|val]
 *     [--sft-epochs N] [--keep N] [--length-weight W]
 *
 * Settings are chosen with `--split val` (the table on validation people; the monitor reads them too), and the
 * chosen setting is then run once with the default `--split test`.
 *
 * Layout of DIR (every directory holds its config.json and per-context rows in results.jsonl):
 *   baselines/   base, passage, base self-edits, static augmentation, rule-based QA — once (no RL involved)
 *   run-R/       RL run R (outer-loop seed R): rounds with the per-round monitor on validation people, round
 *                checkpoints, then SEAL (the last round's policy) and the length-matched base self-edits on test
 *   headline.json, table.txt   per-run tables and paired differences, and the between-run summary
 *
 * Every setting is fixed before the run; `--select val` picks each run's round by its validation monitor (the mean
 * of the per-person values over seen and held-out wordings), never by test. Evaluation seeds are the same for every condition (0 … seeds−1), so the differences are paired over people
 * and seeds. Resumable at the granularity of finished conditions and finished runs: rerun the same command.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { initEngine } from '../../engine/index.js';
import { SealError } from '../../errors.js';
import { loadPeopleProblem, type PeopleProblem } from '../../seal/domains/people.js';
import {
  type Condition,
  type ConditionResult,
  type EvalSettings,
  evaluateConditions,
  formatPaired,
  formatTable,
} from '../../seal/eval/evaluate.js';
import { meanCi } from '../../seal/eval/stats.js';
import type { InnerExecutor } from '../../seal/inner/executor.js';
import { innerLoopConfig } from '../../seal/inner/inner-loop.js';
import { loadLastRound, loadRoundPolicy, saveRoundCheckpoint } from '../../seal/outer/checkpoint.js';
import { OuterConfigSchema, runOuterLoop } from '../../seal/outer/outer.js';
import type { SealProblem } from '../../seal/outer/rollout.js';
import { ParseOptionsSchema } from '../../seal/selfedit/parse.js';
import type { Context } from '../../tasks/types.js';
import type { RunDir } from '../../util/run-dir.js';
import { innerPool } from '../cli/commands/common.js';
import { readRunConfig, resolveModelDir } from '../config.js';
import { baselineConditions, type Interval, interval, sealPairs } from '../demo.js';
import { experimentMain, flagOf, openRunDir, schemaArgs, schemaUsage, usageError } from './args.js';

const USAGE = `SEAL's headline table on test people over several RL runs (issue #15).
  npm run experiment:headline -- --out DIR [options]`;

const count = (dflt: number, what: string) => z.coerce.number().int().min(1).default(dflt).describe(what);
/** A number flag: an empty value is refused (coercion would read it as 0). */
const num = (schema: z.ZodNumber) =>
  z.preprocess(
    (v) => (typeof v === 'string' && v.trim() === '' ? Number.NaN : v),
    z.coerce.number().pipe(schema),
  );

export const HeadlineOptionsSchema = z.strictObject({
  out: z.string().describe('Output directory (resumable: rerun the same command)'),
  model: z.string().default('default').describe('People model directory ("default" = the bundled model)'),
  runs: count(3, 'Independent RL runs (outer-loop seeds 0 … runs−1)'),
  people: count(40, 'People of the table (the first N of the split)'),
  seeds: count(3, 'Evaluation seeds per (condition, person)'),
  rounds: count(2, 'Outer-loop rounds per run'),
  rlContexts: count(16, 'RL contexts (rl-split people) per round'),
  samples: count(4, 'Self-edits sampled per RL context'),
  valPeople: count(24, 'Validation people: the per-round monitor that --select val reads'),
  workers: count(1, 'Inner-loop worker threads (results do not depend on it)'),
  select: z
    .enum(['last', 'val'])
    .default('last')
    .describe("The policy tested: the last round's, or the round with the best validation monitor"),
  outer: z.enum(['rest-em', 'grpo']).default('rest-em').describe("The outer loop (SEAL's: rest-em)"),
  score: z
    .enum(['reward', 'length-neutral'])
    .default('reward')
    .describe("What ranks a context's self-edits (see RolloutConfig.score)"),
  lengthWeight: num(z.number().min(0).max(1))
    .optional()
    .describe(
      "--score length-neutral only: the fraction of the round's length slope subtracted, 0 … 1 (all of it when omitted; RolloutConfig.lengthWeight)",
    ),
  split: z
    .enum(['test', 'val'])
    .default('test')
    .describe(
      'The people the table is measured on: test (the final evaluation, once) or val (to choose settings; the monitor reads val people too)',
    ),
  sftEpochs: num(z.number().int().min(1))
    .optional()
    .describe("ReST-EM only: SFT passes over each round's kept self-edits (ReST-EM's default when omitted)"),
  keep: num(z.number().int().min(1))
    .optional()
    .describe(
      "ReST-EM only: SFT on each context's N best self-edits, each beating no adaptation (ReST-EM's default when omitted)",
    ),
  temperature: num(z.number().positive())
    .default(1)
    .describe(
      "Sampling temperature of every evaluated self-edit, SEAL's and the baselines' alike (RL rollouts keep the outer loop's own)",
    ),
});
export type HeadlineOptions = z.output<typeof HeadlineOptionsSchema>;

/**
 * The options among `given` (those the user set) that these options would silently ignore: the length weight
 * without the length-neutral score, ReST-EM's settings under GRPO. Each with the reason.
 */
export function ignoredHeadlineOptions(given: readonly string[], o: HeadlineOptions): string[] {
  const out: string[] = [];
  if (given.includes('lengthWeight') && o.score !== 'length-neutral')
    out.push('--length-weight: --score length-neutral only');
  for (const k of ['sftEpochs', 'keep'] as const)
    if (given.includes(k) && o.outer !== 'rest-em') out.push(`${flagOf(k)}: ReST-EM only`);
  return out;
}

/**
 * The first field whose saved value differs from this invocation's in what a directory's results depend on, or
 * undefined: a resumed run must not mix results of two settings (`out` and `workers` do not matter).
 */
export function resumeMismatch(
  saved: Record<string, unknown>,
  now: Record<string, unknown>,
): string | undefined {
  return Object.keys(now).find((k) => !isDeepStrictEqual(saved[k], now[k]));
}

/** Conditions of a run directory already evaluated (their `condition` records), for resuming. */
function finished(run: RunDir): Map<string, ConditionResult> {
  const out = new Map<string, ConditionResult>();
  for (const r of run.records())
    if (r['kind'] === 'condition') out.set(r['name'] as string, r['result'] as ConditionResult);
  return out;
}

/** Evaluates the conditions not yet in `run`; returns all of them. */
async function evaluateInto(
  run: RunDir,
  problem: SealProblem,
  contexts: readonly Context[],
  conditions: readonly Condition[],
  settings: EvalSettings,
): Promise<Record<string, ConditionResult>> {
  const done = finished(run);
  const out: Record<string, ConditionResult> = {};
  for (const cond of conditions) {
    let r = done.get(cond.name);
    if (r === undefined) {
      r = (await evaluateConditions(problem, contexts, [cond], settings, run))[cond.name]!;
      run.append({ kind: 'condition', name: cond.name, result: r });
    }
    out[cond.name] = r;
  }
  return out;
}

export interface HeadlineRun {
  readonly run: number;
  readonly selectedRound: number;
  readonly rounds: unknown[];
  readonly results: Record<string, Interval & { heldOut?: Interval }>;
  readonly paired: Record<string, Interval>;
  readonly pairedHeldOut: Record<string, Interval>;
}

/** Across runs: the mean of the per-run values with a t interval over runs (between-run variance included). */
export function acrossRuns(values: readonly number[]): Interval {
  const m = meanCi(values);
  return { mean: m.mean, ci95: [m.ci95[0], m.ci95[1]], n: m.n };
}

/**
 * Opens `dir` for this invocation: created with `config` saved, or reopened when its saved config agrees on every
 * key of `depends` (what its results depend on); otherwise refused, naming the directory and the field.
 */
function openChecked(dir: string, config: Record<string, unknown>, depends: Record<string, unknown>): RunDir {
  if (existsSync(join(dir, 'config.json'))) {
    const saved = readRunConfig(z.looseObject({ headline: z.looseObject({}) }), dir).config;
    const flat = { ...saved.headline, ...saved };
    const field = resumeMismatch(flat, depends);
    if (field !== undefined)
      throw new SealError(
        `holds results of another setting (${field}: ${JSON.stringify(flat[field])} there, ${JSON.stringify(depends[field])} now): use another --out, or the same options to resume`,
        dir,
      );
  }
  return openRunDir(dir, config);
}

export async function runHeadline(o: HeadlineOptions): Promise<void> {
  await initEngine('auto');
  const modelDir = resolveModelDir(o.model);
  const pp: PeopleProblem = await loadPeopleProblem(modelDir, 0, 'self-qa', 400);
  const test = (pp.task.splits[o.split === 'test' ? 'eval' : 'val'] ?? []).slice(0, o.people);
  const val = (pp.task.splits['val'] ?? []).slice(0, o.valPeople);
  const pool: InnerExecutor | undefined = await innerPool(modelDir, pp.problem.env, o.workers);
  const problem: SealProblem = {
    ...pp.problem,
    heldOut: val,
    ...(pool === undefined ? {} : { executor: pool }),
  };
  const settings: EvalSettings = {
    seeds: Array.from({ length: o.seeds }, (_, i) => i),
    inner: innerLoopConfig({ epochs: 20, lr: 1e-3, rank: 16 }),
    parse: ParseOptionsSchema.parse({}),
    temperature: o.temperature,
    topP: 0.95,
    maxNewTokens: 160,
  };
  const log = (m: string) => process.stderr.write(`${m}\n`);
  try {
    log(`baselines on ${test.length} ${o.split} people × ${o.seeds} seeds…`);
    // What every directory's results depend on (the options not in `settings` or `outer`).
    const table = { model: o.model, split: o.split, people: o.people, settings };
    const baseRun = openChecked(join(o.out, 'baselines'), { headline: o, settings }, table);
    const baselines = await evaluateInto(baseRun, problem, test, baselineConditions(pp), settings);
    const runs: HeadlineRun[] = [];
    for (let r = 0; r < o.runs; r++) {
      const dir = join(o.out, `run-${r}`);
      const outer = OuterConfigSchema.parse({
        kind: o.outer,
        rounds: o.rounds,
        contextsPerRound: o.rlContexts,
        samplesPerContext: o.samples,
        heldOutContexts: val.length,
        inner: settings.inner,
        parse: settings.parse,
        seed: r,
        score: o.score,
        ...(o.sftEpochs === undefined ? {} : { sftEpochs: o.sftEpochs }),
        ...(o.keep === undefined ? {} : { keepPerContext: o.keep }),
        ...(o.lengthWeight === undefined ? {} : { lengthWeight: o.lengthWeight }),
      });
      const run = openChecked(dir, { headline: o, outer, settings }, { ...table, select: o.select, outer });
      log(
        `RL run ${r + 1}/${o.runs} (${o.outer}, score ${o.score}): ${o.rounds} rounds × ${o.rlContexts} contexts × ${o.samples} self-edits…`,
      );
      const resume = await loadLastRound(run, problem.env.model);
      const { policy, rounds } = await runOuterLoop(problem, outer, run, {
        ...(resume === undefined ? {} : { resume }),
        onRound: (round, p, rs) => saveRoundCheckpoint(run, problem.env.model, round, p, rs, outer),
      });
      // The policy to test: chosen on validation people only (never on test).
      const monitorMean = (m: readonly number[]) => m.reduce((a, b) => a + b, 0) / Math.max(1, m.length);
      const selectedRound =
        o.select === 'last'
          ? rounds.length
          : rounds.reduce((best, x) => (monitorMean(x.monitor) > monitorMean(best.monitor) ? x : best)).round;
      const chosen =
        selectedRound === rounds.length
          ? policy
          : await loadRoundPolicy(run, selectedRound, problem.env.model);
      const seal = await evaluateInto(
        run,
        problem,
        test,
        [{ kind: 'selfedit', name: 'seal', policy: chosen }],
        settings,
      );
      if (chosen !== policy) chosen.dispose();
      policy.dispose();
      const targetTokens = seal['seal']!.selfEditTokens ?? 0;
      const matched = await evaluateInto(
        run,
        problem,
        test,
        [{ kind: 'matched', name: 'base_selfedits_matched', targetTokens }],
        settings,
      );
      const all = { ...baselines, ...seal, ...matched };
      const summary: HeadlineRun = {
        run: r,
        selectedRound,
        rounds,
        results: Object.fromEntries(
          Object.entries(all).map(([k, v]) => [
            k,
            { ...interval(v), ...(v.heldOut === undefined ? {} : { heldOut: interval(v.heldOut) }) },
          ]),
        ),
        paired: sealPairs(all, 'seen'),
        pairedHeldOut: sealPairs(all, 'heldOut'),
      };
      run.writeJson('summary.json', summary);
      writeFileSync(
        join(dir, 'table.txt'),
        `${formatTable(all)}\n\npaired (seen wordings):\n${formatPaired(summary.paired)}\n\npaired (held-out wordings):\n${formatPaired(summary.pairedHeldOut)}\n`,
      );
      runs.push(summary);
      log(`run ${r}: SEAL held-out ${(100 * (all['seal']!.heldOut?.mean ?? Number.NaN)).toFixed(1)}%`);
    }
    const between = (pick: (h: HeadlineRun) => number | undefined) =>
      acrossRuns(runs.map(pick).filter((x): x is number => x !== undefined));
    const keys = Object.keys(runs[0]?.pairedHeldOut ?? {});
    const headline = {
      runs,
      acrossRuns: {
        seal: {
          seen: between((h) => h.results['seal']?.mean),
          heldOut: between((h) => h.results['seal']?.heldOut?.mean),
        },
        paired: Object.fromEntries(keys.map((k) => [k, between((h) => h.paired[k]?.mean)])),
        pairedHeldOut: Object.fromEntries(keys.map((k) => [k, between((h) => h.pairedHeldOut[k]?.mean)])),
      },
    };
    writeFileSync(join(o.out, 'headline.json'), `${JSON.stringify(headline, null, 2)}\n`);
  } finally {
    await pool?.close();
  }
}

const invokedAs = process.argv[1] === undefined ? '' : resolve(process.argv[1]);
if (invokedAs === fileURLToPath(import.meta.url)) {
  const { options, given } = schemaArgs(process.argv.slice(2), HeadlineOptionsSchema, USAGE);
  const ignored = ignoredHeadlineOptions(given, options);
  if (ignored.length > 0) usageError(ignored.join('\n'), schemaUsage(USAGE, HeadlineOptionsSchema));
  await experimentMain(() => runHeadline(options));
}
