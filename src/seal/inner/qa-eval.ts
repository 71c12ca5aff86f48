/**
 * No-context question answering: each question is asked with the task's answer prompt (no passage), answered by
 * greedy decoding up to a stop string, and scored with the task's scorer. Questions are batched across contexts.
 */

import { generate } from '../../model/generate.js';
import type { LinearDelta } from '../../model/linear.js';
import type { Transformer } from '../../model/model.js';
import type { Context, QuestionAnswer, Task } from '../../tasks/types.js';
import type { Tokenizer } from '../../tokenizer/types.js';

export interface AnsweredQuestion {
  readonly contextId: string;
  readonly question: string;
  readonly kind: string | undefined;
  readonly prediction: string;
  readonly golds: readonly string[];
  readonly score: number;
  /** Asked in a held-out wording (`Context.heldOutQuestions`): scored apart, never part of a reward. */
  readonly heldOut: boolean;
}

export interface QaOptions {
  readonly deltas?: readonly LinearDelta[];
  readonly maxNewTokens?: number;
  readonly batchSize?: number;
  /** Ask these questions instead of each context's own (e.g. paraphrases), keyed by context id. */
  readonly questions?: ReadonlyMap<string, readonly QuestionAnswer[]>;
  /** Also ask each context's `heldOutQuestions` (answers tagged `heldOut`). */
  readonly heldOut?: boolean;
}

export function answerQuestions(
  model: Transformer,
  tok: Tokenizer,
  task: Pick<Task, 'answerPrompt' | 'answerStop' | 'scorer'>,
  contexts: readonly Context[],
  opts: QaOptions = {},
): AnsweredQuestion[] {
  const items = contexts.flatMap((c) => [
    ...(opts.questions?.get(c.id) ?? c.questions).map((q) => ({ c, q, heldOut: false })),
    ...(opts.heldOut === true ? (c.heldOutQuestions ?? []) : []).map((q) => ({ c, q, heldOut: true })),
  ]);
  const out: AnsweredQuestion[] = [];
  const bs = opts.batchSize ?? 64;
  for (let i = 0; i < items.length; i += bs) {
    const chunk = items.slice(i, i + bs);
    const prompts = chunk.map(({ c, q }) => tok.encode(task.answerPrompt(c, q), { addBos: true }));
    const r = generate(model, prompts, {
      maxNewTokens: opts.maxNewTokens ?? 24,
      temperature: 0,
      stop: task.answerStop,
      tokenizer: tok,
      ...(opts.deltas === undefined ? {} : { deltas: opts.deltas }),
    });
    chunk.forEach(({ c, q, heldOut }, j) => {
      const prediction = (r.text?.[j] ?? '').trim();
      out.push({
        contextId: c.id,
        question: q.question,
        kind: q.kind,
        prediction,
        golds: q.answers,
        score: task.scorer.score(prediction, q.answers),
        heldOut,
      });
    });
  }
  return out;
}

/** Mean score of the answers (of the seen-wording ones only, or the held-out ones only, when `heldOut` is given). */
export function meanScore(answers: readonly AnsweredQuestion[], heldOut?: boolean): number {
  const chosen = heldOut === undefined ? answers : answers.filter((a) => a.heldOut === heldOut);
  if (chosen.length === 0) return 0;
  return chosen.reduce((s, a) => s + a.score, 0) / chosen.length;
}
