/**
 * A grid task as a SEAL context, and the grid task's answering rules: what the inner loop and the outer loops see.
 *
 * A context's passage is the demonstrations text (`demonstrationsText`), and it has one question per test input
 * whose text is the whole in-context solve prompt (`solvePrompt`: the demonstrations, then the test input) and whose
 * gold answer is the output grid as text (`gridToText`). The answer prompt is therefore the question itself, the
 * answer ends at the empty line (`ANSWER_STOP`), and it scores 1 when it parses to exactly the gold grid
 * (`gridExactScorer`). The demonstrations are recovered from the passage (`contextGridTask`), so a context stays
 * plain data that crosses to a worker thread unchanged.
 */
import type { Context, QuestionAnswer, Scorer } from '../types.js';
import {
  ANSWER_STOP,
  demonstrationsText,
  type GridTask,
  gridExactScorer,
  gridToText,
  MAX_GRID_SIDE,
  parseTaskText,
  solvePrompt,
} from './grid.js';

/** Tokens (characters) of the longest answer a grid of at most `maxSide` × `maxSide` needs: rows, newlines, stop. */
export function answerTokenBound(maxSide: number = MAX_GRID_SIDE): number {
  return maxSide * (maxSide + 1) + 1;
}

/**
 * The context of a grid task: the demonstrations as passage, one question per test input (its solve prompt), gold
 * answers for the test inputs whose output is known (a test input without one is still asked, with no gold: it
 * scores 0, as an unsolved challenge would).
 */
export function gridContext(task: GridTask): Context {
  const questions: QuestionAnswer[] = task.test.map((t, i) => ({
    question: solvePrompt(task, i),
    answers: t.output === undefined ? [] : [gridToText(t.output)],
    kind: `test${i}`,
  }));
  return { id: task.id, title: task.id, passage: demonstrationsText(task.train), questions };
}

/**
 * The grid task a context stands for: its demonstrations parsed back from the passage, its test inputs from the
 * questions' solve prompts. Throws (naming the context) when the context was not made by `gridContext`.
 */
export function contextGridTask(context: Context): GridTask {
  const demos = parseTaskText(context.passage);
  if (!demos.ok) throw new Error(`context ${context.id} is not a grid task: passage: ${demos.reason}`);
  const test = context.questions.map((q, i) => {
    const parsed = parseTaskText(`${q.question}${q.answers[0] ?? '0'}\n\n`);
    const last = parsed.ok ? parsed.pairs[parsed.pairs.length - 1] : undefined;
    if (!parsed.ok || last === undefined || !q.question.startsWith(context.passage))
      throw new Error(`context ${context.id} is not a grid task: question ${i + 1} is not its solve prompt`);
    return q.answers[0] === undefined ? { input: last.input } : { input: last.input, output: last.output };
  });
  return { id: context.id, train: demos.pairs, test };
}

/** The grid task's answering rules, in the shape of the inner loop's task. */
export interface GridAnswering {
  answerPrompt(context: Pick<Context, 'title'>, question: QuestionAnswer): string;
  readonly answerStop: readonly string[];
  readonly scorer: Scorer;
  readonly answerMaxTokens: number;
}

/** Answer prompt = the solve prompt (the question), stop at the empty line, exact grid match. */
export function gridAnswering(maxSide: number = MAX_GRID_SIDE): GridAnswering {
  return {
    answerPrompt: (_context, qa) => qa.question,
    answerStop: ANSWER_STOP,
    scorer: gridExactScorer,
    answerMaxTokens: answerTokenBound(maxSide),
  };
}
