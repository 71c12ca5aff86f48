/**
 * The domain seam: what a SEAL domain tells the outer loops, and nothing else. A domain has contexts (a passage and
 * questions about it, a few-shot task and its held-out test, …), a self-edit prompt, and the rule that turns a
 * sampled self-edit into an inner-loop plan — the sequences a fresh adapter is trained on, with which inner-loop
 * settings — or rejects it (a malformed recipe: the lowest reward, logged). The adapted model is scored by the
 * domain's task (its answer prompt, stop strings and scorer, in the inner loop's env). The outer loops (ReST-EM,
 * GRPO) and the rollout only ever call these two functions, so a new domain never touches them.
 */
import type { Context } from '../tasks/types.js';
import type { InnerLoopConfig, TrainingText } from './inner/inner-loop.js';
import type { AnsweredQuestion } from './inner/qa-eval.js';
import { type ParseOptions, selfEditSequences } from './selfedit/parse.js';

/** The run's settings a plan starts from: its inner-loop config and self-edit parse options. */
export interface PlanDefaults {
  readonly inner: InnerLoopConfig;
  readonly parse: ParseOptions;
}

/**
 * How a plan poses its context's questions differently: the adapted model answers `context`'s questions (one per
 * question of the plan's own context, in the same order) and each answer is mapped back by `answerBack` (the grid
 * domain's turned recipes: the test asked turned, the answer turned back). The score is the posed question's.
 */
export interface PosedContext {
  readonly context: Context;
  answerBack(prediction: string): string;
}

/** What one sampled self-edit asks the inner loop to do. */
export type InnerPlan =
  | {
      readonly kind: 'train';
      readonly sequences: readonly TrainingText[];
      readonly cfg: InnerLoopConfig;
      /** Absent: the adapted model answers the context's own questions. */
      readonly posed?: PosedContext;
    }
  | { readonly kind: 'rejected'; readonly reason: string };

/** The context an inner loop is scored on: the plan's posed context, else the context itself. */
export function scoredContext(plan: InnerPlan, context: Context): Context {
  return plan.kind === 'train' && plan.posed !== undefined ? plan.posed.context : context;
}

/**
 * An inner loop's answers in the frame of the plan's own context: with a posed context each answer gets the
 * original question and golds and its prediction mapped back (its score stays the posed one); else unchanged.
 */
export function answersInFrame(
  plan: InnerPlan,
  context: Context,
  answers: readonly AnsweredQuestion[],
): AnsweredQuestion[] {
  if (plan.kind !== 'train' || plan.posed === undefined) return [...answers];
  const posed = plan.posed;
  return answers.map((a, i) => {
    const q = context.questions[i];
    return {
      ...a,
      contextId: context.id,
      ...(q === undefined ? {} : { question: q.question, golds: q.answers }),
      prediction: posed.answerBack(a.prediction),
    };
  });
}

export interface SealDomain {
  readonly name: string;
  /** The prompt the generator completes with a self-edit for `context`. */
  selfEditPrompt(context: Context): string;
  /** The inner-loop plan of a sampled self-edit; `cfg` is the run's rollout config (its inner-loop defaults). */
  plan(selfEdit: string, context: Context, cfg: PlanDefaults): InnerPlan;
}

/**
 * Knowledge incorporation (SEAL's first domain; the people world and SQuAD): the self-edit is synthetic training
 * text (implications, rewrites, self-QA), parsed into sequences by the run's parse options, trained with the run's
 * inner-loop settings.
 */
export function knowledgeDomain(name: string, prompt: (c: Context) => string): SealDomain {
  return {
    name,
    selfEditPrompt: prompt,
    plan: (selfEdit, context, cfg) => ({
      kind: 'train',
      sequences: selfEditSequences(selfEdit, context, cfg.parse),
      cfg: cfg.inner,
    }),
  };
}
