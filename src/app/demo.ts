/**
 * The main job (`seal demo` / `npm start`): on the people world with the default model, evaluate the baselines on
 * held-out people, run the outer loop (ReST-EM or GRPO) on the RL people with a checkpoint per round, evaluate the
 * generator after every round, the continued-pretraining setting and the forgetting matrix, and write
 * `summary.json` (the layout other tools read) into the run directory. Resumable: every finished condition and
 * round is on disk.
 */

import { join } from 'node:path';
import { z } from 'zod';
import { DELTA_OPTIMIZERS, DeltaTrainConfigSchema } from '../seal/delta/config.js';
import type { EditScores } from '../seal/delta/eval.js';
import { runDeltaMode } from '../seal/delta/run.js';
import { type PeopleProblem, rlContexts } from '../seal/domains/people.js';
import {
  type Condition,
  type ConditionResult,
  evaluateConditions,
  evaluateContinued,
  evaluateForgetting,
  type ForgettingResult,
} from '../seal/eval/evaluate.js';
import { pairedAgainst } from '../seal/eval/stats.js';
import { InnerLoopFlags, innerLoopConfig } from '../seal/inner/inner-loop.js';
import {
  completedRounds,
  isFinishedRoundRecord,
  keepRecords,
  loadLastRound,
  loadRoundPolicy,
  saveRoundCheckpoint,
} from '../seal/outer/checkpoint.js';
import { OUTER_KINDS, OuterConfigSchema, runOuterLoop } from '../seal/outer/outer.js';
import { ParseOptionsSchema } from '../seal/selfedit/parse.js';
import { PEOPLE_SELF_EDIT_STYLES } from '../tasks/people/selfedit.js';
import type { Context } from '../tasks/types.js';
import type { RunDir } from '../util/run-dir.js';

export const DemoConfigSchema = z.strictObject({
  outer: z.enum(OUTER_KINDS).default('rest-em').describe('Outer RL loop: ReST-EM (SEAL) or GRPO'),
  prompt: z
    .enum(PEOPLE_SELF_EDIT_STYLES)
    .default('self-qa')
    .describe(
      'Self-edit prompt the generator learns (the static baseline samples the implications prompt twice, or self-QA when this is implications)',
    ),
  rounds: z.number().int().min(1).default(2).describe('Outer-loop rounds'),
  rlPeople: z
    .number()
    .int()
    .min(1)
    .default(400)
    .describe(
      "RL people: the world's rl split topped up with never-pretrained people from an auxiliary world",
    ),
  rlContexts: z.number().int().min(1).default(16).describe('RL contexts per round'),
  samples: z.number().int().min(1).default(4).describe('Self-edits sampled per RL context'),
  evalContexts: z.number().int().min(1).default(16).describe('Held-out people in the results table'),
  seeds: z.number().int().min(1).default(3).describe('Seeds per held-out context'),
  innerEpochs: InnerLoopFlags.epochs,
  innerLr: InnerLoopFlags.lr,
  innerRank: InnerLoopFlags.rank,
  maxNewTokens: z.number().int().min(1).default(160).describe('Maximum self-edit length'),
  continuedContexts: z
    .number()
    .int()
    .min(0)
    .default(8)
    .describe('Held-out people in the continued-pretraining setting (all in one adapter; 0 = skip)'),
  forgettingContexts: z
    .number()
    .int()
    .min(0)
    .default(8)
    .describe('Held-out people edited one after another into one adapter (forgetting matrix; 0 = skip)'),
  deltaContexts: z
    .number()
    .int()
    .min(0)
    .default(0)
    .describe(
      'Held-out people in the delta-mode editing table (0 = skip; 8 adds the EditGenerator, about 9 minutes on 2 cores)',
    ),
  deltaOptimizer: z
    .enum(DELTA_OPTIMIZERS)
    .default('direct')
    .describe(
      'How the EditGenerator learns: direct (MEND-style gradient; trains the fast-weight part), ppo or reinforce (over the latent)',
    ),
  deltaPeople: z
    .number()
    .int()
    .min(1)
    .default(2000)
    .describe("People the EditGenerator trains on: the world's rl split topped up from the auxiliary world"),
  deltaSteps: z
    .number()
    .int()
    .min(1)
    .default(1000)
    .describe('Direct-gradient steps (8 people each; ~2.5 steps/s here)'),
  deltaTimesteps: z
    .number()
    .int()
    .min(1)
    .default(1024)
    .describe('Edits the EditGenerator tries while PPO or REINFORCE trains it'),
  seed: z.number().int().min(0).default(0).describe('Seed of the whole run'),
});
export type DemoConfig = z.infer<typeof DemoConfigSchema>;

export interface Interval {
  readonly mean: number;
  readonly ci95: [number, number];
  readonly n: number;
}

/** A MeanCi as plain JSON (a mutable 2-tuple). */
export const interval = (r: { mean: number; ci95: readonly number[]; n: number }): Interval => ({
  mean: r.mean,
  ci95: [r.ci95[0]!, r.ci95[1]!],
  n: r.n,
});

export interface DemoSummary {
  readonly task: string;
  readonly model: string;
  readonly seeds: number[];
  readonly elapsed_s: number;
  /** Seen-wording accuracy per condition, with the held-out-wording accuracy beside it where it was measured. */
  readonly results: Record<string, Interval & { heldOut?: Interval }>;
  /** SEAL − each single-passage condition on seen wordings, paired over the same contexts (`seal_vs_passage`, …). */
  readonly paired: Record<string, Interval>;
  /** The same on the held-out wordings. */
  readonly pairedHeldOut: Record<string, Interval>;
  readonly rounds: unknown[];
  readonly forgetting?: ForgettingResult;
  /** Delta mode: the model-editing table (ES/PS/NS/retention/drawdown, time per edit) of each condition. */
  readonly delta?: {
    readonly optimizer: string;
    readonly trainS: number;
    readonly table: Record<
      string,
      { es: number; ps: number; ns: number; retention: number; drawdown: number; editMs: number }
    >;
  };
}

export async function runDemo(
  pp: PeopleProblem,
  modelName: string,
  cfg: DemoConfig,
  run: RunDir,
  opts: { quiet?: boolean; log?: (m: string) => void; resume?: boolean } = {},
): Promise<DemoSummary> {
  const t0 = performance.now();
  const log = opts.log ?? (() => {});
  const inner = innerLoopConfig({ epochs: cfg.innerEpochs, lr: cfg.innerLr, rank: cfg.innerRank });
  const parse = ParseOptionsSchema.parse({});
  const seeds = Array.from({ length: cfg.seeds }, (_, i) => cfg.seed + i);
  const evalContexts = (pp.task.splits['eval'] ?? []).slice(0, cfg.evalContexts);
  const settings = { seeds, inner, parse, temperature: 1, topP: 0.95, maxNewTokens: cfg.maxNewTokens };
  // The per-round monitor: validation people (never the test people of the table), as many as the table has, ≤ 16.
  const valContexts = pp.task.splits['val'] ?? [];
  const problem = { ...pp.problem, heldOut: valContexts.slice(0, Math.min(16, cfg.evalContexts)) };
  const outerCfg = OuterConfigSchema.parse({
    kind: cfg.outer,
    rounds: cfg.rounds,
    contextsPerRound: cfg.rlContexts,
    samplesPerContext: cfg.samples,
    maxNewTokens: cfg.maxNewTokens,
    inner,
    parse,
    seed: cfg.seed,
  });
  const model = problem.env.model;
  // Resume: conditions whose summary line exists are reused, finished rounds come from their checkpoints, and the
  // lines of whatever was in flight are dropped (it is redone identically: every seed is fixed by the config).
  const done = new Map<string, ConditionResult>();
  let forgetting: ForgettingResult | undefined;
  let deltaScores: Record<string, EditScores> | undefined;
  let deltaTrainS = 0;
  const finishedRounds = opts.resume === true ? (completedRounds(run).pop() ?? 0) : 0;
  if (opts.resume === true) {
    for (const r of run.records()) {
      if (r['kind'] === 'condition') done.set(r['name'] as string, r['result'] as ConditionResult);
      if (r['kind'] === 'forgetting') forgetting = r as unknown as ForgettingResult;
      if (r['kind'] === 'delta-eval') {
        deltaScores = r['scores'] as Record<string, EditScores>;
        deltaTrainS = r['trainS'] as number;
      }
    }
    keepRecords(run, (r) =>
      r['kind'] === 'eval' || r['kind'] === 'eval-continued'
        ? done.has(r['condition'] as string)
        : r['kind'] === 'delta-train'
          ? deltaScores !== undefined
          : isFinishedRoundRecord(r, finishedRounds),
    );
    log(`resuming: ${done.size} conditions and ${finishedRounds} rounds already done`);
  }
  const results: Record<string, ConditionResult> = {};
  const evaluate = async (
    setting: 'single' | 'continued',
    contexts: readonly Context[],
    conditions: readonly Condition[],
  ) => {
    for (const cond of conditions) {
      let r = done.get(cond.name);
      if (r === undefined) {
        const out =
          setting === 'single'
            ? await evaluateConditions(problem, contexts, [cond], settings, run, opts)
            : await evaluateContinued(problem, contexts, [cond], settings, run, opts);
        r = out[cond.name]!;
        run.append({ kind: 'condition', name: cond.name, setting, result: r });
      }
      results[cond.name] = r;
    }
  };

  log('baselines on held-out people…');
  await evaluate('single', evalContexts, baselineConditions(pp));

  log(`${cfg.outer}: ${cfg.rounds} rounds × ${cfg.rlContexts} contexts × ${cfg.samples} self-edits…`);
  const resumeFrom = finishedRounds > 0 ? await loadLastRound(run, model) : undefined;
  const { policy, rounds } = await runOuterLoop(problem, outerCfg, run, {
    ...(opts.quiet === undefined ? {} : { quiet: opts.quiet }),
    ...(resumeFrom === undefined ? {} : { resume: resumeFrom }),
    onRound: (round, p, rs) => saveRoundCheckpoint(run, model, round, p, rs, cfg),
  });
  for (let round = 1; round <= rounds.length; round++) {
    const name = `seal_round_${round}`;
    if (done.has(name)) {
      results[name] = done.get(name)!;
      continue;
    }
    const snap = await loadRoundPolicy(run, round, model);
    await evaluate('single', evalContexts, [{ kind: 'selfedit', name, policy: snap }]);
    snap.dispose();
  }
  results['seal'] = results[`seal_round_${rounds.length}`] as ConditionResult;
  // The length-matched baseline: base self-edits concatenated to the final policy's mean self-edit length, measured
  // on the samples of its row (evaluate() reuses a finished row on resume).
  const targetTokens = results['seal'].selfEditTokens;
  if (targetTokens === undefined)
    log('seal has no recorded self-edit length (a run from an older version): no length-matched row');
  else {
    log(`length-matched base self-edits (${targetTokens.toFixed(0)} tokens per context)…`);
    await evaluate('single', evalContexts, [
      { kind: 'matched', name: 'base_selfedits_matched', targetTokens },
    ]);
  }

  if (cfg.continuedContexts > 0) {
    log('continued pretraining: all held-out passages in one adapter…');
    await evaluate('continued', evalContexts.slice(0, cfg.continuedContexts), [
      { kind: 'passage', name: 'cpt_passage' },
      { kind: 'selfedit', name: 'cpt_base_selfedits', policy: undefined },
      { kind: 'selfedit', name: 'cpt_seal', policy },
    ]);
  }
  if (cfg.forgettingContexts > 0 && forgetting === undefined) {
    log('forgetting: sequential SEAL self-edits into one adapter…');
    forgetting = evaluateForgetting(
      problem,
      evalContexts.slice(0, cfg.forgettingContexts),
      { kind: 'selfedit', name: 'seal', policy },
      settings,
      run,
    );
  }
  if (cfg.deltaContexts > 0) {
    const kind = cfg.deltaOptimizer;
    if (deltaScores === undefined) {
      const trainContexts = rlContexts(pp.world, pp.task, cfg.deltaPeople).slice(0, cfg.deltaPeople);
      log(
        `delta mode: EditGenerator trained by ${kind} on ${trainContexts.length} people (${kind === 'direct' ? `${cfg.deltaSteps} steps` : `${cfg.deltaTimesteps} edits`}), editing table…`,
      );
      const optimizer =
        kind === 'direct' ? { kind, steps: cfg.deltaSteps } : { kind, totalTimesteps: cfg.deltaTimesteps };
      const d = await runDeltaMode(
        pp,
        trainContexts,
        evalContexts.slice(0, cfg.deltaContexts),
        policy,
        DeltaTrainConfigSchema.parse({ optimizer, seed: cfg.seed }),
        settings,
        run,
        { ...opts, saveDir: join(run.dir, 'edit-generator') },
      );
      deltaScores = d.scores;
      deltaTrainS = d.trainS;
    }
    for (const name of [`delta_${kind}`, `delta_${kind}_shuffled`]) {
      const es = deltaScores[name]?.es;
      if (es !== undefined) results[name] = { ...es, perContext: {}, seeds: 1 };
    }
  }
  policy.dispose();
  const summary: DemoSummary = {
    task: 'people',
    model: modelName,
    seeds,
    elapsed_s: (performance.now() - t0) / 1000,
    results: Object.fromEntries(
      Object.entries(results).map(([k, r]) => [
        k,
        { ...interval(r), ...(r.heldOut === undefined ? {} : { heldOut: interval(r.heldOut) }) },
      ]),
    ),
    paired: sealPairs(results, 'seen'),
    pairedHeldOut: sealPairs(results, 'heldOut'),
    rounds,
    ...(forgetting === undefined ? {} : { forgetting }),
    ...(deltaScores === undefined
      ? {}
      : {
          delta: {
            optimizer: cfg.deltaOptimizer,
            trainS: deltaTrainS,
            table: Object.fromEntries(
              Object.entries(deltaScores).map(([k, v]) => [
                k,
                {
                  es: v.es.mean,
                  ps: v.ps.mean,
                  ns: v.ns.mean,
                  retention: v.retention.mean,
                  drawdown: v.drawdown.mean,
                  editMs: v.editMs,
                },
              ]),
            ),
          },
        }),
  };
  run.writeJson('summary.json', summary);
  return summary;
}

/**
 * SEAL against every single-passage condition (not the continued-pretraining or delta rows, which are measured
 * differently), paired over the contexts both were evaluated on.
 */
export function sealPairs(
  results: Readonly<Record<string, ConditionResult>>,
  wordings: 'seen' | 'heldOut',
): Record<string, Interval> {
  const of = (r: ConditionResult) => (wordings === 'seen' ? r.perContext : (r.heldOut?.perContext ?? {}));
  const perContext = Object.fromEntries(
    Object.entries(results)
      .filter(
        ([k, r]) =>
          !k.startsWith('cpt_') &&
          !k.startsWith('delta_') &&
          Object.keys(of(r)).length > 0 &&
          (k === 'seal' || r !== results['seal']),
      )
      .map(([k, r]) => [k, of(r)]),
  );
  if (perContext['seal'] === undefined) return {};
  return Object.fromEntries(
    Object.entries(pairedAgainst('seal', perContext)).map(([k, r]) => [k, interval(r)]),
  );
}

/** The comparison conditions of SEAL's table, shared by `seal demo` and `seal eval`. */
export function baselineConditions(
  pp: Pick<PeopleProblem, 'staticPrompts' | 'ruleBasedSelfEdit' | 'ruleBasedShortSelfEdit'>,
): Condition[] {
  return [
    { kind: 'base', name: 'base' },
    { kind: 'passage', name: 'passage' },
    { kind: 'selfedit', name: 'base_selfedits', policy: undefined },
    { kind: 'static', name: 'static_augmentation', prompts: pp.staticPrompts },
    // An upper reference, not a competitor: a parser writes every fact of the passage as seen-wording QA.
    { kind: 'written', name: 'rule_based_qa', write: pp.ruleBasedSelfEdit },
    // The same at about SEAL's length: one pair per fact — what a perfect self-edit of that length reaches.
    { kind: 'written', name: 'rule_based_qa_one', write: pp.ruleBasedShortSelfEdit },
  ];
}
