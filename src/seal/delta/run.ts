/**
 * Delta mode on the people world, end to end: train the EditGenerator on the given people, then the
 * model-editing table on held-out people — ES / PS / NS / drawdown and the time to adapt to one document — for the
 * generated edit, the shuffled-context control, LoRA on the passage, and text-mode SEAL.
 */

import type { LoraAdapter } from '../../lora/adapter.js';
import { heldOutQuestions } from '../../tasks/people/text.js';
import type { Context } from '../../tasks/types.js';
import { deriveSeed } from '../../util/rng.js';
import type { RunDir } from '../../util/run-dir.js';
import type { PeopleProblem } from '../domains/people.js';
import type { EvalSettings } from '../eval/evaluate.js';
import { trainAdapter } from '../inner/inner-loop.js';
import { sampleSelfEdits } from '../selfedit/generate.js';
import { selfEditSequences } from '../selfedit/parse.js';
import { type EditCondition, type EditScores, evaluateEdits, generatorConditions } from './eval.js';
import { saveEditGenerator } from './io.js';
import { textBatch } from './reward.js';
import { type DeltaTrainConfig, type DeltaTrainLog, trainEditGenerator } from './train.js';

export interface DeltaRunResult {
  readonly optimizer: DeltaTrainConfig['optimizer']['kind'];
  readonly scores: Record<string, EditScores>;
  readonly logs: DeltaTrainLog[];
  readonly trainS: number;
}

/** LoRA conditions timed like the generator: passage alone, or the generator's self-edit + passage. */
function loraConditions(
  pp: PeopleProblem,
  contexts: readonly Context[],
  policy: LoraAdapter | undefined,
  s: EvalSettings,
  seed: number,
): EditCondition[] {
  const env = pp.problem.env;
  const train = (seqs: string[], t0: number, i: number) => {
    const { adapter } = trainAdapter(env, seqs, s.inner, seed + i);
    return { delta: adapter, dispose: () => adapter?.dispose(), ms: performance.now() - t0 };
  };
  return [
    {
      name: 'passage',
      make: (i) =>
        train(selfEditSequences('', contexts[i]!, { ...s.parse, appendPassage: true }), performance.now(), i),
    },
    {
      name: 'seal',
      make: (i) => {
        const t0 = performance.now();
        const c = contexts[i]!;
        const [e] = sampleSelfEdits(env.model, env.tok, [c], (c) => pp.problem.domain.selfEditPrompt(c), {
          k: 1,
          temperature: s.temperature,
          topP: s.topP,
          maxNewTokens: s.maxNewTokens,
          seed: deriveSeed('delta-text-sample', seed, i),
          ...(policy === undefined ? {} : { deltas: [policy] }),
        })[0]!;
        return train(
          [
            ...selfEditSequences(e!.completion, c, { ...s.parse, appendPassage: false }),
            ...selfEditSequences('', c, { ...s.parse, appendPassage: true }),
          ],
          t0,
          i,
        );
      },
    },
  ];
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
  } = {},
): Promise<DeltaRunResult> {
  const env = pp.problem.env;
  const unrelated = textBatch(
    env,
    (pp.task.splits['pretrain'] ?? []).slice(0, 8).map((c) => c.passage),
    96,
  );
  const { generator, logs, wallS } = await trainEditGenerator(env, trainContexts, cfg, {
    ...(opts.quiet === undefined ? {} : { quiet: opts.quiet }),
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
      ...loraConditions(pp, evalContexts, policy, s, cfg.seed),
    ],
    { paraphrases, neighbourhood: evalContexts, unrelated },
  );
  if (opts.saveDir !== undefined)
    await saveEditGenerator(generator, opts.saveDir, { optimizer: cfg.optimizer });
  generator.dispose();
  run?.append({ kind: 'delta-eval', optimizer: cfg.optimizer.kind, trainS: wallS, scores });
  return { optimizer: cfg.optimizer.kind, scores, logs, trainS: wallS };
}
