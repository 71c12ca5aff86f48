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
import { type ParseOptions, selfEditSequences } from './selfedit/parse.js';

/** The run's settings a plan starts from: its inner-loop config and self-edit parse options. */
export interface PlanDefaults {
  readonly inner: InnerLoopConfig;
  readonly parse: ParseOptions;
}

/** What one sampled self-edit asks the inner loop to do. */
export type InnerPlan =
  | { readonly kind: 'train'; readonly sequences: readonly TrainingText[]; readonly cfg: InnerLoopConfig }
  | { readonly kind: 'rejected'; readonly reason: string };

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
