/**
 * Issue #15's wording split: the held-out question wordings occur in no self-edit demonstration, no reward and no
 * rule-based self-edit; the pretraining corpus asks the QA people in every wording.
 */
import { describe, expect, it } from 'vitest';
import { rlContexts } from '../src/seal/domains/people.js';
import { ATTRIBUTES, bundledBiosData } from '../src/tasks/people/data.js';
import { ruleBasedQa } from '../src/tasks/people/rule-qa.js';
import { copyDemos, selfEditDemos } from '../src/tasks/people/selfedit.js';
import { peopleTask, pretrainDocuments } from '../src/tasks/people/task.js';
import { allWordings, QUESTION_WORDINGS, seenWordings } from '../src/tasks/people/text.js';
import { generateWorld } from '../src/tasks/people/world.js';
import { Rng } from '../src/util/rng.js';

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A wording as a pattern matching it with any name. */
const pattern = (wording: string) => {
  const [pre, post] = wording.split('{name}') as [string, string];
  return new RegExp(`${escapeRe(pre)}.+?${escapeRe(post)}`);
};
const heldOut = ATTRIBUTES.flatMap((a) => QUESTION_WORDINGS[a].heldOut);
const heldOutPatterns = heldOut.map(pattern);
const mentionsHeldOut = (text: string) =>
  text.split('\n').some((line) => heldOutPatterns.some((re) => re.test(line)));

describe('question wordings', () => {
  it('are split into demo, reward and held-out tiers that share no wording', () => {
    const every = ATTRIBUTES.flatMap((a) => allWordings(a));
    expect(new Set(every).size).toBe(every.length);
    for (const a of ATTRIBUTES) {
      const w = QUESTION_WORDINGS[a];
      expect(w.demo.length).toBeGreaterThanOrEqual(1);
      expect(w.reward.length).toBeGreaterThanOrEqual(1);
      expect(w.heldOut.length).toBeGreaterThanOrEqual(2);
      for (const t of allWordings(a)) expect(t).toContain('{name}');
    }
    // No held-out wording matches a seen one with some name (a seen question is never a held-out one).
    for (const a of ATTRIBUTES) {
      for (const seen of seenWordings(a)) {
        const asked = seen.replace('{name}', 'Ada Lee Byron');
        expect(
          heldOutPatterns.some((re) => re.test(asked)),
          asked,
        ).toBe(false);
      }
    }
  });

  const world = generateWorld({ seed: 5, pretrainPeople: 60, rlPeople: 10, evalPeople: 10, valPeople: 10 });

  it('no held-out wording occurs in any self-edit demonstration (pretraining or copy people)', () => {
    const rng = new Rng(3);
    const demos = [
      ...selfEditDemos({ perStyle: 3 })(world, rng.fork(0)),
      ...copyDemos(400)(world, rng.fork(1)),
    ];
    const qaDemos = demos.filter((d) => d.text.includes('\nQ: '));
    expect(qaDemos.length).toBeGreaterThan(50);
    for (const d of demos) expect(mentionsHeldOut(d.text), d.text).toBe(false);
    // Self-QA demonstrations ask only demo-tier wordings.
    const demoPatterns = ATTRIBUTES.flatMap((a) => QUESTION_WORDINGS[a].demo).map(pattern);
    for (const d of qaDemos) {
      for (const line of d.text.split('\n').filter((l) => l.startsWith('Q: '))) {
        expect(
          demoPatterns.some((re) => re.test(line)),
          line,
        ).toBe(true);
      }
    }
  });

  it('no reward asks a held-out wording: RL contexts carry seen-wording questions only', () => {
    const task = peopleTask(world);
    const rl = rlContexts(world, task, 40); // the split's 10 plus 30 auxiliary people
    expect(rl).toHaveLength(40);
    for (const c of rl) {
      expect(c.heldOutQuestions).toBeUndefined();
      for (const q of c.questions) expect(mentionsHeldOut(q.question), q.question).toBe(false);
    }
    // Evaluation people carry the held-out wordings, apart from the questions a reward would read.
    for (const c of task.splits['eval'] ?? []) {
      expect(c.heldOutQuestions?.length).toBe(heldOut.length);
      for (const q of c.questions) expect(mentionsHeldOut(q.question)).toBe(false);
      for (const q of c.heldOutQuestions ?? []) expect(mentionsHeldOut(q.question)).toBe(true);
    }
  });

  it('the rule-based reference writes no held-out wording; pretraining QA asks every wording', () => {
    for (const c of peopleTask(world).splits['eval'] ?? []) {
      expect(mentionsHeldOut(ruleBasedQa(c.title, c.passage, bundledBiosData()))).toBe(false);
    }
    const docs = pretrainDocuments(world, new Rng(1));
    const qa = docs.filter((d) => d.kind === 'qa').map((d) => d.text);
    for (const t of heldOut)
      expect(
        qa.some((text) => pattern(t).test(text)),
        t,
      ).toBe(true);
  });
});
