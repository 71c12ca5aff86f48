/**
 * The people world as a SEAL task, its pretraining corpus, and its files.
 *
 * Files written by `writeWorld(dir, world)`:
 * - `world.json`: `{format: "seal-people-world", version: 1, config, people, splits, qaPeople}`; keys sorted at
 *   every level, 2-space indent, trailing newline. The only file `readWorld` reads: it is the whole world.
 * - `contexts-<split>.jsonl` for pretrain, rl, eval: one task Context per line (`{id, passage, questions, title}`,
 *   keys sorted), derived from world.json for inspection and for tools outside this package.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { fail } from '../../errors.js';
import type { Rng } from '../../util/rng.js';
import { exactMatchScorer } from '../squad-score.js';
import type { Context, Task } from '../types.js';
import { ATTRIBUTES, type BioTemplates } from './data.js';
import {
  allWordings,
  answerPrompt,
  answerStop,
  biography,
  heldOutQuestions,
  passage,
  qaText,
  question,
  seenQuestions,
} from './text.js';
import {
  attributeTuple,
  attributeValue,
  formatBirthDate,
  MONTHS,
  type Person,
  SPLITS,
  type SplitName,
  splitPeople,
  type World,
  WorldConfigSchema,
} from './world.js';

export const WORLD_FORMAT = 'seal-people-world';
export const WORLD_VERSION = 2; // 2: the val split
export const WORLD_FILE = 'world.json';
export const contextsFile = (split: SplitName): string => `contexts-${split}.jsonl`;

/**
 * The SEAL context for a person: id, full name as title, the one fixed biography, the questions in every seen
 * wording, and (unless `heldOut` is false, as for RL people, whose held-out questions nothing may ask) the
 * questions in the held-out wordings.
 */
export function personContext(
  person: Person,
  seed: number,
  options: { readonly templateSet?: BioTemplates; readonly heldOut?: boolean } = {},
): Context {
  return {
    id: person.id,
    title: person.fullName,
    passage: passage(person, seed, options.templateSet),
    questions: seenQuestions(person),
    ...(options.heldOut === false ? {} : { heldOutQuestions: heldOutQuestions(person) }),
  };
}

/** Splits pretrain / rl / eval; exact match after SQuAD normalisation; the `Q: …\nA:` prompt with no passage. */
export function peopleTask(world: World, options: { templateSet?: BioTemplates } = {}): Task {
  const splits = {} as Record<SplitName, readonly Context[]>;
  for (const split of SPLITS) {
    splits[split] = splitPeople(world, split).map((p) =>
      personContext(p, world.config.seed, { ...options, heldOut: split !== 'rl' }),
    );
  }
  return {
    name: 'people',
    splits,
    scorer: exactMatchScorer,
    answerPrompt: (_context, qa) => answerPrompt(qa.question),
    answerStop,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Pretraining corpus

export interface PretrainDocument {
  /** `bio`, `qa`, `qa-paraphrase`, or whatever an extra source names its documents. */
  readonly kind: string;
  /** The pretraining person the document is about. */
  readonly personId: string;
  readonly text: string;
}

/**
 * Extension point for more pretraining data, e.g. self-edit demonstrations on pretraining people. Sources get their
 * own forked generator; their documents pass the same held-out leak check as the built-in ones.
 */
export type PretrainDocumentSource = (world: World, rng: Rng) => readonly PretrainDocument[];

export interface PretrainOptions {
  /**
   * The wordings of the QA people's questions: `all` (default) every tier, so held-out wordings are answerable for
   * people the model knows; `canonical` only the canonical one (the corpus of models before issue #15).
   */
  readonly qaWordings?: 'all' | 'canonical';
  readonly templateSet?: BioTemplates;
  readonly extraSources?: readonly PretrainDocumentSource[];
}

/**
 * The pretraining documents, unshuffled (the trainer shuffles): per pretraining person `biosPerPerson` biographies
 * with shuffled sentences and the full name in each; then, for the QA people, one document per QA pair (every
 * wording of every fact), `Q: …\nA: answer\n` — the trailing newline teaches the model to stop where `answerStop` cuts. rl/eval people
 * never appear; `assertNoHeldOutLeak` checks that on the final list.
 */
export function pretrainDocuments(world: World, rng: Rng, options: PretrainOptions = {}): PretrainDocument[] {
  const docs: PretrainDocument[] = [];
  const bioOptions = {
    order: 'shuffled',
    names: 'every',
    ...(options.templateSet === undefined ? {} : { templateSet: options.templateSet }),
  } as const;
  for (const person of splitPeople(world, 'pretrain')) {
    for (let i = 0; i < world.config.biosPerPerson; i++) {
      docs.push({ kind: 'bio', personId: person.id, text: biography(person, rng, bioOptions) });
    }
  }
  const qaIds = new Set(world.qaPeople);
  for (const person of splitPeople(world, 'pretrain')) {
    if (!qaIds.has(person.id)) continue;
    for (const kind of ATTRIBUTES) {
      const answer = attributeValue(person, kind);
      const push = (docKind: string, template: string) =>
        docs.push({
          kind: docKind,
          personId: person.id,
          text: `${qaText(question(person, template), answer)}\n`,
        });
      const wordings = options.qaWordings === 'canonical' ? allWordings(kind).slice(0, 1) : allWordings(kind);
      for (const t of wordings) push('qa', t);
    }
  }
  (options.extraSources ?? []).forEach((source, i) => {
    docs.push(...source(world, rng.fork(i)));
  });
  assertNoHeldOutLeak(world, docs);
  return docs;
}

/** Fails if any document is about, or mentions the full name of, an rl, eval or val person. */
export function assertNoHeldOutLeak(world: World, docs: readonly PretrainDocument[]): void {
  const heldOut = [...splitPeople(world, 'rl'), ...splitPeople(world, 'eval'), ...splitPeople(world, 'val')];
  const heldOutIds = new Set(heldOut.map((p) => p.id));
  docs.forEach((doc, i) => {
    if (heldOutIds.has(doc.personId))
      fail(`pretraining document ${i} (${doc.kind}) is about held-out ${doc.personId}`);
    for (const p of heldOut) {
      if (doc.text.includes(p.fullName)) {
        fail(
          `pretraining document ${i} (${doc.kind}, ${doc.personId}) names held-out ${p.id} "${p.fullName}"`,
        );
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Files

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

/** JSON with keys sorted at every level, so equal values always give equal bytes. */
export function stableJson(value: unknown, indent?: number): string {
  return JSON.stringify(sortKeys(value), null, indent);
}

/** The exact bytes of world.json. */
export function serializeWorld(world: World): string {
  return `${stableJson({ format: WORLD_FORMAT, version: WORLD_VERSION, ...world }, 2)}\n`;
}

async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, text, 'utf8');
    await rename(tmp, file);
  } catch (error) {
    await rm(tmp, { force: true });
    const reason = error instanceof Error && 'code' in error ? String(error.code) : String(error);
    fail(`cannot write (${reason})`, file);
  }
}

/**
 * Writes world.json and the contexts files into `dir` (created if missing), each atomically. Refuses a non-empty
 * `dir` unless `overwrite`, which replaces these files and leaves any others. Returns the paths written.
 */
export async function writeWorld(
  dir: string,
  world: World,
  options: { overwrite?: boolean; templateSet?: BioTemplates } = {},
): Promise<string[]> {
  let entries: string[] = [];
  try {
    entries = await readdir(dir);
  } catch (error) {
    const code = error instanceof Error && 'code' in error ? String(error.code) : String(error);
    if (code !== 'ENOENT') fail(`cannot use as output directory (${code})`, dir);
  }
  if (entries.length > 0 && options.overwrite !== true) {
    fail('output directory is not empty; pass overwrite to replace the world in it', dir);
  }
  await mkdir(dir, { recursive: true });
  const task = peopleTask(
    world,
    options.templateSet === undefined ? {} : { templateSet: options.templateSet },
  );
  const written: string[] = [];
  const worldPath = join(dir, WORLD_FILE);
  await writeAtomic(worldPath, serializeWorld(world));
  written.push(worldPath);
  for (const split of SPLITS) {
    const path = join(dir, contextsFile(split));
    const lines = (task.splits[split] ?? []).map((c) => `${stableJson(c)}\n`);
    await writeAtomic(path, lines.join(''));
    written.push(path);
  }
  return written;
}

const text = z.string().refine((s) => s.trim() !== '', { message: 'must not be empty' });

const PersonSchema = z
  .object({
    id: text,
    firstName: text,
    middleName: text,
    lastName: text,
    fullName: text,
    gender: z.enum(['male', 'female']),
    pronoun: z.enum(['He', 'She']),
    birthMonth: z.enum(MONTHS),
    birthDay: z.number().int().min(1).max(31),
    birthYear: z.number().int().min(1).max(9999),
    birthDate: text,
    birthCity: text,
    university: text,
    field: text,
    company: text,
    companyCity: text,
  })
  .strict();

const WorldFileSchema = z
  .object({
    format: z.literal(WORLD_FORMAT),
    version: z.literal(WORLD_VERSION),
    config: WorldConfigSchema,
    people: z.array(PersonSchema),
    splits: z
      .object({
        pretrain: z.array(z.string()),
        rl: z.array(z.string()),
        eval: z.array(z.string()),
        val: z.array(z.string()),
      })
      .strict(),
    qaPeople: z.array(z.string()),
  })
  .strict();

/** `people[3].birthDay`, the way a reader would index the JSON. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path)
    out += typeof key === 'number' ? `[${key}]` : `${out === '' ? '' : '.'}${String(key)}`;
  return out === '' ? '(top level)' : out;
}

/** Parses world.json text (`file` is named in errors), checking the schema and the world's invariants. */
export function parseWorld(json: string, file: string): World {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (error) {
    return fail(`not valid JSON (${error instanceof Error ? error.message : String(error)})`, file);
  }
  const parsed = WorldFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return fail(`${formatPath(issue.path)}: ${issue.message}`, file);
  }
  const { config, people, splits, qaPeople } = parsed.data;
  const bad = (where: string, problem: string): never => fail(`${where}: ${problem}`, file);

  const index = new Map<string, number>();
  const names = new Set<string>();
  people.forEach((p, i) => {
    const at = `people[${i}]`;
    if (index.has(p.id)) bad(`${at}.id`, `duplicate id ${p.id}`);
    index.set(p.id, i);
    if (p.fullName !== `${p.firstName} ${p.middleName} ${p.lastName}`)
      bad(`${at}.fullName`, 'is not first middle last');
    if (names.has(p.fullName)) bad(`${at}.fullName`, `duplicate name "${p.fullName}"`);
    names.add(p.fullName);
    if (p.birthDate !== formatBirthDate(p.birthMonth, p.birthDay, p.birthYear)) {
      bad(`${at}.birthDate`, 'does not match birthMonth, birthDay, birthYear');
    }
    if (p.pronoun !== (p.gender === 'male' ? 'He' : 'She'))
      bad(`${at}.pronoun`, `does not match gender ${p.gender}`);
  });

  const splitOf = new Map<string, SplitName>();
  const expected: Record<SplitName, number> = {
    pretrain: config.pretrainPeople,
    rl: config.rlPeople,
    eval: config.evalPeople,
    val: config.valPeople,
  };
  for (const split of SPLITS) {
    const ids = splits[split];
    if (ids.length !== expected[split])
      bad(`splits.${split}`, `has ${ids.length} people, config says ${expected[split]}`);
    ids.forEach((id, i) => {
      if (!index.has(id)) bad(`splits.${split}[${i}]`, `unknown person ${id}`);
      if (splitOf.has(id)) bad(`splits.${split}[${i}]`, `${id} is already in split ${splitOf.get(id)}`);
      splitOf.set(id, split);
    });
  }
  people.forEach((p, i) => {
    if (!splitOf.has(p.id)) bad(`people[${i}]`, `${p.id} is in no split`);
  });
  qaPeople.forEach((id, i) => {
    if (splitOf.get(id) !== 'pretrain') bad(`qaPeople[${i}]`, `${id} is not a pretraining person`);
  });
  if (new Set(qaPeople).size !== qaPeople.length) bad('qaPeople', 'has duplicates');

  const world: World = { config, people, splits, qaPeople };
  const pretrainTuples = new Set(splitPeople(world, 'pretrain').map(attributeTuple));
  people.forEach((p, i) => {
    if (splitOf.get(p.id) !== 'pretrain' && pretrainTuples.has(attributeTuple(p))) {
      bad(`people[${i}]`, `held-out ${p.id} has the same six facts as a pretraining person`);
    }
  });
  return world;
}

/** Reads and validates `dir/world.json`. */
export async function readWorld(dir: string): Promise<World> {
  const file = join(dir, WORLD_FILE);
  let json: string;
  try {
    json = await readFile(file, 'utf8');
  } catch (error) {
    const reason = error instanceof Error && 'code' in error ? String(error.code) : String(error);
    return fail(`cannot read people world (${reason})`, file);
  }
  return parseWorld(json, file);
}
