/**
 * Rewards of a weight-delta self-edit (the EditGenerator's), all measured without the passage in context:
 *   nll        mean cross-entropy of the gold answers to the passage's questions (differentiable: the
 *              direct-gradient optimiser backpropagates through it; reward −nll)
 *   accuracy   exact-match accuracy of greedy answers (not differentiable)
 *   magnitude  ‖ΔW‖²_F of the edit (penalised with weight λ)
 *   locality   KL(base ‖ edited) of next-token distributions on unrelated text (MEND's drawdown as a penalty)
 *   neighbour  on a known person's questions, the cross-entropy to the base's own answers (`baseTargets`;
 *              neighbourLoss "hard") or KL(base ‖ edited) at the answer positions ("soft"): the direct gradient's
 *              locality term (its localityLoss), as a reward for the policy-gradient learners
 * combined as  reward = −w_nll·nll + w_acc·accuracy − λ·magnitude − w_loc·locality − w_nb·neighbour.
 */
import { z } from 'zod';
import { type Tensor, type Tensor2D, tf } from '../../engine/tf.js';
import type { LinearDelta } from '../../model/linear.js';
import type { Transformer } from '../../model/model.js';
import type { Context, QuestionAnswer, Task } from '../../tasks/types.js';
import type { Tokenizer } from '../../tokenizer/types.js';
import { type Batch, completionExample, makeBatch } from '../../train/data.js';
import { lmLoss } from '../../train/step.js';
import { answerQuestions, meanScore } from '../inner/qa-eval.js';

export const DeltaRewardSchema = z.strictObject({
  nll: z.number().min(0).default(1).describe('Weight of −(answer cross-entropy)'),
  accuracy: z.number().min(0).default(0).describe('Weight of greedy exact-match accuracy'),
  magnitude: z.number().min(0).default(1e-3).describe('λ: penalty per unit ‖ΔW‖²'),
  locality: z.number().min(0).default(0).describe('Penalty per nat of KL(base ‖ edited) on unrelated text'),
  neighbour: z
    .number()
    .min(0)
    .default(0)
    .describe("Penalty per nat of the locality loss on a known person's questions (its form: neighbourLoss)"),
  neighbourLoss: z
    .enum(['hard', 'soft'])
    .default('hard')
    .describe(
      "The neighbour term's form, as the direct gradient's localityLoss: cross-entropy to the base's greedy answers (hard; the batch carries them as targets, `baseTargets`) or KL(base ‖ edited) at the answer positions (soft; the plain answer batch)",
    ),
});
export type DeltaReward = z.infer<typeof DeltaRewardSchema>;

export interface RewardEnv {
  readonly model: Transformer;
  readonly tok: Tokenizer;
  readonly task: Pick<Task, 'answerPrompt' | 'answerStop' | 'scorer'>;
}

/**
 * One question per fact (the first of each `kind`; untagged questions all kept): what delta mode trains on. The people
 * world asks each fact in 4 seen wordings, and a 4× larger answer batch made every EditGenerator step ~3× slower
 * (0.87 instead of 2.5 steps/s) for the same facts.
 */
export function onePerFact(questions: readonly QuestionAnswer[]): QuestionAnswer[] {
  const seen = new Set<string>();
  return questions.filter((q) => {
    if (q.kind === undefined) return true;
    if (seen.has(q.kind)) return false;
    seen.add(q.kind);
    return true;
  });
}

/** Teacher-forced batch of `answerPrompt(q) + " " + gold` with only the answer tokens as targets. */
export function answerBatch(
  env: RewardEnv,
  c: Context,
  questions: readonly QuestionAnswer[] = onePerFact(c.questions),
): Batch {
  const { tok } = env;
  const examples = questions.map((q) =>
    completionExample(
      tok.encode(env.task.answerPrompt(c, q), { addBos: true }),
      tok.encode(` ${q.answers[0] ?? ''}`),
    ),
  );
  return makeBatch(examples, env.model.config.maxSeqLen - 1);
}

/** Mean answer cross-entropy under `deltas` as a scalar tensor (differentiable when called under a tape). */
export function answerNll(env: RewardEnv, batch: Batch, deltas: readonly LinearDelta[]): Tensor {
  return lmLoss(env.model, batch, deltas);
}

/** Mean per-token KL(base ‖ edited) over `batch` (targets ignored); base logits carry no gradient. */
export function localityKl(env: RewardEnv, batch: Batch, deltas: readonly LinearDelta[]): Tensor {
  return tf.tidy(() => {
    const ids = tf.tensor2d(batch.ids, [batch.b, batch.t], 'int32') as Tensor2D;
    const v = env.model.config.vocabSize;
    const base = tf.logSoftmax(tf.reshape(env.model.forward(ids), [-1, v]));
    const edited = tf.logSoftmax(tf.reshape(env.model.forward(ids, { deltas }), [-1, v]));
    const kl = tf.sum(tf.mul(tf.exp(base), tf.sub(base, edited)), -1); // (B·T)
    const w = tf.tensor1d(batch.weights);
    return tf.div(tf.sum(tf.mul(kl, w)), tf.maximum(tf.sum(w), 1));
  });
}

/**
 * The same batch with the base model's own greedy next tokens as targets. Cross-entropy to them under an edit is a
 * hard-label KL(base ‖ edited) at the weighted positions: it keeps the base's answers there unchanged (what NS
 * measures) through the fused cross-entropy, at the cost of one loss instead of two full softmaxes.
 */
export function baseTargets(env: RewardEnv, batch: Batch): Batch {
  const targets = tf.tidy(() => {
    const ids = tf.tensor2d(batch.ids, [batch.b, batch.t], 'int32') as Tensor2D;
    return tf.argMax(tf.reshape(env.model.forward(ids), [batch.b * batch.t, -1]), -1).dataSync();
  });
  return { ...batch, targets: Int32Array.from(targets) };
}

/** Plain-text batch for the locality term (every token a position). */
export function textBatch(env: RewardEnv, texts: readonly string[], maxLen = 64): Batch {
  return makeBatch(
    texts.map((t) => ({ ids: env.tok.encode(t, { addBos: true }).slice(0, maxLen + 1) })),
    maxLen,
  );
}

export interface DeltaRewardParts {
  readonly reward: number;
  readonly nll: number;
  readonly accuracy: number;
  readonly magnitude: number;
  readonly locality: number;
  readonly neighbour: number;
}

/** The combined reward of one edit on one context (no gradient). */
export function deltaReward(
  env: RewardEnv,
  c: Context,
  edit: LinearDelta & { normSq(): Tensor },
  w: DeltaReward,
  batches: { readonly answers: Batch; readonly unrelated?: Batch; readonly neighbour?: Batch },
): DeltaRewardParts {
  const [nll, magnitude, locality, neighbour] = tf.tidy(() => [
    answerNll(env, batches.answers, [edit]).dataSync()[0]!,
    edit.normSq().dataSync()[0]!,
    w.locality > 0 && batches.unrelated !== undefined
      ? localityKl(env, batches.unrelated, [edit]).dataSync()[0]!
      : 0,
    w.neighbour > 0 && batches.neighbour !== undefined
      ? (w.neighbourLoss === 'soft'
          ? localityKl(env, batches.neighbour, [edit])
          : lmLoss(env.model, batches.neighbour, [edit])
        ).dataSync()[0]!
      : 0,
  ]);
  const accuracy =
    w.accuracy > 0 ? meanScore(answerQuestions(env.model, env.tok, env.task, [c], { deltas: [edit] })) : 0;
  return {
    reward:
      -w.nll * nll +
      w.accuracy * accuracy -
      w.magnitude * magnitude -
      w.locality * locality -
      w.neighbour * neighbour,
    nll,
    accuracy,
    magnitude,
    locality,
    neighbour,
  };
}
