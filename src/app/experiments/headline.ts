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
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initEngine } from '../../engine/index.js';
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
import { OuterConfigSchema, type OuterKind, runOuterLoop } from '../../seal/outer/outer.js';
import type { RolloutConfig, SealProblem } from '../../seal/outer/rollout.js';
import { ParseOptionsSchema } from '../../seal/selfedit/parse.js';
import type { Context } from '../../tasks/types.js';
import type { RunDir } from '../../util/run-dir.js';
import { innerPool } from '../cli/commands/common.js';
import { resolveModelDir } from '../config.js';
import { baselineConditions, type Interval, interval, sealPairs } from '../demo.js';
import { experimentArgs, openRunDir } from './args.js';

const USAGE = `SEAL's headline table on test people over several RL runs (issue #15).
  npm run experiment:headline -- --out DIR [--runs 3] [--people 40] [--seeds 3] [--rounds 2] [--workers 2]
      [--select last|val]   the policy tested: the last round's, or the round with the best validation monitor
      [--outer rest-em|grpo]   the outer loop (SEAL: rest-em)
      [--score reward|length-neutral]   what ranks a context's self-edits (see RolloutConfig.score)
      [--length-weight 1]   --score length-neutral only: the fraction of the round's length slope subtracted, 0 … 1
                            (see RolloutConfig.lengthWeight)
      [--split test|val]    the people the table is measured on: test (the final evaluation, once) or val (to
                            choose settings; the monitor reads val people too)
      [--sft-epochs 4]      ReST-EM only: SFT passes over each round's kept self-edits
      [--keep 1]            ReST-EM only: SFT on each context's N best self-edits (each beating no adaptation)
      [--temperature 1]     sampling temperature of every evaluated self-edit, SEAL's and the baselines' alike (RL
                            rollouts keep the outer loop's own)`;

const OPTIONS = {
  out: { type: 'string' },
  model: { type: 'string', default: 'default' },
  runs: { type: 'string', default: '3' },
  people: { type: 'string', default: '40' },
  seeds: { type: 'string', default: '3' },
  rounds: { type: 'string', default: '2' },
  'rl-contexts': { type: 'string', default: '16' },
  samples: { type: 'string', default: '4' },
  'val-people': { type: 'string', default: '24' },
  workers: { type: 'string', default: '1' },
  select: { type: 'string', default: 'last' },
  score: { type: 'string', default: 'reward' },
  outer: { type: 'string', default: 'rest-em' },
  split: { type: 'string', default: 'test' },
  'sft-epochs': { type: 'string' },
  keep: { type: 'string' },
  'length-weight': { type: 'string' },
  temperature: { type: 'string', default: '1' },
} as const;

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

export async function runHeadline(o: {
  out: string;
  model: string;
  runs: number;
  people: number;
  seeds: number;
  rounds: number;
  rlContexts: number;
  samples: number;
  valPeople: number;
  workers: number;
  /** The policy evaluated on test: the last round's, or the round with the best validation monitor. */
  select: 'last' | 'val';
  score: RolloutConfig['score'];
  outer: OuterKind;
  /** The people of the table: test (the final evaluation) or val (choosing settings). */
  split: 'test' | 'val';
  /** ReST-EM's SFT passes per round (its default when absent). */
  sftEpochs?: number;
  /** ReST-EM's self-edits kept per context (its default when absent). */
  keepPerContext?: number;
  /** Score length-neutral: the fraction of the length slope subtracted (all of it when absent). */
  lengthWeight?: number;
  /** Sampling temperature of the evaluated self-edits (1 when absent). */
  temperature?: number;
}): Promise<void> {
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
    temperature: o.temperature ?? 1,
    topP: 0.95,
    maxNewTokens: 160,
  };
  const log = (m: string) => process.stderr.write(`${m}\n`);
  try {
    log(`baselines on ${test.length} ${o.split} people × ${o.seeds} seeds…`);
    const baseRun = openRunDir(join(o.out, 'baselines'), { headline: o, settings });
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
        ...(o.keepPerContext === undefined ? {} : { keepPerContext: o.keepPerContext }),
        ...(o.lengthWeight === undefined ? {} : { lengthWeight: o.lengthWeight }),
      });
      const run = openRunDir(dir, { headline: o, outer, settings });
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
  const { values: v } = experimentArgs(process.argv.slice(2), OPTIONS, USAGE);
  if (v.out === undefined) {
    process.stderr.write(`--out DIR is required\n${USAGE}\n`);
    process.exit(2);
  }
  const usage = (m: string): never => {
    process.stderr.write(`${m}\n${USAGE}\n`);
    process.exit(2);
  };
  const positive = (name: keyof typeof OPTIONS): number => {
    const x = Number(v[name]);
    return Number.isFinite(x) && x > 0
      ? x
      : usage(`--${name}: expected a positive number, got ${String(v[name])}`);
  };
  const int = (name: keyof typeof OPTIONS): number => {
    const x = Number(v[name]);
    if (!Number.isInteger(x) || x < 1) {
      process.stderr.write(`--${name}: expected a positive integer, got ${String(v[name])}\n`);
      process.exit(2);
    }
    return x;
  };
  const lengthWeight = (raw: string): number => {
    const x = Number(raw);
    if (v.score !== 'length-neutral') return usage('--length-weight: --score length-neutral only');
    return raw.trim() !== '' && x >= 0 && x <= 1 ? x : usage(`--length-weight: expected 0 … 1, got ${raw}`);
  };
  await runHeadline({
    out: v.out,
    model: v.model,
    runs: int('runs'),
    people: int('people'),
    seeds: int('seeds'),
    rounds: int('rounds'),
    rlContexts: int('rl-contexts'),
    samples: int('samples'),
    valPeople: int('val-people'),
    workers: int('workers'),
    select:
      v.select === 'val' ? 'val' : v.select === 'last' ? 'last' : usage(`--select ${v.select}: last or val`),
    score:
      v.score === 'reward' || v.score === 'length-neutral'
        ? v.score
        : usage(`--score ${v.score}: reward or length-neutral`),
    outer:
      v.outer === 'rest-em' || v.outer === 'grpo' ? v.outer : usage(`--outer ${v.outer}: rest-em or grpo`),
    split: v.split === 'test' || v.split === 'val' ? v.split : usage(`--split ${v.split}: test or val`),
    ...(v['sft-epochs'] === undefined
      ? {}
      : { sftEpochs: v.outer === 'rest-em' ? int('sft-epochs') : usage('--sft-epochs: ReST-EM only') }),
    ...(v.keep === undefined
      ? {}
      : { keepPerContext: v.outer === 'rest-em' ? int('keep') : usage('--keep: ReST-EM only') }),
    ...(v['length-weight'] === undefined ? {} : { lengthWeight: lengthWeight(v['length-weight']) }),
    temperature: positive('temperature'),
  });
}
