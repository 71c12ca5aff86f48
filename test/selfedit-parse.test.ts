import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { selfEditSequences, splitSelfEdit, stripPreamble } from '../src/seal/selfedit/parse.js';
import { SHARED } from './helpers/paths.js';

interface Entry {
  title: string;
  context: string;
  completions: string[];
}

const file = join(SHARED, 'squad', 'squad_train100_qwen2.5-7b_selfedits.json');
const entries: Entry[] | undefined = (() => {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Entry[];
  } catch {
    return undefined;
  }
})();

describe('self-edit parsing', () => {
  it('drops a chatty preamble, splits on --- and lines, keeps Q with A', () => {
    expect(stripPreamble('Sure! Here are the implications:\n1. A\n2. B')).toBe('1. A\n2. B');
    expect(stripPreamble('Surely A.\n')).toBe('Surely A.\n'); // "Surely" is content, not "Sure"
    expect(splitSelfEdit('a\n\nb\n---\nc', 'lines').filter(Boolean)).toEqual(['a', 'b', 'c']);
    expect(splitSelfEdit('block one\nstill one\n---\nblock two', 'none')).toEqual([
      'block one\nstill one',
      'block two',
    ]);
    const qa = 'Question 1: Who?\nAnswer: Ann.\nQuestion 2: Where?\nAnswer: Paris.';
    expect(splitSelfEdit(qa, 'qa')).toEqual([
      'Question 1: Who?\nAnswer: Ann.',
      'Question 2: Where?\nAnswer: Paris.',
    ]);
    const people = 'Q: Where was Ann Lee born?\nA: Chicago, IL\nQ: What did Ann Lee study?\nA: Physics';
    expect(splitSelfEdit(`Ann Lee was born in Paris.\n${people}`, 'lines')).toEqual([
      'Ann Lee was born in Paris.',
      'Q: Where was Ann Lee born?\nA: Chicago, IL',
      'Q: What did Ann Lee study?\nA: Physics',
    ]);
    expect(splitSelfEdit(people, 'qa')).toEqual([
      'Q: Where was Ann Lee born?\nA: Chicago, IL',
      'Q: What did Ann Lee study?\nA: Physics',
    ]);
  });

  it('caps, prefixes the title and appends the passage', () => {
    const seqs = selfEditSequences(
      'xx1\nxx2\nxx3\n',
      { title: 'T', passage: 'P.' },
      { maxSequences: 2, appendPassage: true },
    );
    expect(seqs).toEqual(['T\nxx1', 'T\nxx2', 'T\nP.']);
  });

  it.runIf(entries !== undefined)('parses the real Qwen2.5-7B self-edits (100 passages × 10 samples)', () => {
    let total = 0;
    let completions = 0;
    for (const e of entries ?? []) {
      for (const c of e.completions) {
        completions++;
        const seqs = selfEditSequences(c, { title: e.title, passage: e.context });
        total += seqs.length;
        for (const s of seqs) {
          expect(s.startsWith(`${e.title}\n`)).toBe(true);
          expect(s.length).toBeGreaterThan(e.title.length + 3);
          expect(s).not.toMatch(/^\S.*\n\s*$/); // no trailing blank line
          expect(s.includes('\n---')).toBe(false);
        }
        // Numbered implications become one sequence each.
        const numbered = c.split('\n').filter((l) => /^\s*\d+\.\s/.test(l)).length;
        expect(seqs.length).toBeGreaterThanOrEqual(Math.min(numbered, 64));
      }
    }
    expect(completions).toBe(1000);
    expect(total / completions).toBeGreaterThan(3);
  });
});
