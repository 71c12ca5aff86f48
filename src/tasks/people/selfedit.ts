/**
 * Self-edit prompts for the people world, and the demonstrations of them that go into the base model's
 * pretraining corpus. The demonstrations restate a random subset (1–6) of a pretraining person's facts in one of
 * three styles, so that a model sampled on a new passage writes self-edits of varying usefulness — the variation
 * SEAL's RL selects on. At adaptation time self-edits only ever come from sampling the model.
 */
import type { Rng } from '../../util/rng.js';
import { ATTRIBUTES, type Attribute, bundledBiosData } from './data.js';
import type { PretrainDocument, PretrainDocumentSource } from './task.js';
import { BIO_ORDER, bioSentence, passage, QUESTION_WORDINGS, qaText, question } from './text.js';
import { attributeValue, generateWorld, type Person, personRng, splitPeople, type World } from './world.js';

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

/**
 * The template each attribute's sentence uses in `person`'s passage: `passage()` draws one per attribute, in
 * BIO_ORDER, from the person's passage stream, so replaying that stream recovers them.
 */
export function passageTemplates(person: Person, seed: number): Readonly<Record<Attribute, string>> {
  const lists = bundledBiosData().templates;
  const rng = personRng(seed, person.id, 'passage');
  const out = {} as Record<Attribute, string>;
  for (const a of BIO_ORDER) out[a] = rng.pick(lists[a]);
  return out;
}

/**
 * A completion in `style` restating `facts` (in the given order). Restatements reuse the passage's own sentence
 * for each fact (a span the model can copy) with the full name as subject — what the pronoun-laden passage lacks.
 * Self-QA asks each fact in one of its `demo`-tier wordings, drawn from `rng` (never a reward or held-out wording).
 */
export function demoCompletion(
  person: Person,
  facts: readonly Attribute[],
  style: PeopleSelfEditStyle,
  templates: Readonly<Record<Attribute, string>>,
  rng: Rng,
): string {
  switch (style) {
    case 'implications':
      return facts.map((a) => bioSentence(person, a, templates[a], person.fullName)).join('\n');
    case 'rewrite':
      // The passage's own form (pronouns after the first sentence): restates, but is less extractable on purpose.
      return facts
        .map((a, i) => bioSentence(person, a, templates[a], i === 0 ? person.fullName : person.pronoun))
        .join(' ');
    case 'self-qa':
      return facts
        .map((a) => qaText(question(person, rng.pick(QUESTION_WORDINGS[a].demo)), attributeValue(person, a)))
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

/** One demonstration: the passage prompt in `style`, completed with a random subset (1–6) of the person's facts. */
function demo(
  person: Person,
  seed: number,
  style: PeopleSelfEditStyle,
  rng: Rng,
  kind: string,
  personId: string,
): PretrainDocument {
  const k = 1 + rng.int(ATTRIBUTES.length);
  const facts = [...ATTRIBUTES];
  rng.shuffle(facts);
  const chosen = facts.slice(0, k);
  if (style === 'rewrite') chosen.sort((a, b) => BIO_ORDER.indexOf(a) - BIO_ORDER.indexOf(b));
  const prompt = peopleSelfEditPrompt(person.fullName, passage(person, seed), style);
  return {
    kind,
    personId,
    text: `${prompt}${demoCompletion(person, chosen, style, passageTemplates(person, seed), rng)}`,
  };
}

/**
 * Demonstrations about people who exist nowhere else in the corpus: their facts can only be read from the passage,
 * so the model must learn to copy from context (on the pretraining people it can recite memorised facts instead,
 * which does not transfer to new people). They come from a separate world seed and share no name with anyone in
 * the main world.
 */
/** Seed offset of the world the copy demonstrations' people come from. */
export const COPY_WORLD_OFFSET = 7919;

/**
 * The first `count` people of an auxiliary world (`world`'s config, seed + `offset`) whose full names neither equal,
 * contain nor are contained in any of `taken`: nobody the model could confuse them with. `oversample` sizes the
 * auxiliary world (people are drawn in order, so a larger one only appends).
 */
export function unclashingPeople(
  world: World,
  offset: number,
  count: number,
  taken: readonly string[],
  oversample: number,
): { people: Person[]; seed: number } {
  const other = generateWorld({
    ...world.config,
    seed: world.config.seed + offset,
    pretrainPeople: Math.ceil(count * oversample) + 10,
    rlPeople: 1,
    evalPeople: 1,
    valPeople: 0,
  });
  const exact = new Set(taken);
  const people = splitPeople(other, 'pretrain')
    .filter(
      (p) => !exact.has(p.fullName) && !taken.some((n) => n.includes(p.fullName) || p.fullName.includes(n)),
    )
    .slice(0, count);
  return { people, seed: other.config.seed };
}

export function copyDemos(count: number): PretrainDocumentSource {
  return (world: World, rng: Rng): PretrainDocument[] => {
    if (count === 0) return [];
    const { people, seed } = unclashingPeople(
      world,
      COPY_WORLD_OFFSET,
      count,
      world.people.map((p) => p.fullName),
      1.1,
    );
    return people.map((p) =>
      demo(p, seed, rng.pick(PEOPLE_SELF_EDIT_STYLES), rng, 'demo-copy', `copy:${p.id}`),
    );
  };
}

/** The pretraining source of self-edit demonstrations (see task.ts `extraSources`). */
export function selfEditDemos(options: DemoOptions = { perStyle: 1 }): PretrainDocumentSource {
  return (world: World, rng: Rng): PretrainDocument[] => {
    const docs: PretrainDocument[] = [];
    for (const person of splitPeople(world, 'pretrain')) {
      for (const style of PEOPLE_SELF_EDIT_STYLES) {
        for (let i = 0; i < options.perStyle; i++)
          docs.push(demo(person, world.config.seed, style, rng, `demo-${style}`, person.id));
      }
    }
    return docs;
  };
}
