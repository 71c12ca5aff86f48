/** Self-edit fidelity: exact name and exact value per QA pair, distinct facts restated, summaries. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { selfEditFidelity, summariseFidelity } from '../src/tasks/people/fidelity.js';
import { peopleTask } from '../src/tasks/people/task.js';
import { canonicalQuestions, qaText } from '../src/tasks/people/text.js';
import { generateWorld } from '../src/tasks/people/world.js';
import { ROOT } from './helpers/paths.js';

const world = generateWorld({ seed: 3, pretrainPeople: 4, rlPeople: 2, evalPeople: 2 });
const context = peopleTask(world).splits['eval']![0]!;
const q = (kind: string) => context.questions.find((x) => x.kind === kind)!;
const pair = (kind: string, name = context.title, answer = q(kind).answers[0]!) =>
  qaText(q(kind).question.replace(context.title, name), answer);

describe('self-edit fidelity', () => {
  it('counts a fact only when both the full name and the value are exact, each attribute once', () => {
    const edit = [
      pair('birth_city'),
      pair('birth_city'), // a repeat restates no new fact
      pair('company', `${context.title.split(' ')[0]} Nobody`), // garbled name, right value
      pair('university', context.title, 'Nowhere University'), // right name, wrong value
      pair('field'),
      'Q: What is the favourite colour of somebody?',
      'A: blue',
    ].join('\n');
    expect(selfEditFidelity(edit, context)).toEqual({
      pairs: 6,
      recognised: 5,
      nameCorrect: 4,
      valueCorrect: 4,
      correctFacts: 2,
    });
  });

  it('a question without an answer line, or an empty self-edit, restates nothing', () => {
    expect(selfEditFidelity(`Q: ${q('birth_date').question}`, context)).toMatchObject({
      pairs: 1,
      nameCorrect: 1,
      valueCorrect: 0,
      correctFacts: 0,
    });
    expect(selfEditFidelity('', context).pairs).toBe(0);
  });

  it('summaries are per self-edit (facts, pairs) and per pair (rates)', () => {
    const all = canonicalQuestions(world.people.find((p) => p.id === context.id)!)
      .map((x) => qaText(x.question, x.answers[0]!))
      .join('\n');
    const s = summariseFidelity([selfEditFidelity(all, context), selfEditFidelity('', context)]);
    expect(s).toEqual({
      selfEdits: 2,
      pairsPerEdit: 3,
      nameCorrectRate: 1,
      valueCorrectRate: 1,
      correctFactsPerEdit: 3,
    });
  });
});

describe('experiment scripts', () => {
  const script = join(ROOT, 'dist', 'app', 'experiments', 'fidelity.js');
  const run = (...args: string[]) => spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });

  it('--help prints the usage and every option with its description and default; an unknown option or a bad value is a usage error', () => {
    const help = run('--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--run: A seal train run directory');
    expect(help.stdout).toContain('--people: Validation people sampled (default 40)');
    const nan = run('--people', 'many');
    expect(nan.status).toBe(2);
    expect(nan.stderr).toContain('--people: ');
    const bad = run('--bogus');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("Unknown option '--bogus'");
    expect(bad.stderr).toContain('--help lists every option');
  });
});
