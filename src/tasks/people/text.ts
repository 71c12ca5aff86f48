/**
 * Text for the people world: bioS biographies (Physics of Language Models 3.1), the questions asked about a
 * person, and the one Q/A format shared by pretraining data and the no-context answer prompt.
 */
import type { Rng } from '../../util/rng.js';
import type { QuestionAnswer } from '../types.js';
import {
  ATTRIBUTES,
  type Attribute,
  type BioTemplates,
  bundledBiosData,
  TEMPLATE_PLACEHOLDERS,
} from './data.js';
import { attributeValue, type Person, personRng } from './world.js';

/** The bioS sentence order: birthday, birth city, university, field, company city, company name. */
export const BIO_ORDER: readonly Attribute[] = [
  'birth_date',
  'birth_city',
  'university',
  'field',
  'company_city',
  'company',
];

export interface BiographyOptions {
  /** `fixed`: BIO_ORDER (default); `shuffled`: a random sentence order. */
  readonly order?: 'fixed' | 'shuffled';
  /** `random`: one random template per attribute (default); `first`: always each list's first template. */
  readonly templates?: 'random' | 'first';
  /**
   * `first` (default, the bioS rule): full name in the first sentence, the pronoun in the rest. `every`: the full
   * name in every sentence, which Physics of LMs 3.1 finds is what makes facts extractable by QA afterwards.
   */
  readonly names?: 'first' | 'every';
  /** Template lists to use instead of the bundled bioS ones. */
  readonly templateSet?: BioTemplates;
}

function fill(template: string, placeholder: string, value: string): string {
  // A function replacer, so `$` in values is literal.
  return template.replace(`{${placeholder}}`, () => value);
}

/**
 * One sentence about `attribute`, with `subject` (full name or pronoun) for `{name}`. Two fixes upstream's plain
 * substitution lacks: a pronoun before `'s` becomes His/Her ("He's birthday" otherwise), and a value ending in a
 * period ("Washington D.C.") does not get a second one.
 */
export function bioSentence(person: Person, attribute: Attribute, template: string, subject: string): string {
  let text = template;
  if (subject === person.pronoun && text.startsWith("{name}'s ")) {
    text = (person.pronoun === 'He' ? 'His' : 'Her') + text.slice("{name}'s".length);
  } else {
    text = fill(text, 'name', subject);
  }
  const value = attributeValue(person, attribute);
  text = fill(text, TEMPLATE_PLACEHOLDERS[attribute], value);
  if (value.endsWith('.') && text.endsWith(`${value}.`)) text = text.slice(0, -1);
  return text;
}

/**
 * A biography of `person`: one sentence per attribute, joined by single spaces (upstream prefixes each sentence
 * with a space; the leading one is dropped). Draws from `rng` only for templates (if random) then order (if
 * shuffled), so a fixed/first biography consumes nothing.
 */
export function biography(person: Person, rng: Rng, options: BiographyOptions = {}): string {
  const lists = options.templateSet ?? bundledBiosData().templates;
  const chosen = BIO_ORDER.map((attribute) => {
    const list = lists[attribute];
    return {
      attribute,
      template: options.templates === 'first' ? list[0]! : rng.pick(list),
    };
  });
  if (options.order === 'shuffled') rng.shuffle(chosen);
  const every = options.names === 'every';
  return chosen
    .map((s, i) =>
      bioSentence(person, s.attribute, s.template, i === 0 || every ? person.fullName : person.pronoun),
    )
    .join(' ');
}

/**
 * The passage SEAL adapts on for a person: one bioS biography in the fixed order with random templates, seeded by
 * the world seed and the person's id so it is the same on every load.
 */
export function passage(person: Person, seed: number, templateSet?: BioTemplates): string {
  const options: BiographyOptions = templateSet === undefined ? {} : { templateSet };
  return biography(person, personRng(seed, person.id, 'passage'), options);
}

/**
 * Question wordings per attribute, in three tiers (issue #15: a test of whether self-edits make knowledge usable,
 * not whether they reproduce the test's answer key):
 * - `demo`: the wordings the self-QA demonstrations in pretraining write (the generator learns these);
 * - `reward`: further wordings the RL reward also asks (a reason for RL to write edits that generalise);
 * - `heldOut`: wordings no self-edit demonstration and no reward ever uses — asked only by evaluation.
 * Pretraining QA about the QA people uses all three tiers, so the model can parse every wording for people it
 * knows: a wrong held-out answer about a new person is the self-edit's failure, not the question parser's.
 * The first `demo` wording is the canonical one.
 */
export interface Wordings {
  readonly demo: readonly [string, ...string[]];
  readonly reward: readonly string[];
  readonly heldOut: readonly string[];
}

export const QUESTION_WORDINGS: Readonly<Record<Attribute, Wordings>> = {
  birth_date: {
    demo: ['What is the birth date of {name}?', 'When was {name} born?'],
    reward: ["What is {name}'s date of birth?", 'On which day was {name} born?'],
    heldOut: [
      'On what date was {name} born?',
      'What date was {name} born on?',
      '{name} was born on what date?',
      "What was the date of {name}'s birth?",
    ],
  },
  birth_city: {
    demo: ['Where was {name} born?', 'In which city was {name} born?'],
    reward: ['What is the birth city of {name}?', 'Which city was {name} born in?'],
    heldOut: [
      'What city is {name} from?',
      "What is {name}'s place of birth?",
      '{name} was born in which city?',
      'Where is {name} originally from?',
    ],
  },
  university: {
    demo: ['Which university did {name} attend?', 'Where did {name} go to university?'],
    reward: ['At which university did {name} study?', 'Which school did {name} attend?'],
    heldOut: [
      'What school did {name} graduate from?',
      "What is {name}'s alma mater?",
      '{name} studied at which university?',
      'Where did {name} get a degree?',
    ],
  },
  field: {
    demo: ['What did {name} study?', "What was {name}'s field of study?"],
    reward: ['What did {name} major in?', 'Which field did {name} study?'],
    heldOut: [
      'Which subject did {name} specialize in?',
      "What was {name}'s major?",
      '{name} studied which field?',
      'What is {name} trained in?',
    ],
  },
  company: {
    demo: ['Which company does {name} work for?', 'Who employs {name}?'],
    reward: ["What is the name of {name}'s employer?", 'Which company employs {name}?'],
    heldOut: [
      'At which company is {name} employed?',
      "Who is {name}'s employer?",
      '{name} works for which company?',
      'What company does {name} work at?',
    ],
  },
  company_city: {
    demo: ['Where does {name} work?', 'In which city does {name} work?'],
    reward: ["In which city is {name}'s employer located?", 'Which city does {name} work in?'],
    heldOut: [
      "What city is {name}'s workplace in?",
      "Where is {name}'s job located?",
      '{name} works in which city?',
      'In what city is {name} employed?',
    ],
  },
};

/** The canonical question per attribute (the first demo wording). */
export const QUESTION_TEMPLATES: Readonly<Record<Attribute, string>> = Object.fromEntries(
  ATTRIBUTES.map((a) => [a, QUESTION_WORDINGS[a].demo[0]]),
) as Record<Attribute, string>;

/** The wordings self-edit demonstrations and the reward may use: demo, then reward tier. */
export function seenWordings(attribute: Attribute): readonly string[] {
  return [...QUESTION_WORDINGS[attribute].demo, ...QUESTION_WORDINGS[attribute].reward];
}

/** Every wording of an attribute, all tiers (the pretraining QA people's questions). */
export function allWordings(attribute: Attribute): readonly string[] {
  return [...seenWordings(attribute), ...QUESTION_WORDINGS[attribute].heldOut];
}

export function question(person: Person, template: string): string {
  return fill(template, 'name', person.fullName);
}

function questionsIn(person: Person, wordings: (a: Attribute) => readonly string[]): QuestionAnswer[] {
  return ATTRIBUTES.flatMap((kind) =>
    wordings(kind).map((template) => ({
      question: question(person, template),
      answers: [attributeValue(person, kind)],
      kind,
    })),
  );
}

/**
 * The six canonical questions, kind = attribute. The single gold answer is the exact attribute string as the
 * biographies state it (`Chicago, IL`, `March 5, 1987`): the model is pretrained to answer in exactly that form, and
 * crediting a bare "Chicago" would count half a fact as known.
 */
export function canonicalQuestions(person: Person): QuestionAnswer[] {
  return questionsIn(person, (a) => [QUESTION_TEMPLATES[a]]);
}

/** The questions a context is rewarded and scored on: every seen wording (demo + reward tiers) of every fact. */
export function seenQuestions(person: Person): QuestionAnswer[] {
  return questionsIn(person, seenWordings);
}

/** The held-out-wording questions (evaluation only), attribute by attribute; same golds as the seen ones. */
export function heldOutQuestions(person: Person): QuestionAnswer[] {
  return questionsIn(person, (a) => QUESTION_WORDINGS[a].heldOut);
}

/** The no-context prompt; the model is expected to continue with ` {answer}\n`. */
export function answerPrompt(questionText: string): string {
  return `Q: ${questionText}\nA:`;
}

/** Generation stops at the end of the answer line. */
export const answerStop: readonly string[] = ['\n'];

/** A QA pair as pretraining text: exactly `answerPrompt(q)` followed by ` {answer}`. */
export function qaText(questionText: string, answer: string): string {
  return `${answerPrompt(questionText)} ${answer}`;
}
