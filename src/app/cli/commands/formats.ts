/**
 * Prompt formats the adapt/ask commands support: the people world's (the default model was pretrained on it) and
 * SEAL's SQuAD prompts (for real instruction-following models).
 */
import { z } from 'zod';
import {
  PEOPLE_SELF_EDIT_STYLES,
  type PeopleSelfEditStyle,
  peopleSelfEditPrompt,
} from '../../../tasks/people/selfedit.js';
import { answerPrompt as peopleAnswerPrompt, answerStop as peopleStop } from '../../../tasks/people/text.js';
import {
  answerPrompt as squadAnswerPrompt,
  selfEditPrompt as squadSelfEditPrompt,
} from '../../../tasks/squad.js';

export const FormatOption = z
  .enum(['people', 'squad'])
  .default('people')
  .describe("Prompt format: people (the default model) or squad (SEAL's SQuAD prompts)");
export type Format = z.infer<typeof FormatOption>;

export const PeoplePromptOption = z
  .enum(PEOPLE_SELF_EDIT_STYLES)
  .default('self-qa')
  .describe(
    'Self-edit prompt in the people format (the one the outer loop trained; SQuAD uses implications)',
  );

export function selfEditPromptFor(
  format: Format,
  title: string,
  passage: string,
  style: PeopleSelfEditStyle = 'self-qa',
): string {
  switch (format) {
    case 'people':
      return peopleSelfEditPrompt(title, passage, style);
    case 'squad':
      return squadSelfEditPrompt({ title, passage }, 'implications');
    default: {
      const never: never = format;
      throw new Error(`unreachable format ${String(never)}`);
    }
  }
}

export function answerPromptFor(
  format: Format,
  title: string,
  question: string,
): { prompt: string; stop: readonly string[] } {
  switch (format) {
    case 'people':
      return { prompt: peopleAnswerPrompt(question), stop: peopleStop };
    case 'squad':
      return { prompt: squadAnswerPrompt({ title }, { question }), stop: ['\n'] };
    default: {
      const never: never = format;
      throw new Error(`unreachable format ${String(never)}`);
    }
  }
}
