/**
 * What crosses the queue, as zod schemas checked on both ends: a job (an `InnerJob` plus what a worker must have
 * to reproduce it — the job kind, the base model's content checksum, the engine, the task) and its result.
 *
 * A job is named by its content: its BullMQ id is the sha256 of the payload. Adding the same job twice is then a
 * no-op, two completions of it are the same result (the computation is deterministic), and an orchestrator that
 * restarts and rebuilds the same jobs finds the finished ones waiting. A worker recomputes the id and refuses a
 * payload filed under another job's id, so nobody can plant a result for a job that is not theirs.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Context } from '../../../tasks/types.js';
import { type InnerLoopConfig, InnerLoopConfigSchema, type InnerLoopResult } from '../inner-loop.js';
import type { InnerJob } from '../job.js';
import { type TaskSpec, TaskSpecSchema } from '../task-spec.js';

/** The job kinds a worker knows; anything else is refused, never run. */
export const INNER_LOOP_KIND = 'inner-loop';

// Bounds on a job's text: far above what SEAL produces, low enough that one payload cannot exhaust a worker.
const MAX_TEXT = 100_000;
const MAX_ITEMS = 4096;

const text = z.string().max(MAX_TEXT);

const QuestionAnswerSchema = z.strictObject({
  question: text.describe('The question, asked without the passage'),
  answers: z.array(text).max(MAX_ITEMS).describe('Every acceptable gold answer'),
  kind: z.string().max(200).optional().describe('Optional tag, e.g. the attribute the question asks about'),
});

const ContextSchema = z.strictObject({
  id: z.string().max(1000).describe('Context id'),
  title: z.string().max(MAX_TEXT).describe('Context title (part of the answer prompt)'),
  passage: text.describe('The document the self-edit was written from'),
  questions: z.array(QuestionAnswerSchema).max(MAX_ITEMS).describe('Questions whose accuracy is the reward'),
  heldOutQuestions: z
    .array(QuestionAnswerSchema)
    .max(MAX_ITEMS)
    .optional()
    .describe('Held-out wordings, scored apart (never a reward)'),
});

export const QueueJobSchema = z.strictObject({
  v: z.literal(1).describe('Payload format version'),
  kind: z.literal(INNER_LOOP_KIND).describe('Job kind; workers run only the kinds they know'),
  model: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .describe("sha256 of the base model's weights (`checksum`); a worker with another model refuses the job"),
  engine: z
    .string()
    .regex(/^[a-z]+(\+native)?$/)
    .describe(
      'Engine the orchestrator computes with, e.g. wasm+native: workers must match it to match results',
    ),
  task: TaskSpecSchema.describe('Prompt, stop strings and scorer of the inner loop'),
  job: z
    .strictObject({
      context: ContextSchema.describe('The context whose questions are asked after adaptation'),
      sequences: z.array(text).max(MAX_ITEMS).describe("The self-edit's training sequences"),
      cfg: InnerLoopConfigSchema.describe('Inner-loop configuration'),
      seed: z
        .number()
        .int()
        .min(0)
        .max(0xffff_ffff)
        .describe('Seed of the inner loop (from the job identity)'),
    })
    .describe('The inner loop to run'),
});
export type QueueJob = z.infer<typeof QueueJobSchema>;

export function toQueueJob(job: InnerJob, model: string, engine: string, task: TaskSpec): QueueJob {
  return {
    v: 1,
    kind: INNER_LOOP_KIND,
    model,
    engine,
    task,
    job: { ...job, sequences: [...job.sequences] },
  } as QueueJob;
}

/** The queue job back as an `InnerJob`. */
export function innerJobOf(q: QueueJob): InnerJob {
  return {
    context: q.job.context as Context,
    sequences: q.job.sequences,
    cfg: q.job.cfg as InnerLoopConfig,
    seed: q.job.seed,
  };
}

/** JSON with object keys sorted, so equal payloads hash equally whatever order their fields were built in. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

/** The job's BullMQ id: `il-` and the sha256 of its canonical payload. */
export function queueJobId(q: QueueJob): string {
  return `il-${createHash('sha256').update(canonical(q)).digest('hex')}`;
}

/**
 * The queue of one base model and engine. Workers listen only to the queue of what they hold, so a worker with
 * another model or engine never takes (and never miscomputes) a job; several runs on one model share a queue.
 */
export function queueName(model: string, engine: string): string {
  return `seal-inner-${model.slice(0, 16)}-${engine.replace('+', '-')}`;
}

// JSON has no NaN or Infinity: a finalLoss that is not finite travels as its name.
const NonFinite = z.enum(['NaN', 'Infinity', '-Infinity']);
const unit = z.number().min(0).max(1);

const AnsweredSchema = z.strictObject({
  contextId: z.string(),
  question: z.string(),
  kind: z.string().optional(),
  prediction: z.string(),
  golds: z.array(z.string()),
  score: unit,
  heldOut: z.boolean(),
});

export const QueueResultSchema = z.strictObject({
  v: z.literal(1).describe('Result format version'),
  worker: z.string().max(200).describe('Name of the worker that ran the job'),
  result: z
    .strictObject({
      accuracy: unit,
      heldOutAccuracy: unit.optional(),
      perRepeat: z.array(unit).max(64),
      finalLoss: z.union([z.number(), NonFinite]),
      steps: z.number().int().min(0),
      diverged: z.boolean(),
      ms: z.number().min(0),
      answers: z.array(AnsweredSchema),
    })
    .describe('The inner loop result'),
});
export type QueueResult = z.infer<typeof QueueResultSchema>;

export function encodeResult(r: InnerLoopResult, worker: string): QueueResult {
  const finalLoss = Number.isFinite(r.finalLoss)
    ? r.finalLoss
    : (String(r.finalLoss) as z.infer<typeof NonFinite>);
  const answers = r.answers.map((a) => {
    const { kind, ...rest } = a;
    const plain = { ...rest, golds: [...rest.golds] };
    return kind === undefined ? plain : { ...plain, kind };
  });
  return { v: 1, worker, result: { ...r, perRepeat: [...r.perRepeat], finalLoss, answers } };
}

/**
 * A worker's answer as an `InnerLoopResult` identical to the in-process one, or the reason it is not a valid result
 * for `job` (wrong shape, NaN or out-of-range numbers, answers for another context or repeat count).
 */
export function decodeResult(
  raw: unknown,
  job: InnerJob,
): { ok: true; result: InnerLoopResult; worker: string } | { ok: false; why: string } {
  const parsed = QueueResultSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    return { ok: false, why: `${i?.path.join('.') || '(result)'}: ${i?.message ?? 'invalid'}` };
  }
  const r = parsed.data.result;
  const repeats = job.sequences.length === 0 ? 1 : job.cfg.evalTimes;
  if (r.perRepeat.length !== repeats)
    return { ok: false, why: `perRepeat has ${r.perRepeat.length} values, the job has ${repeats} repeats` };
  if (r.answers.some((a) => a.contextId !== job.context.id))
    return { ok: false, why: `answers for another context than ${job.context.id}` };
  const hasHeldOut = (job.context.heldOutQuestions?.length ?? 0) > 0;
  if ((r.heldOutAccuracy !== undefined) !== hasHeldOut)
    return { ok: false, why: `heldOutAccuracy ${hasHeldOut ? 'missing' : 'unexpected'}` };
  // Rebuilt field by field in the order runInnerLoop writes them, so the JSON written from it is byte-identical.
  const result: InnerLoopResult = {
    accuracy: r.accuracy,
    ...(r.heldOutAccuracy === undefined ? {} : { heldOutAccuracy: r.heldOutAccuracy }),
    perRepeat: r.perRepeat,
    finalLoss: typeof r.finalLoss === 'number' ? r.finalLoss : Number(r.finalLoss),
    steps: r.steps,
    diverged: r.diverged,
    ms: r.ms,
    // In-process answers always carry `kind` (undefined when the question has none).
    answers: r.answers.map((a) => ({
      contextId: a.contextId,
      question: a.question,
      kind: a.kind,
      prediction: a.prediction,
      golds: a.golds,
      score: a.score,
      heldOut: a.heldOut,
    })),
  };
  return { ok: true, result, worker: parsed.data.worker };
}

/** What a job that returned garbage scores: the lowest reward, as a rejected self-edit does. */
export function lowestResult(job: InnerJob): InnerLoopResult {
  const hasHeldOut = (job.context.heldOutQuestions?.length ?? 0) > 0;
  return {
    accuracy: 0,
    ...(hasHeldOut ? { heldOutAccuracy: 0 } : {}),
    perRepeat: [],
    finalLoss: Number.NaN,
    steps: 0,
    diverged: false,
    ms: 0,
    answers: [],
  };
}
