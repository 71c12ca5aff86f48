import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SealError } from '../src/errors.js';
import { createJudge, JUDGE_SYSTEM_PROMPT, parseVerdict } from '../src/tasks/judge.js';

interface Seen {
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: {
    model: string;
    temperature: number;
    messages: { role: string; content: string }[];
  };
}

type Handler = (seen: Seen, res: ServerResponse, index: number) => void;

function reply(res: ServerResponse, content: string): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content } }] }));
}

/** A real OpenAI-style server; each test installs the handler it needs and reads back what was requested. */
let handler: Handler = (_seen, res) => reply(res, 'Yes.');
const requests: Seen[] = [];
let server: Server;
let base = '';
const KEY_ENV = 'SEAL_JUDGE_TEST_KEY';

function listen(s: Server): Promise<number> {
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)));
}

function close(s: Server): Promise<void> {
  s.closeAllConnections();
  return new Promise((resolve) => s.close(() => resolve()));
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen: Seen = {
        url: req.url ?? '',
        headers: req.headers,
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Seen['body'],
      };
      requests.push(seen);
      handler(seen, res, requests.length - 1);
    });
  });
  base = `http://127.0.0.1:${await listen(server)}/v1`;
});

afterEach(() => {
  requests.length = 0;
  handler = (_seen, res) => reply(res, 'Yes.');
  delete process.env[KEY_ENV];
});

afterAll(async () => {
  await close(server);
});

const fast = { backoffMs: 1, maxRetries: 3 } as const;

async function rejection(promise: Promise<unknown>): Promise<SealError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SealError);
  return error as SealError;
}

describe('LLM judge over a real HTTP server', () => {
  it('sends model, messages and temperature, with the key from the configured env var', async () => {
    process.env[KEY_ENV] = 'sk-test-123';
    const judge = createJudge({ url: `${base}/`, model: 'grader-1', apiKeyEnv: KEY_ENV, ...fast });
    expect(await judge.grade('Topic: Super Bowl 50\nWho won?', 'Denver Broncos', ' the Broncos ')).toBe(true);
    expect(requests).toHaveLength(1);
    const [seen] = requests;
    expect(seen!.url).toBe('/v1/chat/completions');
    expect(seen!.headers['authorization']).toBe('Bearer sk-test-123');
    expect(seen!.headers['content-type']).toBe('application/json');
    expect(seen!.body.model).toBe('grader-1');
    expect(seen!.body.temperature).toBe(0);
    expect(seen!.body.messages).toEqual([
      { role: 'system', content: JUDGE_SYSTEM_PROMPT },
      {
        role: 'user',
        content:
          'Question: Topic: Super Bowl 50\nWho won?\nGold answer: Denver Broncos\nStudent answer: the Broncos\n' +
          "Is the student answer correct based solely on the gold answer? Respond 'yes' or 'no'.",
      },
    ]);
  });

  it('sends no Authorization header when the key variable is unset, and lists several golds', async () => {
    const judge = createJudge({ url: base, model: 'local', apiKeyEnv: KEY_ENV, ...fast });
    await judge.grade('Where?', ['Santa Clara', "Levi's Stadium"], 'Santa Clara');
    expect(requests[0]!.headers['authorization']).toBeUndefined();
    expect(requests[0]!.body.messages[1]!.content).toContain(
      "Gold answers (any one is correct): Santa Clara | Levi's Stadium",
    );
  });

  it('parses yes/no leniently and rejects anything else', async () => {
    const verdicts = ['Yes.', 'no', '**NO** - wrong city', ' "yes"', 'Maybe, partly correct'];
    handler = (_seen, res, i) => reply(res, verdicts[i]!);
    const judge = createJudge({ url: base, model: 'm', ...fast });
    expect(await judge.grade('q', 'g', 'p')).toBe(true);
    expect(await judge.grade('q', 'g', 'p')).toBe(false);
    expect(await judge.grade('q', 'g', 'p')).toBe(false);
    expect(await judge.grade('q', 'g', 'p')).toBe(true);
    const error = await rejection(judge.grade('q', 'g', 'p'));
    expect(error.message).toMatch(/unparseable verdict.*"Maybe, partly correct"/);
    expect(requests).toHaveLength(5); // a bad verdict is not retried
  });

  it('quotes at most 80 characters of an unparseable verdict', () => {
    const long = `Well ${'x'.repeat(200)}`;
    expect(() => parseVerdict(long)).toThrow(`"${long.slice(0, 80)}…"`);
    expect(() => parseVerdict('')).toThrow(SealError);
    expect(parseVerdict('Yes, the student is right')).toBe(true);
    expect(() => parseVerdict('Nope')).toThrow(SealError); // only the whole word counts
  });

  it('retries HTTP 500 and succeeds on the third request', async () => {
    handler = (_seen, res, i) => {
      if (i < 2) {
        res.writeHead(500);
        res.end('overloaded');
      } else reply(res, 'yes');
    };
    const judge = createJudge({ url: base, model: 'm', ...fast });
    expect(await judge.grade('q', 'g', 'p')).toBe(true);
    expect(requests).toHaveLength(3);
  });

  it('draws backoff jitter from the injected RNG, once per retry', async () => {
    handler = (_seen, res, i) => {
      if (i < 2) {
        res.writeHead(503);
        res.end();
      } else reply(res, 'yes');
    };
    let draws = 0;
    const random = () => {
      draws++;
      return 0.25;
    };
    const judge = createJudge({ url: base, model: 'm', ...fast }, { random });
    expect(await judge.grade('q', 'g', 'p')).toBe(true);
    expect(draws).toBe(2);
  });

  it('honours Retry-After: 0 on HTTP 429 instead of its own (long) backoff', async () => {
    handler = (_seen, res, i) => {
      if (i === 0) {
        res.writeHead(429, { 'retry-after': '0' });
        res.end('slow down');
      } else reply(res, 'No.');
    };
    const judge = createJudge({ url: base, model: 'm', backoffMs: 60_000, maxRetries: 2 });
    // With its own 60 s backoff this test would hang past its timeout; Retry-After: 0 retries at once.
    expect(await judge.grade('q', 'g', 'p')).toBe(false);
    expect(requests).toHaveLength(2);
  });

  it('fails at once on HTTP 400 with the status and the start of the body', async () => {
    handler = (_seen, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `model "m" does not exist ${'.'.repeat(400)}` } }));
    };
    const judge = createJudge({ url: base, model: 'm', ...fast });
    const error = await rejection(judge.grade('q', 'g', 'p'));
    expect(error.message).toContain(
      `LLM judge at ${base}/chat/completions: HTTP 400: {"error":{"message":"model`,
    );
    expect(error.message.length).toBeLessThan(400);
    expect(requests).toHaveLength(1);
  });

  it('reports an unreachable server with its URL after every attempt', async () => {
    const closed = createServer();
    const port = await listen(closed);
    await close(closed);
    const url = `http://127.0.0.1:${port}/v1`;
    const judge = createJudge({ url, model: 'm', backoffMs: 1, maxRetries: 2 });
    const error = await rejection(judge.grade('q', 'g', 'p'));
    expect(error.message).toMatch(
      new RegExp(
        `^LLM judge at ${url.replace(/\./g, '\\.')}/chat/completions unreachable after 3 attempts: .+`,
      ),
    );
  });

  it('times out a server that never answers, then gives up after the retries', async () => {
    handler = () => {}; // hold the request open
    const judge = createJudge({ url: base, model: 'm', timeoutMs: 200, maxRetries: 1, backoffMs: 1 });
    const error = await rejection(judge.grade('q', 'g', 'p'));
    expect(error.message).toMatch(/unreachable after 2 attempts: request timed out after 200 ms/);
    expect(requests).toHaveLength(2);
  });

  it('gradeMany keeps input order and at most `concurrency` requests in flight', async () => {
    let inFlight = 0;
    let peak = 0;
    handler = (seen, res) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      setTimeout(() => {
        inFlight--;
        reply(res, seen.body.messages[1]!.content.includes('Student answer: right') ? 'yes' : 'no');
      }, 15);
    };
    const judge = createJudge({ url: base, model: 'm', ...fast });
    const items = ['right', 'wrong', 'right', 'right', 'wrong', 'wrong', 'right'].map((prediction) => ({
      question: 'q',
      gold: 'g',
      prediction,
    }));
    const verdicts = await judge.gradeMany(items, { concurrency: 2 });
    expect(verdicts).toEqual([true, false, true, true, false, false, true]);
    expect(peak).toBe(2);
    expect(await judge.gradeMany([], { concurrency: 3 })).toEqual([]);
    await expect(judge.gradeMany(items, { concurrency: 0 })).rejects.toThrow(
      /concurrency must be a positive/,
    );
  });

  it('gradeMany stops handing out work after a failure', async () => {
    // The first request fails; the others would succeed (slowly), so only the stop keeps the second worker from
    // going on through the batch.
    handler = (_seen, res, i) => {
      if (i === 0) {
        res.writeHead(401);
        res.end('bad key');
      } else setTimeout(() => reply(res, 'yes'), 20);
    };
    const judge = createJudge({ url: base, model: 'm', ...fast });
    const items = Array.from({ length: 10 }, () => ({ question: 'q', gold: 'g', prediction: 'p' }));
    await expect(judge.gradeMany(items, { concurrency: 2 })).rejects.toThrow(/HTTP 401: bad key/);
    // The other worker's request may still be on its way to the server when the batch rejects (a loaded machine):
    // let stragglers arrive, then count. Without the stop, the workers would go on to all 10 items.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(requests.length).toBeGreaterThanOrEqual(1);
    expect(requests.length).toBeLessThanOrEqual(2);
  });

  it('rejects a bad config with the field named, without any request', () => {
    expect(() => createJudge({ url: 'ftp://example.com/v1', model: 'm' })).toThrow(
      'LLM judge config: url: must be an http:// or https:// URL',
    );
    expect(() => createJudge({ url: base, model: '' })).toThrow(/LLM judge config: model:/);
    expect(requests).toHaveLength(0);
  });

  it('fills defaults for the optional fields', () => {
    expect(createJudge({ url: base, model: 'm' }).config).toEqual({
      url: base,
      model: 'm',
      apiKeyEnv: 'OPENAI_API_KEY',
      timeoutMs: 30_000,
      maxRetries: 4,
      backoffMs: 500,
      maxBackoffMs: 30_000,
      temperature: 0,
    });
  });
});
