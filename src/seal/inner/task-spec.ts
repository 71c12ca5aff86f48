/**
 * A task's inner-loop part as plain data. `runInnerLoop` needs functions (answer prompt, scorer), which cannot
 * cross a worker boundary, so the parent and every worker rebuild them from the same `TaskSpec` with the same
 * function: a worker can then never score with a different prompt or metric than the parent would have.
 */
import { z } from 'zod';
import { MAX_GRID_SIDE } from '../../tasks/grids/grid.js';
import { gridAnswering } from '../../tasks/grids/task.js';
import { answerStop as peopleAnswerStop, answerPrompt as peoplePrompt } from '../../tasks/people/text.js';
import { SQUAD_SCORERS, answerPrompt as squadPrompt } from '../../tasks/squad.js';
import { exactMatchScorer } from '../../tasks/squad-score.js';
import type { InnerEnv } from './inner-loop.js';

export const TaskSpecSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('people') }).strict(),
  z.object({ kind: z.literal('squad'), scorer: z.enum(['exact_match', 'f1']) }).strict(),
  z
    .object({
      kind: z.literal('grids'),
      maxSide: z
        .number()
        .int()
        .min(1)
        .max(MAX_GRID_SIDE)
        .default(MAX_GRID_SIDE)
        .describe('Largest grid side an answer may have (bounds the answer length)'),
    })
    .strict(),
]);
export type TaskSpec = z.infer<typeof TaskSpecSchema>;

export type InnerTask = InnerEnv['task'];

export function taskFromSpec(spec: TaskSpec): InnerTask {
  switch (spec.kind) {
    case 'people':
      // Same prompt/stop/scorer as peopleTask(): exact match on `Q: …\nA:` with no passage.
      return {
        answerPrompt: (_context, qa) => peoplePrompt(qa.question),
        answerStop: peopleAnswerStop,
        scorer: exactMatchScorer,
      };
    case 'squad':
      // Same as squadTask(): its answer prompt ends in a newline, so the next newline ends the answer.
      return { answerPrompt: squadPrompt, answerStop: ['\n'], scorer: SQUAD_SCORERS[spec.scorer] };
    case 'grids':
      // Same as gridAnswering(): the solve prompt, stop at the empty line, exact grid match.
      return gridAnswering(spec.maxSide);
    default: {
      const unknown: never = spec;
      throw new Error(`unknown task spec ${JSON.stringify(unknown)}`);
    }
  }
}
