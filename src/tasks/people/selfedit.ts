/**
 * Self-edit prompts for the people world, and the demonstrations of them that go into the base model's
 * pretraining corpus. The demonstrations restate a random subset (1–6) of a pretraining person's facts in one of
 * three styles, so that a model sampled on a new passage writes self-edits of varying usefulness — the variation
 * SEAL's RL selects on. At adaptation time self-edits only ever come from sampling the model.
 */
import type { Rng } from '../../util/rng.js';
import { ATTRIBUTES, type Attribute, bundledBiosData } from './data.js';
import type { PretrainDocument, PretrainDocumentSource } from './task.js';
import { BIO_ORDER, bioSentence, passage, QUESTION_TEMPLATES, qaText, question } from './text.js';
import { attributeValue, type Person, splitPeople, type World } from './world.js';

export const PEOPLE_SELF_EDIT_STYLES = ['implications', 'rewrite', 'self-qa'] as const;
export type PeopleSelfEditStyle = (typeof PEOPLE_SELF_EDIT_STYLES)[number];

const INSTRUCTIONS: Readonly<Record<PeopleSelfEditStyle, string>> = {
  implications: 'Implications:',
  rewrite: 'Rewrite:',
  'self-qa': 'Questions and answers:',
};

/** SEAL's prompt shape: the passage with its title, then the instruction; the model continues on the next line. */
export function peopleSelfEditPrompt(title: string, passageText: string, style: PeopleSelfEditStyle): string {
  return `Passage: ${title}\n${passageText}\n${INSTRUCTIONS[style]}\n`;
}

/** A completion in `style` restating `facts` (in the given order). */
export function demoCompletion(
  person: Person,
  facts: readonly Attribute[],
  style: PeopleSelfEditStyle,
  rng: Rng,
): string {
  const templates = bundledBiosData().templates;
  switch (style) {
    case 'implications':
      return facts.map((a) => bioSentence(person, a, rng.pick(templates[a]), person.fullName)).join('\n');
    case 'rewrite':
      // A paragraph in the passage's own form (pronouns after the first sentence): less extractable on purpose.
      return facts
        .map((a, i) =>
          bioSentence(person, a, rng.pick(templates[a]), i === 0 ? person.fullName : person.pronoun),
        )
        .join(' ');
    case 'self-qa':
      return facts
        .map((a) => qaText(question(person, QUESTION_TEMPLATES[a]), attributeValue(person, a)))
        .join('\n');
    default: {
      const never: never = style;
      throw new Error(`unreachable style ${String(never)}`);
    }
  }
}

export interface DemoOptions {
  /** Demonstrations per pretraining person and style. */
  readonly perStyle: number;
}

/** The pretraining source of self-edit demonstrations (see task.ts `extraSources`). */
export function selfEditDemos(options: DemoOptions = { perStyle: 1 }): PretrainDocumentSource {
  return (world: World, rng: Rng): PretrainDocument[] => {
    const docs: PretrainDocument[] = [];
    for (const person of splitPeople(world, 'pretrain')) {
      const text = passage(person, world.config.seed);
      for (const style of PEOPLE_SELF_EDIT_STYLES) {
        for (let i = 0; i < options.perStyle; i++) {
          const k = 1 + rng.int(ATTRIBUTES.length);
          const facts = style === 'rewrite' ? BIO_ORDER.filter(() => true) : [...ATTRIBUTES];
          rng.shuffle(facts);
          const chosen = facts.slice(0, k);
          if (style === 'rewrite') chosen.sort((a, b) => BIO_ORDER.indexOf(a) - BIO_ORDER.indexOf(b));
          const prompt = peopleSelfEditPrompt(person.fullName, text, style);
          docs.push({
            kind: `demo-${style}`,
            personId: person.id,
            text: `${prompt}${demoCompletion(person, chosen, style, rng)}`,
          });
        }
      }
    }
    return docs;
  };
}
