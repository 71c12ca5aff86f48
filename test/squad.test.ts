import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SealError } from '../src/errors.js';
import { answerPrompt, loadSquad, SELF_EDIT_STYLES, selfEditPrompt, squadTask } from '../src/tasks/squad.js';
import {
  exactMatch,
  exactMatchScorer,
  f1Score,
  f1Scorer,
  metricMaxOverGolds,
  normalizeAnswer,
} from '../src/tasks/squad-score.js';
import type { Context } from '../src/tasks/types.js';

// Repo root is one level above test/; the shared data sits beside the repo.
const SQUAD_DIR = fileURLToPath(new URL('../../shared/data/squad/', import.meta.url));
const DEV = join(SQUAD_DIR, 'squad_v1.1_dev.json');
const SELF_EDITS = join(SQUAD_DIR, 'squad_train100_qwen2.5-7b_selfedits.json');
const haveShared = existsSync(DEV) && existsSync(SELF_EDITS);
const SKIP_NOTE = haveShared ? '' : ` (skipped: ${SQUAD_DIR} is absent)`;

describe('normalizeAnswer (official evaluate-v1.1.py semantics)', () => {
  it('lower-cases and collapses whitespace', () => {
    expect(normalizeAnswer('  Denver   BRONCOS\t\n')).toBe('denver broncos');
  });
  it('removes articles only as whole words', () => {
    expect(normalizeAnswer('The theater')).toBe('theater');
    expect(normalizeAnswer('an anthem, a banana')).toBe('anthem banana');
    expect(normalizeAnswer('Theatre of the Absurd')).toBe('theatre of absurd');
  });
  it('removes ASCII punctuation in place, joining the pieces', () => {
    expect(normalizeAnswer('U.S.')).toBe('us');
    expect(normalizeAnswer("Levi's Stadium")).toBe('levis stadium');
    expect(normalizeAnswer('24–10')).toBe('24–10'); // en dash is not in string.punctuation
    expect(normalizeAnswer('“gold”')).toBe('“gold”');
  });
  it('strips punctuation before articles, so "the-end" becomes one word', () => {
    expect(normalizeAnswer('the-end')).toBe('theend');
    expect(normalizeAnswer('(a) answer')).toBe('answer');
  });
  it("treats non-ASCII letters as word characters, like Python's Unicode \\b", () => {
    expect(normalizeAnswer('éthe')).toBe('éthe');
    expect(normalizeAnswer('the été')).toBe('été');
  });
});

describe('exact match and F1', () => {
  it('exact match ignores case, punctuation, articles and spacing', () => {
    expect(exactMatch('the  Denver Broncos.', 'Denver Broncos')).toBe(1);
    expect(exactMatch('Denver', 'Denver Broncos')).toBe(0);
  });
  it('F1 uses multiset (Counter) intersection for repeated tokens', () => {
    // x x y vs x y y: common {x:1, y:1} = 2, precision 2/3, recall 2/3.
    expect(f1Score('x x y', 'x y y')).toBeCloseTo(2 / 3, 12);
    // "a a b" vs "a b b": the articles vanish, leaving "b" vs "b b": precision 1, recall 1/2.
    expect(f1Score('a a b', 'a b b')).toBeCloseTo(2 / 3, 12);
    // x x x vs x: common 1, precision 1/3, recall 1 -> 0.5.
    expect(f1Score('x x x', 'x')).toBeCloseTo(0.5, 12);
    expect(f1Score('Denver Broncos', 'the Denver Broncos!')).toBe(1);
  });
  it('an empty prediction scores 0, even against an answer that normalises to nothing', () => {
    expect(f1Score('', 'Denver')).toBe(0);
    expect(f1Score('', 'the')).toBe(0);
    expect(exactMatch('', 'Denver')).toBe(0);
    expect(f1Score('Denver', '')).toBe(0);
  });
  it('takes the maximum over all golds', () => {
    const golds = ['Santa Clara, California', "Levi's Stadium", 'Santa Clara'];
    expect(metricMaxOverGolds(exactMatch, 'santa clara', golds)).toBe(1);
    // Best is "Levi's Stadium" (or "Santa Clara"): 2 common of 5 predicted, 2 of 2 gold -> 2·0.4·1/1.4 = 4/7.
    expect(metricMaxOverGolds(f1Score, 'Levis Stadium in Santa Clara', golds)).toBeCloseTo(4 / 7, 12);
    expect(exactMatchScorer.score('levi’s stadium', golds)).toBe(0); // curly apostrophe survives
    expect(f1Scorer.score('Santa Clara California', golds)).toBe(1);
  });
  it('refuses to score a question without golds', () => {
    expect(() => exactMatchScorer.score('x', [])).toThrow(SealError);
  });
});

describe('prompts', () => {
  const ctx = { title: 'Super Bowl 50', passage: 'Costs $& rose to {title} $1.' };
  it('fills the implications template literally, without re-substituting or $-patterns', () => {
    expect(selfEditPrompt(ctx)).toBe(
      "Let's read the following passage and produce a list of implications derived directly or indirectly from " +
        'the content.\n\nPassage:\nSuper Bowl 50\nCosts $& rose to {title} $1.\n\nImplications:\n',
    );
  });
  it('has every SEAL style, each containing the title and passage', () => {
    expect(SELF_EDIT_STYLES).toEqual([
      'implications',
      'implications-long',
      'implications-very-long',
      'rewrite',
      'self-qa',
    ]);
    for (const style of SELF_EDIT_STYLES) {
      expect(selfEditPrompt(ctx, style)).toContain(
        'Passage:\nSuper Bowl 50\nCosts $& rose to {title} $1.\n\n',
      );
    }
    expect(selfEditPrompt(ctx, 'self-qa').endsWith('Question 1: ')).toBe(true);
  });
  it('builds the no-context answer prompt with the topic line', () => {
    expect(answerPrompt({ title: 'Super Bowl 50' }, { question: 'Who won?' })).toBe(
      "Let's answer a question directly and concisely.\nQuestion: Topic: Super Bowl 50\nWho won?\nAnswer:\n",
    );
  });
  it.runIf(haveShared)(
    `reproduces the implications prompt stored with the Qwen2.5-7B self-edits${SKIP_NOTE}`,
    async () => {
      const stored = JSON.parse(await readFile(SELF_EDITS, 'utf8')) as { prompt: string }[];
      const contexts = await loadSquad(SELF_EDITS); // extra keys (completions, prompt) are ignored
      expect(contexts).toHaveLength(100);
      contexts.forEach((c, i) => {
        expect(selfEditPrompt(c)).toBe(stored[i]!.prompt);
      });
    },
  );
});

describe('loadSquad', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-squad-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const write = async (name: string, content: unknown) => {
    const path = join(dir, name);
    await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  };
  const rejection = async (path: string): Promise<SealError> => {
    const error = await loadSquad(path).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SealError);
    return error as SealError;
  };

  it.runIf(haveShared)(`loads the SEAL dev set: 2,067 passages, 10,570 questions${SKIP_NOTE}`, async () => {
    const contexts = await loadSquad(DEV);
    expect(contexts).toHaveLength(2067);
    expect(contexts.reduce((n, c) => n + c.questions.length, 0)).toBe(10570);
    expect(contexts[0]).toMatchObject({ id: 'squad-0', title: 'Super Bowl 50' });
    expect(contexts[0]!.questions[0]).toEqual({
      question: 'Which NFL team represented the AFC at Super Bowl 50?',
      answers: ['Denver Broncos'],
    });
    expect(new Set(contexts.map((c) => c.id)).size).toBe(2067);
  });

  it('loads the official layout with every distinct gold and SEAL-style titles', async () => {
    const path = await write('official.json', {
      version: '1.1',
      data: [
        {
          title: 'Super_Bowl_50',
          paragraphs: [
            {
              context: 'Super Bowl 50 was played at Levi’s Stadium in Santa Clara, California.',
              qas: [
                {
                  id: '56be4db0acb8001400a502ec',
                  question: 'Where was Super Bowl 50?',
                  answers: [
                    { text: 'Santa Clara, California', answer_start: 46 },
                    { text: 'Levi’s Stadium', answer_start: 29 },
                    { text: 'Santa Clara, California', answer_start: 46 },
                  ],
                },
              ],
            },
            { context: 'Second paragraph.', qas: [] },
          ],
        },
      ],
    });
    const contexts = await loadSquad(path);
    expect(contexts.map((c) => c.id)).toEqual(['squad-0', 'squad-1']);
    expect(contexts[0]!.title).toBe('Super Bowl 50');
    expect(contexts[0]!.questions[0]!.answers).toEqual(['Santa Clara, California', 'Levi’s Stadium']);
  });

  it('rejects a file that is not JSON, naming the file', async () => {
    const path = await write('broken.json', '[{"title": "x",');
    expect((await rejection(path)).message).toMatch(/broken\.json: not valid JSON/);
  });

  it('rejects a missing file', async () => {
    expect((await rejection(join(dir, 'nope.json'))).message).toMatch(
      /nope\.json: cannot read SQuAD file \(ENOENT\)/,
    );
  });

  it('names the JSON path of a missing context', async () => {
    const path = await write('nocontext.json', [
      { title: 'A', context: 'ok', questions: [] },
      { title: 'B', questions: [] },
    ]);
    expect((await rejection(path)).message).toBe(`${path}: [1].context: missing (expected string)`);
  });

  it('names the JSON path of an answer that is not a string', async () => {
    const path = await write('badanswer.json', [
      {
        title: 'A',
        context: 'ok',
        questions: [
          { question: 'q', answer: 'a' },
          { question: 'q', answer: 7 },
        ],
      },
    ]);
    expect((await rejection(path)).message).toBe(
      `${path}: [0].questions[1].answer: expected string, got number`,
    );
  });

  it('rejects an empty passage, naming the entry', async () => {
    const path = await write('empty.json', [{ title: 'A', context: '  \n', questions: [] }]);
    expect((await rejection(path)).message).toBe(`${path}: [0].context: must not be empty`);
  });

  it('names the path inside the official layout too', async () => {
    const path = await write('official-bad.json', {
      data: [{ title: 'T', paragraphs: [{ context: 'c', qas: [{ id: 'x', question: 'q', answers: [] }] }] }],
    });
    expect((await rejection(path)).message).toMatch(
      /official-bad\.json: data\[0\]\.paragraphs\[0\]\.qas\[0\]\.answers: has no answers/,
    );
  });

  it('rejects JSON of neither layout', async () => {
    const path = await write('other.json', { foo: 1 });
    expect((await rejection(path)).message).toMatch(/other\.json: expected a JSON list .* got object/);
  });
});

describe('squadTask', () => {
  const contexts: Context[] = Array.from({ length: 5 }, (_, i) => ({
    id: `squad-${i}`,
    title: `T${i}`,
    passage: `P${i}`,
    questions: [{ question: `Q${i}?`, answers: [`A${i}`] }],
  }));

  it('defaults to one split, exact match, the no-context prompt and a newline stop', () => {
    const task = squadTask(contexts);
    expect(Object.keys(task.splits)).toEqual(['all']);
    expect(task.splits['all']).toHaveLength(5);
    expect(task.scorer.name).toBe('exact_match');
    expect(task.answerStop).toEqual(['\n']);
    expect(task.answerPrompt(contexts[0]!, contexts[0]!.questions[0]!)).toBe(
      "Let's answer a question directly and concisely.\nQuestion: Topic: T0\nQ0?\nAnswer:\n",
    );
  });

  it('takes consecutive sized splits and offers F1', () => {
    const task = squadTask(contexts, { splits: { train: 3, eval: 2 }, scorer: 'f1' });
    expect(task.splits['train']!.map((c) => c.id)).toEqual(['squad-0', 'squad-1', 'squad-2']);
    expect(task.splits['eval']!.map((c) => c.id)).toEqual(['squad-3', 'squad-4']);
    expect(task.scorer.score('A3 and more', ['A3'])).toBeCloseTo(0.5, 12);
  });

  it('rejects splits larger than the data', () => {
    expect(() => squadTask(contexts, { splits: { train: 4, eval: 2 } })).toThrow(
      /splits\.eval: needs passages 4\.\.5/,
    );
  });
});
