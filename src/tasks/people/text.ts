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

/** The canonical question per attribute; these are the task's questions and the pretraining QA pairs. */
export const QUESTION_TEMPLATES: Readonly<Record<Attribute, string>> = {
  birth_date: 'What is the birth date of {name}?',
  birth_city: 'Where was {name} born?',
  university: 'Which university did {name} attend?',
  field: 'What did {name} study?',
  company: 'Which company does {name} work for?',
  company_city: 'Where does {name} work?',
};

/** Other wordings of each question, for measuring whether an edit generalises beyond the canonical phrasing. */
export const PARAPHRASE_TEMPLATES: Readonly<Record<Attribute, readonly string[]>> = {
  birth_date: ['When was {name} born?', "What is {name}'s date of birth?", 'On what date was {name} born?'],
  birth_city: [
    'In which city was {name} born?',
    'What is the birth city of {name}?',
    'What city is {name} from?',
  ],
  university: [
    'Where did {name} go to university?',
    'At which university did {name} study?',
    'What school did {name} graduate from?',
  ],
  field: [
    "What was {name}'s field of study?",
    'What did {name} major in?',
    'Which subject did {name} specialize in?',
  ],
  company: [
    'Who employs {name}?',
    "What is the name of {name}'s employer?",
    'At which company is {name} employed?',
  ],
  company_city: [
    'In which city does {name} work?',
    "In which city is {name}'s employer located?",
    "What city is {name}'s workplace in?",
  ],
};

export function question(person: Person, template: string): string {
  return fill(template, 'name', person.fullName);
}

/**
 * The six canonical questions, kind = attribute. The single gold answer is the exact attribute string as the
 * biographies state it (`Chicago, IL`, `March 5, 1987`): the model is pretrained to answer in exactly that form, and
 * crediting a bare "Chicago" would count half a fact as known.
 */
export function canonicalQuestions(person: Person): QuestionAnswer[] {
  return ATTRIBUTES.map((kind) => ({
    question: question(person, QUESTION_TEMPLATES[kind]),
    answers: [attributeValue(person, kind)],
    kind,
  }));
}

/** Every paraphrased question, attribute by attribute, kind = attribute; same golds as the canonical ones. */
export function paraphraseQuestions(person: Person): QuestionAnswer[] {
  return ATTRIBUTES.flatMap((kind) =>
    PARAPHRASE_TEMPLATES[kind].map((template) => ({
      question: question(person, template),
      answers: [attributeValue(person, kind)],
      kind,
    })),
  );
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
