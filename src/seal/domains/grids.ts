/**
 * Few-shot grid puzzles as a SEAL domain (SEAL's ARC setting): the self-edit is a training recipe (which
 * augmentations of the demonstrations, how many copies, leave-one-out, learning rate, epochs, loss on all tokens or
 * on the outputs only). The plan parses the recipe — a malformed one is rejected (no inner loop, the lowest reward,
 * its reason logged by the rollout) — expands it into training sequences over the demonstrations only, and trains
 * them with the recipe's learning rate and epochs (the run's other inner-loop settings: LoRA, batch size, clip).
 * The adapted model then answers the test input in context (the solve prompt), scored by exact grid match. A recipe
 * with a `turn` turns the task first: it trains on the turned demonstrations and is scored on the turned test (its
 * answer turned back for the logs).
 */

import { isIdentity } from '../../tasks/grids/augment.js';
import {
  type Expansion,
  expandRecipe,
  formatRecipe,
  parseRecipe,
  type Recipe,
  recipePrompt,
  turnedBack,
  turnedTask,
  turnTransform,
} from '../../tasks/grids/recipe.js';
import { contextGridTask, gridContext } from '../../tasks/grids/task.js';
import type { Context } from '../../tasks/types.js';
import { deriveSeed, Rng } from '../../util/rng.js';
import type { InnerPlan, PlanDefaults, PosedContext, SealDomain } from '../domain.js';
import type { InnerLoopConfig, TrainingText } from '../inner/inner-loop.js';

/** Tokens a training sequence spends on BOS and EOS besides its characters. */
const SPECIAL_TOKENS = 2;

/**
 * The seed of a recipe's augmentations: from the job's identity (the context and the recipe), so the same recipe for
 * the same task always trains on the same data, wherever and whenever its inner loop runs.
 */
export function recipeSeed(contextId: string, recipe: Recipe): number {
  return deriveSeed(`grid-recipe\n${contextId}\n${formatRecipe(recipe)}`);
}

/**
 * A recipe's training sequences for a context: `expandRecipe` on the context's demonstrations, each sequence at most
 * the inner loop's `seqLen` tokens (a character-level tokenizer: one character a token, plus BOS and EOS). Loss
 * `all` gives plain text (the loss on every token); `outputs` gives segments, trained on the output grids only.
 */
export function recipeSequences(
  context: Context,
  recipe: Recipe,
  seqLen: number,
): { sequences: TrainingText[]; expansion: Expansion } {
  const task = contextGridTask(context);
  const expansion = expandRecipe(task, recipe, new Rng(recipeSeed(context.id, recipe)), {
    maxChars: Math.max(1, seqLen - SPECIAL_TOKENS),
  });
  const sequences = expansion.sequences.map(
    (s): TrainingText => (recipe.loss === 'all' ? s.segments.map((g) => g.text).join('') : s.segments),
  );
  return { sequences, expansion };
}

/** The inner-loop settings of a recipe: the run's defaults with the recipe's learning rate and epochs. */
export function recipeInnerConfig(recipe: Recipe, inner: InnerLoopConfig): InnerLoopConfig {
  return { ...inner, lr: recipe.lr, epochs: recipe.epochs };
}

/**
 * A turned recipe's posed context: the turned task's questions, each answer turned back (text that does not parse
 * as a grid stays as it is). Undefined for a recipe that does not turn.
 */
export function turnedContext(recipe: Recipe, context: Context): PosedContext | undefined {
  if (isIdentity(turnTransform(recipe))) return undefined;
  return {
    context: gridContext(turnedTask(contextGridTask(context), recipe)),
    answerBack: turnedBack(recipe),
  };
}

/**
 * The plan of a parsed recipe (rejected when no training sequence fits the context): its training sequences and
 * inner-loop settings, and for a turned recipe the turned test it is scored on.
 */
export function recipePlan(
  recipe: Recipe,
  context: Context,
  defaults: Pick<PlanDefaults, 'inner'>,
): InnerPlan {
  const { sequences, expansion } = recipeSequences(context, recipe, defaults.inner.seqLen);
  if (sequences.length === 0)
    return {
      kind: 'rejected',
      reason: `no training sequence fits ${defaults.inner.seqLen} tokens (${expansion.dropped} dropped)`,
    };
  const posed = turnedContext(recipe, context);
  return {
    kind: 'train',
    sequences,
    cfg: recipeInnerConfig(recipe, defaults.inner),
    ...(posed === undefined ? {} : { posed }),
  };
}

/** The grid domain: the recipe prompt (the demonstrations, then `recipe`), and the recipe's plan. */
export const gridDomain: SealDomain = {
  name: 'grids',
  selfEditPrompt: (context) => recipePrompt(contextGridTask(context)),
  plan: (selfEdit, context, defaults) => {
    const parsed = parseRecipe(selfEdit);
    if (!parsed.ok) return { kind: 'rejected', reason: `malformed recipe: ${parsed.reason}` };
    return recipePlan(parsed.recipe, context, defaults);
  },
};
