/**
 * The people world: fictional people with six facts each, drawn from the bioS attribute lists (Physics of Language
 * Models 3.1). Pretraining people teach a small model how biographies map to answers; rl and eval people are new to
 * it, so SEAL's inner loop has to put their facts into the weights from one passage.
 */
import { z } from 'zod';
import { fail } from '../../errors.js';
import { Rng } from '../../util/rng.js';
import { type Attribute, type BiosData, bundledBiosData } from './data.js';

/**
 * pretrain (in the corpus) / rl (the outer loop's contexts) / eval (the test split: touched only by the final
 * evaluation) / val (every choice — monitor, alarm, rounds, settings — is made here). Drawn in this order, each
 * from its own stream, so adding val left the other three unchanged.
 */
export const SPLITS = ['pretrain', 'rl', 'eval', 'val'] as const;
export type SplitName = (typeof SPLITS)[number];

export const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
] as const;

const count = (max: number) => z.number().int().min(0).max(max);

export const WorldConfigSchema = z
  .object({
    seed: z
      .number()
      .int()
      .min(0)
      .max(0xffffffff)
      .default(1)
      .describe('Seed of every random choice; the same config gives byte-identical world files.'),
    pretrainPeople: count(100_000)
      .min(1)
      .default(400)
      .describe('People in the pretraining corpus (their biographies, and QA pairs for a fraction of them).'),
    rlPeople: count(100_000)
      .default(40)
      .describe('Held-out people whose passages train the self-edit policy (SEAL outer loop).'),
    evalPeople: count(100_000)
      .default(40)
      .describe(
        'Test people: used only by the final evaluation; never trained on by RL or pretraining, never looked at to choose anything.',
      ),
    valPeople: count(100_000)
      .default(40)
      .describe(
        'Validation people: the per-round monitor and every choice of settings; never trained on, never in the test.',
      ),
    biosPerPerson: count(1000)
      .default(5)
      .describe('Augmented biographies per pretraining person (shuffled sentences, full name in each).'),
    qaFraction: z
      .number()
      .min(0)
      .max(1)
      .default(0.5)
      .describe('Fraction of pretraining people whose six QA pairs are also in the pretraining corpus.'),
    minBirthYear: z
      .number()
      .int()
      .min(1)
      .max(9999)
      .default(1950)
      .describe(
        'Earliest birth year, inclusive (PhysicsLM uses 1900; narrowed so everyone is of working age).',
      ),
    maxBirthYear: z
      .number()
      .int()
      .min(1)
      .max(9999)
      .default(2005)
      .describe('Latest birth year, inclusive (PhysicsLM uses 2099).'),
  })
  .strict()
  .refine((c) => c.minBirthYear <= c.maxBirthYear, {
    path: ['maxBirthYear'],
    message: 'must be at least minBirthYear',
  });

export type WorldConfig = z.output<typeof WorldConfigSchema>;
export type WorldConfigInput = z.input<typeof WorldConfigSchema>;

export interface Person {
  /** `<split>-<index>`, e.g. `eval-0007`; also the task's context id. */
  readonly id: string;
  readonly firstName: string;
  readonly middleName: string;
  readonly lastName: string;
  /** `first middle last`; unique in the world. */
  readonly fullName: string;
  /** By the bioS assembly rule on the index within the split: even → male/He, odd → female/She. */
  readonly gender: 'male' | 'female';
  readonly pronoun: 'He' | 'She';
  readonly birthMonth: (typeof MONTHS)[number];
  /** 1–28, as PhysicsLM draws it, so every month/day pair is a real date. */
  readonly birthDay: number;
  readonly birthYear: number;
  /** `Month D, YYYY`, the form biographies and gold answers use. */
  readonly birthDate: string;
  readonly birthCity: string;
  readonly university: string;
  readonly field: string;
  readonly company: string;
  /** The company's city from company.txt, so employer and workplace are consistent. */
  readonly companyCity: string;
}

export interface World {
  readonly config: WorldConfig;
  /** Every person, pretrain first, then rl, then eval, each in index order. */
  readonly people: readonly Person[];
  readonly splits: Readonly<Record<SplitName, readonly string[]>>;
  /** Ids of the pretraining people whose QA pairs go into the pretraining corpus, in split order. */
  readonly qaPeople: readonly string[];
}

export function formatBirthDate(month: string, day: number, year: number): string {
  return `${month} ${day}, ${year}`;
}

export function attributeValue(person: Person, attribute: Attribute): string {
  switch (attribute) {
    case 'birth_date':
      return person.birthDate;
    case 'birth_city':
      return person.birthCity;
    case 'university':
      return person.university;
    case 'field':
      return person.field;
    case 'company':
      return person.company;
    case 'company_city':
      return person.companyCity;
  }
}

/** A key equal for two people exactly when all six facts are equal. */
export function attributeTuple(person: Person): string {
  return JSON.stringify([
    person.birthDate,
    person.birthCity,
    person.university,
    person.field,
    person.company,
    person.companyCity,
  ]);
}

export function splitPeople(world: World, split: SplitName): Person[] {
  const byId = new Map(world.people.map((p) => [p.id, p]));
  return world.splits[split].map(
    (id) => byId.get(id) ?? fail(`people world: split ${split} lists unknown ${id}`),
  );
}

/** 32-bit FNV-1a: a stable string hash for deriving per-person seeds. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/**
 * A generator owned by one person and purpose (e.g. `passage`), derived from the world seed and the person's id, so
 * a person's passage never changes when other people, splits or draw orders change.
 */
export function personRng(seed: number, personId: string, purpose: string): Rng {
  return new Rng(fnv1a(`${seed >>> 0}\u0000${personId}\u0000${purpose}`));
}

// Rejection sampling needs a bound: with the bundled lists collisions are rare, but tiny custom lists could loop.
const MAX_TRIES = 10_000;

function parseConfig(config: WorldConfigInput): WorldConfig {
  const parsed = WorldConfigSchema.safeParse(config);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = issue.path.map(String).join('.') || '(top level)';
  return fail(`people world config ${field}: ${issue.message}`);
}

/**
 * Draws the world. Each split has its own random stream (forked from the seed in a fixed order), so e.g. the eval
 * people stay the same when pretrainPeople changes — except in the rare case a draw collides and is redrawn.
 */
export function generateWorld(config: WorldConfigInput = {}, data: BiosData = bundledBiosData()): World {
  const cfg = parseConfig(config);
  const root = new Rng(cfg.seed);
  const streams: Record<SplitName, Rng> = {
    pretrain: root.fork(0),
    rl: root.fork(1),
    eval: root.fork(2),
    val: new Rng(0),
  };
  const qaRng = root.fork(3);
  // Forked after qaRng, so the streams of the first three splits and of the QA choice are what they always were.
  streams.val = root.fork(4);
  const sizes: Record<SplitName, number> = {
    pretrain: cfg.pretrainPeople,
    rl: cfg.rlPeople,
    eval: cfg.evalPeople,
    val: cfg.valPeople,
  };

  const names = new Set<string>();
  const tuples = new Set<string>();
  const people: Person[] = [];
  const splits: Record<SplitName, string[]> = { pretrain: [], rl: [], eval: [], val: [] };

  // A held-out name inside another name (or around it) would put it into pretraining text, e.g. "Ann Lee Smith" in
  // "Ann Lee Smithson"; held-out people are few, so checking them against everyone is cheap.
  const clashes = (full: string, heldOut: boolean): boolean =>
    names.has(full) || (heldOut && [...names].some((n) => n.includes(full) || full.includes(n)));

  for (const split of SPLITS) {
    const rng = streams[split];
    const n = sizes[split];
    const width = Math.max(4, String(Math.max(0, n - 1)).length);
    for (let index = 0; index < n; index++) {
      let tries = 0;
      let first: string;
      let middle: string;
      let last: string;
      let fullName: string;
      do {
        if (++tries > MAX_TRIES)
          fail(`people world: cannot draw a unique name for person ${people.length + 1}`);
        first = rng.pick(data.firstNames);
        middle = rng.pick(data.middleNames);
        last = rng.pick(data.lastNames);
        fullName = `${first} ${middle} ${last}`;
        // "Emma Emma Smith" reads like a typo; the first- and middle-name lists share many names.
      } while (first === middle || clashes(fullName, split !== 'pretrain'));
      names.add(fullName);

      tries = 0;
      let person: Person;
      do {
        if (++tries > MAX_TRIES) fail(`people world: cannot draw unique facts for ${fullName}`);
        const birthMonth = rng.pick(MONTHS);
        const birthDay = 1 + rng.int(28);
        const birthYear = cfg.minBirthYear + rng.int(cfg.maxBirthYear - cfg.minBirthYear + 1);
        const employer = rng.pick(data.companies);
        const male = index % 2 === 0;
        person = {
          id: `${split}-${String(index).padStart(width, '0')}`,
          firstName: first,
          middleName: middle,
          lastName: last,
          fullName,
          gender: male ? 'male' : 'female',
          pronoun: male ? 'He' : 'She',
          birthMonth,
          birthDay,
          birthYear,
          birthDate: formatBirthDate(birthMonth, birthDay, birthYear),
          birthCity: rng.pick(data.cities),
          university: rng.pick(data.universities),
          field: rng.pick(data.fields),
          company: employer.name,
          companyCity: employer.city,
        };
        // Unique tuples world-wide make "no held-out person duplicates a pretraining person's facts" hold trivially.
      } while (tuples.has(attributeTuple(person)));
      tuples.add(attributeTuple(person));
      people.push(person);
      splits[split].push(person.id);
    }
  }

  const qaCount = Math.round(cfg.qaFraction * cfg.pretrainPeople);
  const chosen = new Set(qaRng.shuffle([...splits.pretrain]).slice(0, qaCount));
  const qaPeople = splits.pretrain.filter((id) => chosen.has(id));
  return { config: cfg, people, splits, qaPeople };
}
