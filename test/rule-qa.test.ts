/** The rule-based QA baseline reads every fact from the passage alone, and writes it in the seen wordings. */
import { describe, expect, it } from 'vitest';
import { ATTRIBUTES, bundledBiosData } from '../src/tasks/people/data.js';
import { extractFacts, ruleBasedQa } from '../src/tasks/people/rule-qa.js';
import { heldOutQuestions, passage, qaText, seenQuestions } from '../src/tasks/people/text.js';
import { attributeValue, generateWorld, splitPeople } from '../src/tasks/people/world.js';

describe('rule-based QA', () => {
  const data = bundledBiosData();
  const world = generateWorld({ seed: 1 });

  it('extracts all six facts of every held-out person from the passage', () => {
    const people = [...splitPeople(world, 'eval'), ...splitPeople(world, 'val'), ...splitPeople(world, 'rl')];
    let right = 0;
    for (const p of people) {
      const facts = extractFacts(passage(p, world.config.seed), data);
      for (const a of ATTRIBUTES) if (facts[a] === attributeValue(p, a)) right++;
    }
    expect(right).toBe(6 * people.length);
  });

  it('writes a QA pair per fact and seen wording (none held out), and nothing for a passage without facts', () => {
    const p = splitPeople(world, 'eval')[0]!;
    const text = ruleBasedQa(p.fullName, passage(p, world.config.seed), data);
    expect(text.split('\n').filter((l) => l.startsWith('Q: '))).toHaveLength(seenQuestions(p).length);
    for (const q of seenQuestions(p)) expect(text).toContain(qaText(q.question, q.answers[0]!));
    for (const q of heldOutQuestions(p)) expect(text).not.toContain(q.question);
    expect(ruleBasedQa('Nobody', 'Nothing to see here.', data)).toBe('');
    // One pair per fact: six pairs, each the fact's first demonstration wording.
    const short = ruleBasedQa(p.fullName, passage(p, world.config.seed), data, { onePerFact: true });
    expect(short.split('\n').filter((l) => l.startsWith('Q: '))).toHaveLength(6);
    for (const line of short.split('\n')) expect(text).toContain(line);
  });
});
