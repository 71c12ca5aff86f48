/**
 * SQuAD v1.1 as a SEAL knowledge-incorporation task: loading both the SEAL repo's flattened JSON and the official
 * SQuAD layout, SEAL's self-edit and closed-book answer prompts, and the task wrapper.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { fail } from '../errors.js';
import { exactMatchScorer, f1Scorer } from './squad-score.js';
import type { Context, QuestionAnswer, Scorer, Task } from './types.js';

/*
 * Self-edit prompts from the SEAL repo (github.com/Continual-Intelligence/SEAL, knowledge-incorporation/src/
 * data_generation/make_squad_data.py, MAKE_SQUAD_DATA_TEMPLATES_BASE, used by make_prompt for base models).
 * 'implications' is verified byte for byte against the prompts stored in shared/data/squad/
 * squad_train100_qwen2.5-7b_selfedits.json (see test/squad.test.ts); the other variants are transcribed from the
 * same dictionary but have no stored generations to check them against.
 */
export const SELF_EDIT_TEMPLATES = {
  implications:
    "Let's read the following passage and produce a list of implications derived directly or indirectly from the " +
    'content.\n\nPassage:\n{title}\n{context}\n\nImplications:\n',
  'implications-long':
    "Let's read the following passage and produce a long list of implications derived directly or indirectly " +
    'from the content.\n\nPassage:\n{title}\n{context}\n\nImplications:\n',
  'implications-very-long':
    "Let's read the following passage and produce a very long list of implications derived directly or " +
    'indirectly from the content.\n\nPassage:\n{title}\n{context}\n\nImplications:\n',
  rewrite:
    "Let's read the following passage and rewrite it in a few different ways, each one separated by a newline." +
    '\n\nPassage:\n{title}\n{context}\n\nRewritten passages:\n',
  // The trailing "Question 1: " primes the base model to continue in Q/A form.
  'self-qa':
    "Let's read the following passage and rewrite it in a question-answer format.\n\nPassage:\n{title}\n{context}" +
    '\n\nQuestion 1: ',
} as const;

export type SelfEditStyle = keyof typeof SELF_EDIT_TEMPLATES;
export const SELF_EDIT_STYLES = Object.keys(SELF_EDIT_TEMPLATES) as SelfEditStyle[];

/**
 * SEAL's closed-book answer prompt for base models (SQUAD_ANSWER_TEMPLATE_BASE in knowledge-incorporation/src/
 * utils.py), with the question already carrying SEAL's `Topic: {title}` line so the question is answerable
 * without the passage.
 */
export const ANSWER_TEMPLATE =
  "Let's answer a question directly and concisely.\nQuestion: {question}\nAnswer:\n";

// One pass, like Python's str.format: text substituted for one placeholder is never re-scanned for another, and
// `$` sequences in passages are not treated as replacement patterns.
function fillTemplate(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => values[name] ?? whole);
}

/** The prompt that asks the model to write a self-edit (training data) for a passage. */
export function selfEditPrompt(
  context: Pick<Context, 'title' | 'passage'>,
  style: SelfEditStyle = 'implications',
): string {
  return fillTemplate(SELF_EDIT_TEMPLATES[style], { title: context.title, context: context.passage });
}

/** The no-context prompt the adapted model answers. */
export function answerPrompt(
  context: Pick<Context, 'title'>,
  question: Pick<QuestionAnswer, 'question'>,
): string {
  return fillTemplate(ANSWER_TEMPLATE, { question: `Topic: ${context.title}\n${question.question}` });
}

// ---------------------------------------------------------------------------------------------------------------
// Loading

const nonBlank = z.string().refine((s) => s.trim() !== '', { message: 'must not be empty' });

const SealLayout = z.array(
  z.object({
    title: z.string(),
    context: nonBlank,
    questions: z.array(z.object({ question: nonBlank, answer: nonBlank })),
  }),
);

const OfficialLayout = z.object({
  version: z.string().optional(),
  data: z.array(
    z.object({
      title: z.string(),
      paragraphs: z.array(
        z.object({
          context: nonBlank,
          qas: z.array(
            z.object({
              id: z.string(),
              question: nonBlank,
              answers: z
                .array(z.object({ text: nonBlank, answer_start: z.number().int().optional() }))
                .min(1, { message: 'has no answers (SQuAD 2.0 unanswerable questions are not supported)' }),
            }),
          ),
        }),
      ),
    }),
  ),
});

/** `[12].questions[3].answer`, the way a reader would index the JSON. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(top level)' : out;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function describeIssue(issue: z.core.$ZodIssue, root: unknown): string {
  if (issue.code === 'invalid_type') {
    const value = valueAt(root, issue.path);
    return value === undefined
      ? `missing (expected ${issue.expected})`
      : `expected ${issue.expected}, got ${kindOf(value)}`;
  }
  return issue.message;
}

function parseLayout<T>(schema: z.ZodType<T>, json: unknown, file: string): T {
  const result = schema.safeParse(json);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  return fail(`${formatPath(issue.path)}: ${describeIssue(issue, json)}`, file);
}

function dedupe(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/**
 * Parses SQuAD JSON already read from `file` (named in errors). Accepts the SEAL list
 * `[{title, context, questions: [{question, answer}]}]` and the official `{version, data: [{title, paragraphs}]}`
 * layout, where every distinct gold answer is kept. Ids are `squad-<passage index>` in file order for both
 * layouts, so the same passage gets the same id whichever layout it was loaded from.
 */
export function parseSquad(text: string, file: string): Context[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return fail(`not valid JSON (${error instanceof Error ? error.message : String(error)})`, file);
  }
  if (Array.isArray(json)) {
    return parseLayout(SealLayout, json, file).map((entry, i) => ({
      id: `squad-${i}`,
      title: entry.title,
      passage: entry.context,
      questions: entry.questions.map((q) => ({ question: q.question, answers: [q.answer] })),
    }));
  }
  if (json !== null && typeof json === 'object' && 'data' in json) {
    const contexts: Context[] = [];
    for (const article of parseLayout(OfficialLayout, json, file).data) {
      // The official file names articles by their Wikipedia slug; SEAL's data swaps underscores for spaces (and
      // leaves %-escapes such as "Jehovah%27s" alone), and its prompts show the title, so do the same.
      const title = article.title.replaceAll('_', ' ');
      for (const paragraph of article.paragraphs) {
        contexts.push({
          id: `squad-${contexts.length}`,
          title,
          passage: paragraph.context,
          questions: paragraph.qas.map((qa) => ({
            question: qa.question,
            answers: dedupe(qa.answers.map((a) => a.text)),
          })),
        });
      }
    }
    return contexts;
  }
  return fail(
    `expected a JSON list of {title, context, questions} (SEAL layout) or an object with "data" ` +
      `(official SQuAD layout), got ${kindOf(json)}`,
    file,
  );
}

/** Reads and validates a SQuAD file in either layout (see `parseSquad`). */
export async function loadSquad(path: string): Promise<Context[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = error instanceof Error && 'code' in error ? String(error.code) : String(error);
    return fail(`cannot read SQuAD file (${reason})`, path);
  }
  return parseSquad(text, path);
}

// ---------------------------------------------------------------------------------------------------------------
// Task

export interface SquadTaskOptions {
  /**
   * Named splits. A number takes that many passages, consecutively in declaration order from the start of
   * `contexts`; an array is used as given. Default: one split `all` holding every context.
   */
  readonly splits?: Readonly<Record<string, number | readonly Context[]>>;
  /** `exact_match` (SEAL's automatic metric) by default; `f1` for partial credit. */
  readonly scorer?: 'exact_match' | 'f1';
}

export const SQUAD_SCORERS: Readonly<Record<'exact_match' | 'f1', Scorer>> = {
  exact_match: exactMatchScorer,
  f1: f1Scorer,
};

export function squadTask(contexts: readonly Context[], options: SquadTaskOptions = {}): Task {
  const splits: Record<string, readonly Context[]> = {};
  let offset = 0;
  for (const [name, spec] of Object.entries(options.splits ?? { all: contexts.length })) {
    if (typeof spec !== 'number') {
      splits[name] = spec;
      continue;
    }
    if (!Number.isInteger(spec) || spec < 0)
      fail(`squad splits.${name}: size must be a whole number, got ${spec}`);
    if (offset + spec > contexts.length) {
      fail(
        `squad splits.${name}: needs passages ${offset}..${offset + spec - 1} but only ${contexts.length} exist`,
      );
    }
    splits[name] = contexts.slice(offset, offset + spec);
    offset += spec;
  }
  return {
    name: 'squad',
    splits,
    scorer: SQUAD_SCORERS[options.scorer ?? 'exact_match'],
    answerPrompt,
    // The answer prompt ends in "Answer:\n", so the first newline the model emits ends its answer.
    answerStop: ['\n'],
  };
}
