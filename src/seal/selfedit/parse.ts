/**
 * Turning a sampled self-edit into fine-tuning sequences, the way SEAL's knowledge-incorporation code does:
 * drop a chatty preamble ("Sure! Here are…"), split on `---` separators and then on lines (self-QA: on question
 * boundaries, so each question stays with its answer), drop empties, cap the count, prefix the title, and
 * optionally append the passage itself as one more sequence.
 */
import { z } from 'zod';

export const ParseOptionsSchema = z.strictObject({
  split: z
    .enum(['lines', 'qa', 'none'])
    .default('lines')
    .describe('lines: one sequence per line; qa: one per question+answer; none: the whole self-edit'),
  maxSequences: z.number().int().min(1).default(64).describe('Keep at most this many sequences'),
  prefixTitle: z
    .boolean()
    .default(true)
    .describe('Prefix each sequence with the context title and a newline'),
  appendPassage: z
    .boolean()
    .default(true)
    .describe(
      'Also train on the passage itself (one more sequence). The RL reward and the evaluation both follow this, so they train on the same data',
    ),
  minChars: z.number().int().min(0).default(3).describe('Drop sequences shorter than this'),
});
export type ParseOptions = z.infer<typeof ParseOptionsSchema>;

const PREAMBLE = /^\s*(sure|certainly|of course|here (is|are)|okay|ok)\b[^\n]*\n/i;
/** A question label at a line start: "Question 3:", "Q:", "Q1:". */
const QUESTION_START = /^(?=\s*(?:question\s*\d*|q\d*)\s*[:.)])/im;
const ANSWER_START = /^\s*(?:answer|a)\s*[:.)]/i;

/** An answer line stays with the question above it: a QA pair is one fact, one training sequence. */
function joinAnswers(lines: readonly string[]): string[] {
  const out: string[] = [];
  for (const l of lines) {
    const prev = out[out.length - 1];
    if (ANSWER_START.test(l) && prev !== undefined && QUESTION_START.test(prev))
      out[out.length - 1] = `${prev}\n${l}`;
    else out.push(l);
  }
  return out;
}

export function stripPreamble(text: string): string {
  return text.replace(PREAMBLE, '');
}

export function splitSelfEdit(text: string, split: ParseOptions['split']): string[] {
  const body = stripPreamble(text).trim();
  const blocks = body.split(/^\s*-{3,}\s*$/m);
  switch (split) {
    case 'none':
      return blocks.map((b) => b.trim());
    case 'lines':
      return blocks.flatMap((b) => joinAnswers(b.split('\n').map((l) => l.trim())));
    case 'qa':
      return blocks.flatMap((b) => b.split(new RegExp(QUESTION_START.source, 'gim'))).map((q) => q.trim());
    default: {
      const never: never = split;
      throw new Error(`unreachable split ${String(never)}`);
    }
  }
}

/** The fine-tuning sequences for one self-edit of one context. */
export function selfEditSequences(
  completion: string,
  context: { title: string; passage: string },
  options: Partial<ParseOptions> = {},
): string[] {
  const o = ParseOptionsSchema.parse(options);
  const seqs = splitSelfEdit(completion, o.split)
    .filter((s) => s.length >= o.minChars)
    .slice(0, o.maxSequences)
    .map((s) => (o.prefixTitle ? `${context.title}\n${s}` : s));
  if (o.appendPassage) seqs.push(o.prefixTitle ? `${context.title}\n${context.passage}` : context.passage);
  return seqs;
}
