/**
 * Delta mode on the people world, end to end: train the EditGenerator on the given people, then the
 * model-editing table on held-out people — ES / PS / NS / retention / drawdown and the time to adapt to one document —
 * for the generated edit, the shuffled-context control, LoRA on the passage, and text-mode SEAL; optionally the
 * stacking table (the edits of 1 … 16 people at once).
 */

import type { LoraAdapter } from '../../lora/adapter.js';
import { heldOutQuestions } from '../../tasks/people/text.js';
import type { Context } from '../../tasks/types.js';
import { deriveSeed } from '../../util/rng.js';
import type { RunDir } from '../../util/run-dir.js';
import {
  heldOutPassages,
  knownPeople,
  type PeopleProblem,
  pretrainLocalityPeople,
} from '../domains/people.js';
import type { EvalSettings } from '../eval/evaluate.js';
import { trainAdapter } from '../inner/inner-loop.js';
import { sampleSelfEdits } from '../selfedit/generate.js';
import { selfEditSequences } from '../selfedit/parse.js';
import { together } from './apply.js';
import type { DeltaTrainConfig, DeltaTrainLog } from './config.js';
import { editText } from './embedding.js';
import { type EditCondition, type EditScores, evaluateEdits, generatorConditions } from './eval.js';
import type { EditGenerator } from './generator.js';
import { saveEditGenerator } from './io.js';
import { textBatch } from './reward.js';
import { routerBackground, ScopeRouter } from './route.js';
import {
  evaluateStacks,
  generatedStack,
  type StackCondition,
  type StackedEdit,
  type StackRow,
} from './stack.js';
import { trainEditGenerator } from './train.js';

export interface DeltaRunResult {
  readonly optimizer: DeltaTrainConfig['optimizer']['kind'];
  readonly scores: Record<string, EditScores>;
  /** The stacking rows, when asked for. */
  readonly stack?: readonly StackRow[];
  readonly logs: DeltaTrainLog[];
  readonly trainS: number;
}

/** The sequences a condition trains LoRA on for context i: the passage alone, or a sampled self-edit + passage. */
function trainingSequences(
  pp: PeopleProblem,
  contexts: readonly Context[],
  policy: LoraAdapter | undefined,
  s: EvalSettings,
  seed: number,
) {
  const env = pp.problem.env;
  return {
    passage: (i: number) => selfEditSequences('', contexts[i]!, { ...s.parse, appendPassage: true }),
    seal: (i: number) => {
      const c = contexts[i]!;
      const [e] = sampleSelfEdits(env.model, env.tok, [c], (c) => pp.problem.domain.selfEditPrompt(c), {
        k: 1,
        temperature: s.temperature,
        topP: s.topP,
        maxNewTokens: s.maxNewTokens,
        seed: deriveSeed('delta-text-sample', seed, i),
        ...(policy === undefined ? {} : { deltas: [policy] }),
      })[0]!;
      return [
        ...selfEditSequences(e!.completion, c, { ...s.parse, appendPassage: false }),
        ...selfEditSequences('', c, { ...s.parse, appendPassage: true }),
      ];
    },
  };
}

/** LoRA conditions timed like the generator: passage alone, or the generator's self-edit + passage. */
function loraConditions(
  pp: PeopleProblem,
  contexts: readonly Context[],
  policy: LoraAdapter | undefined,
  s: EvalSettings,
  seed: number,
): EditCondition[] {
  const seqs = trainingSequences(pp, contexts, policy, s, seed);
  const train = (make: (i: number) => string[], i: number) => {
    const t0 = performance.now();
    const { adapter } = trainAdapter(pp.problem.env, make(i), s.inner, seed + i);
    return { delta: adapter, dispose: () => adapter?.dispose(), ms: performance.now() - t0 };
  };
  return [
    { name: 'passage', make: (i) => train(seqs.passage, i) },
    { name: 'seal', make: (i) => train(seqs.seal, i) },
  ];
}

/**
 * Stacking conditions: the generator's n edits summed (named `name`) and routed by scope, and, `withLora`, one LoRA on
 * the n contexts' passages (or self-edits + passages) together — SEAL's continued-pretraining setting.
 */
function stackConditions(
  pp: PeopleProblem,
  gen: EditGenerator,
  contexts: readonly Context[],
  o: {
    readonly name: string;
    readonly policy: LoraAdapter | undefined;
    readonly s: EvalSettings;
    readonly seed: number;
    readonly withLora: boolean;
    /** Routes the generator's edits by scope (`<name>_routed`). */
    readonly router: ScopeRouter;
  },
): StackCondition[] {
  const { name, policy, s, seed, withLora } = o;
  const env = pp.problem.env;
  const seqs = trainingSequences(pp, contexts, policy, s, seed);
  const oneLora = (make: (i: number) => string[], group: readonly number[]): StackedEdit => {
    const t0 = performance.now();
    const { adapter } = trainAdapter(env, group.flatMap(make), s.inner, seed + group[0]!);
    return {
      apply: together(adapter === undefined ? [] : [adapter]),
      dispose: () => adapter?.dispose(),
      ms: performance.now() - t0,
    };
  };
  const deltas = [
    generatedStack(env, gen, contexts, name, { kind: 'sum' }),
    generatedStack(env, gen, contexts, `${name}_routed`, { kind: 'routed', router: o.router }),
  ];
  if (!withLora) return deltas;
  return [
    ...deltas,
    { name: 'passage', make: (group) => oneLora(seqs.passage, group) },
    { name: 'seal', make: (group) => oneLora(seqs.seal, group) },
  ];
}

/**
 * Whose answers the locality term keeps: `known`, the train half of the known people (50 in the default world);
 * `pretrain`, every pretraining person but the measured half (150); `all`, those and the generator's training people
 * (2,150: too many to spare one by one; the base's answers about the training people are its guesses).
 */
export const LOCALITY_PEOPLE = ['known', 'pretrain', 'all'] as const;
export type LocalityPeople = (typeof LOCALITY_PEOPLE)[number];

/**
 * What delta mode's locality is measured and trained on, in the people world: known people (QA-trained pretraining
 * people; one half for the training term, the other for the retention measure) and held-out text (biographies
 * of 8 people of no split: never pretrained on, edited or trained on) for the drawdown.
 */
export function editMeasures(
  pp: PeopleProblem,
  localityPeople: LocalityPeople,
  /** The generator's training people (the `all` pool's larger part). */
  trainContexts: readonly Context[],
) {
  return {
    trainLocality: localityPool(pp, localityPeople, trainContexts),
    known: knownPeople(pp.world, 'eval'),
    heldOutText: textBatch(pp.problem.env, heldOutPassages(pp.world, 8), 96),
  };
}

function localityPool(
  pp: PeopleProblem,
  which: LocalityPeople,
  trainContexts: readonly Context[],
): Context[] {
  switch (which) {
    case 'known':
      return knownPeople(pp.world, 'train');
    case 'pretrain':
      return pretrainLocalityPeople(pp.world);
    case 'all':
      return [...pretrainLocalityPeople(pp.world), ...trainContexts];
    default: {
      const never: never = which;
      throw new Error(`unknown locality pool ${String(never)}`);
    }
  }
}

export async function runDeltaMode(
  pp: PeopleProblem,
  /** People the generator trains on (never the held-out ones). */
  trainContexts: readonly Context[],
  evalContexts: readonly Context[],
  policy: LoraAdapter | undefined,
  cfg: DeltaTrainConfig,
  s: EvalSettings,
  run?: RunDir,
  opts: {
    readonly quiet?: boolean /** Save the trained generator here (for `seal adapt --mode delta`). */;
    readonly saveDir?: string;
    /** Also the stacking table, at these sizes (e.g. STACK_SIZES). */
    readonly stackSizes?: readonly number[];
    /** Start from this generator (trained further in place) instead of a new one. */
    readonly from?: EditGenerator;
    /** Also the LoRA conditions (passage, text self-edit), in both tables — they do not depend on the generator
     * (default true). */
    readonly loraBaselines?: boolean;
    /** The generator's condition in the stacking table (default `delta_<optimizer>`; a magnitude sweep names each
     * weight's, e.g. `delta_direct@0.01`). */
    readonly stackLabel?: string;
    /** The locality term's people (default `known`). */
    readonly localityPeople?: LocalityPeople;
  } = {},
): Promise<DeltaRunResult> {
  const env = pp.problem.env;
  const { trainLocality, ...measures } = editMeasures(pp, opts.localityPeople ?? 'known', trainContexts);
  const whitening = knownPeople(pp.world, 'train');
  const { generator, logs, wallS } = await trainEditGenerator(env, trainContexts, cfg, {
    ...(opts.quiet === undefined ? {} : { quiet: opts.quiet }),
    locality: trainLocality,
    // Key whitening (if on) reads what the model knows: the train half of the known people, bios and QA.
    whiteningTexts: whitening.flatMap((c) => [
      editText(c),
      ...c.questions.map((q) => `${env.task.answerPrompt(c, q)} ${q.answers[0] ?? ''}`),
    ]),
    ...(opts.from === undefined ? {} : { from: opts.from }),
    onLog: (l) => run?.append({ kind: 'delta-train', optimizer: cfg.optimizer.kind, ...l }),
  });
  const people = new Map(pp.world.people.map((p) => [p.id, p]));
  const paraphrases = new Map(
    evalContexts.flatMap((c) => {
      const p = people.get(c.id);
      return p === undefined ? [] : [[c.id, heldOutQuestions(p)] as const];
    }),
  );
  const name = `delta_${cfg.optimizer.kind}`;
  const scores = evaluateEdits(
    env,
    evalContexts,
    [
      ...generatorConditions(env, generator, evalContexts, name),
      ...(opts.loraBaselines === false ? [] : loraConditions(pp, evalContexts, policy, s, cfg.seed)),
    ],
    { paraphrases, neighbourhood: evalContexts, ...measures },
  );
  run?.append({
    kind: 'delta-eval',
    optimizer: cfg.optimizer.kind,
    magnitudeWeight: cfg.reward.magnitude,
    trainS: wallS,
    scores,
  });
  let stack: StackRow[] | undefined;
  if (opts.stackSizes !== undefined) {
    const router = ScopeRouter.build(env.model, env.tok, routerBackground(env.task, trainContexts));
    try {
      stack = evaluateStacks(
        env,
        evalContexts,
        stackConditions(pp, generator, evalContexts, {
          name: opts.stackLabel ?? name,
          policy,
          s,
          seed: cfg.seed,
          withLora: opts.loraBaselines !== false,
          router,
        }),
        {
          sizes: opts.stackSizes,
          known: measures.known,
          heldOutText: measures.heldOutText,
          onRow: (row) => run?.append({ kind: 'delta-stack', optimizer: cfg.optimizer.kind, ...row }),
        },
      );
    } finally {
      router.dispose();
    }
  }
  if (opts.saveDir !== undefined)
    await saveEditGenerator(generator, opts.saveDir, { optimizer: cfg.optimizer });
  generator.dispose();
  return {
    optimizer: cfg.optimizer.kind,
    scores,
    logs,
    trainS: wallS,
    ...(stack === undefined ? {} : { stack }),
  };
}
