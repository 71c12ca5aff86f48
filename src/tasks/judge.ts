/**
 * Optional LLM judge for knowledge-incorporation answers. SEAL grades closed-book SQuAD answers by asking GPT-4.1
 * whether the student answer is correct given the gold answer (`SQUAD_GRADE_TEMPLATE` in the SEAL repo,
 * knowledge-incorporation/src/utils.py); this client sends the same prompt to any OpenAI-compatible
 * `/v1/chat/completions` server (OpenAI, vLLM, llama.cpp, Ollama). Nothing here touches the network until
 * `grade` is called on a judge built with `createJudge`.
 */
import { z } from 'zod';
import { fail, SealError } from '../errors.js';

export const JudgeConfigSchema = z
  .object({
    url: z
      .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
      .describe(
        'Base URL of the OpenAI-compatible API, up to and including /v1, e.g. http://127.0.0.1:8000/v1',
      ),
    model: z.string().min(1).describe('Model name sent in the request body, e.g. gpt-4.1'),
    apiKeyEnv: z
      .string()
      .min(1)
      .default('OPENAI_API_KEY')
      .describe(
        'Name of the environment variable holding the API key; when unset no Authorization header is sent',
      ),
    timeoutMs: z.number().int().positive().default(30_000).describe('Per-attempt timeout in milliseconds'),
    maxRetries: z
      .number()
      .int()
      .nonnegative()
      .default(4)
      .describe('Retries after the first attempt on network errors, timeouts, HTTP 429 and 5xx'),
    backoffMs: z
      .number()
      .nonnegative()
      .default(500)
      .describe('Delay before the first retry in milliseconds; doubles on every further retry'),
    maxBackoffMs: z
      .number()
      .nonnegative()
      .default(30_000)
      .describe('Upper bound on any wait between attempts, including one asked for by a Retry-After header'),
    temperature: z.number().min(0).default(0).describe('Sampling temperature; 0 makes verdicts repeatable'),
  })
  .strict();

export type JudgeConfig = z.output<typeof JudgeConfigSchema>;
export type JudgeConfigInput = z.input<typeof JudgeConfigSchema>;

export interface JudgeOptions {
  /** Uniform [0, 1) source for backoff jitter; without one, waits are exact (deterministic tests). */
  readonly random?: () => number;
  /** Where the API key is looked up; defaults to `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export interface JudgeItem {
  readonly question: string;
  readonly gold: string | readonly string[];
  readonly prediction: string;
}

export interface Judge {
  readonly config: JudgeConfig;
  /** True when the judge says `prediction` answers `question` correctly given the gold answer(s). */
  grade(question: string, gold: string | readonly string[], prediction: string): Promise<boolean>;
  /** Grades every item with at most `concurrency` requests in flight; verdicts come back in input order. */
  gradeMany(items: readonly JudgeItem[], options?: { readonly concurrency?: number }): Promise<boolean[]>;
}

// SEAL's grading instructions, verbatim, moved into the system message.
export const JUDGE_SYSTEM_PROMPT =
  "You are a grading assistant. Your job is to determine whether a student's answer correctly answers the " +
  'question based solely on the provided gold answer. Do not use any outside knowledge. The student answer can ' +
  'include additional information, but it must at least fully convey the gold answer and must not contradict it. ' +
  "Ignore style, phrasing, or extra details that do not affect correctness. Respond ONLY with 'yes' or 'no'.";

/** The user message: SEAL's question / gold / student block, with several golds listed when a dataset has them. */
export function judgeUserPrompt(
  question: string,
  gold: string | readonly string[],
  prediction: string,
): string {
  const golds = typeof gold === 'string' ? [gold] : gold;
  const goldLine =
    golds.length === 1
      ? `Gold answer: ${golds[0]}`
      : `Gold answers (any one is correct): ${golds.join(' | ')}`;
  return (
    `Question: ${question}\n${goldLine}\nStudent answer: ${prediction.trim()}\n` +
    "Is the student answer correct based solely on the gold answer? Respond 'yes' or 'no'."
  );
}

/** Reads the verdict from the first word, tolerating case, quotes, markdown and trailing punctuation. */
export function parseVerdict(text: string): boolean {
  const first = /^[\s"'`*_([]*([A-Za-z]+)/.exec(text)?.[1]?.toLowerCase();
  if (first === 'yes') return true;
  if (first === 'no') return false;
  const shown = text.length > 80 ? `${text.slice(0, 80)}…` : text;
  return fail(`LLM judge returned an unparseable verdict (expected yes or no): ${JSON.stringify(shown)}`);
}

const ChatResponseSchema = z.object({
  choices: z.array(z.object({ message: z.object({ content: z.string() }) })).min(1),
});

/** A failure worth another attempt; anything else is thrown straight to the caller. */
class Transient extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

function describeConfigError(error: z.ZodError): string {
  const issue = error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  return `LLM judge config: ${where}${issue?.message ?? 'invalid'}`;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function createJudge(configInput: JudgeConfigInput, options: JudgeOptions = {}): Judge {
  const parsed = JudgeConfigSchema.safeParse(configInput);
  if (!parsed.success) fail(describeConfigError(parsed.error));
  const config = parsed.data;
  const endpoint = `${config.url.replace(/\/+$/, '')}/chat/completions`;
  const env = options.env ?? process.env;

  function retryAfterMs(header: string | null): number | undefined {
    if (header === null || header.trim() === '') return undefined;
    const seconds = Number(header);
    // Only the delta-seconds form is honoured; an HTTP-date falls back to our own backoff.
    return Number.isFinite(seconds) && seconds >= 0
      ? Math.min(seconds * 1000, config.maxBackoffMs)
      : undefined;
  }

  async function attempt(body: string): Promise<string> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const key = env[config.apiKeyEnv];
    if (key !== undefined && key !== '') headers['authorization'] = `Bearer ${key}`;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), config.timeoutMs);
    let response: Response;
    let text: string;
    try {
      // The timer also covers reading the body: a server may send headers and then stall.
      response = await fetch(endpoint, { method: 'POST', headers, body, signal: controller.signal });
      text = await response.text();
    } catch (error) {
      if (controller.signal.aborted) throw new Transient(`request timed out after ${config.timeoutMs} ms`);
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
      throw new Transient(cause instanceof Error ? cause.message : String(cause));
    } finally {
      clearTimeout(timer);
    }
    if (response.status === 429 || response.status >= 500) {
      throw new Transient(`HTTP ${response.status}`, retryAfterMs(response.headers.get('retry-after')));
    }
    if (!response.ok) fail(`LLM judge at ${endpoint}: HTTP ${response.status}: ${text.slice(0, 200)}`);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return fail(`LLM judge at ${endpoint}: response is not JSON: ${text.slice(0, 200)}`);
    }
    const chat = ChatResponseSchema.safeParse(json);
    if (!chat.success) {
      fail(
        `LLM judge at ${endpoint}: response has no choices[0].message.content string: ${text.slice(0, 200)}`,
      );
    }
    return chat.data.choices[0]!.message.content;
  }

  async function complete(body: string): Promise<string> {
    const attempts = config.maxRetries + 1;
    let lastError = '';
    for (let i = 0; i < attempts; i++) {
      try {
        return await attempt(body);
      } catch (error) {
        if (!(error instanceof Transient)) throw error;
        lastError = error.message;
        if (i === attempts - 1) break;
        const jitter = options.random ? 0.5 + options.random() : 1;
        const backoff = Math.min(config.backoffMs * 2 ** i * jitter, config.maxBackoffMs);
        await sleep(error.retryAfterMs ?? backoff);
      }
    }
    throw new SealError(`LLM judge at ${endpoint} unreachable after ${attempts} attempts: ${lastError}`);
  }

  async function grade(
    question: string,
    gold: string | readonly string[],
    prediction: string,
  ): Promise<boolean> {
    const body = JSON.stringify({
      model: config.model,
      messages: [
        { role: 'system', content: JUDGE_SYSTEM_PROMPT },
        { role: 'user', content: judgeUserPrompt(question, gold, prediction) },
      ],
      temperature: config.temperature,
    });
    return parseVerdict(await complete(body));
  }

  async function gradeMany(
    items: readonly JudgeItem[],
    { concurrency = 4 }: { readonly concurrency?: number } = {},
  ): Promise<boolean[]> {
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      fail(`LLM judge: concurrency must be a positive integer, got ${concurrency}`);
    }
    const verdicts: boolean[] = new Array<boolean>(items.length);
    let next = 0;
    let failed = false;
    async function worker(): Promise<void> {
      // Stop handing out work once any item fails, so a dead server is not hammered for the whole batch.
      while (!failed && next < items.length) {
        const index = next++;
        const item = items[index]!;
        try {
          verdicts[index] = await grade(item.question, item.gold, item.prediction);
        } catch (error) {
          failed = true;
          throw error;
        }
      }
    }
    const workers = Array.from({ length: Math.min(concurrency, items.length) }, worker);
    await Promise.all(workers);
    return verdicts;
  }

  return { config, grade, gradeMany };
}
