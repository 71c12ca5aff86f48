import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SealError } from '../src/errors.js';
import { extraRlContexts, knownPeople, pretrainLocalityPeople } from '../src/seal/domains/people.js';
import { ATTRIBUTES, bundledBiosData, loadBiosData } from '../src/tasks/people/data.js';
import { copyDemos, selfEditDemos } from '../src/tasks/people/selfedit.js';
import {
  assertNoHeldOutLeak,
  parseWorld,
  peopleTask,
  pretrainDocuments,
  readWorld,
  serializeWorld,
  WORLD_FILE,
  writeWorld,
} from '../src/tasks/people/task.js';
import {
  allWordings,
  answerPrompt,
  answerStop,
  BIO_ORDER,
  biography,
  heldOutQuestions,
  passage,
  QUESTION_WORDINGS,
  qaText,
  seenWordings,
} from '../src/tasks/people/text.js';
import {
  attributeTuple,
  attributeValue,
  generateWorld,
  SPLITS,
  splitPeople,
  WorldConfigSchema,
} from '../src/tasks/people/world.js';
import { Rng } from '../src/util/rng.js';
import { ROOT } from './helpers/paths.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'people-world-'));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function expectSealError(promise: Promise<unknown>, ...fragments: string[]): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SealError);
  for (const f of fragments) expect((error as Error).message).toContain(f);
}

describe('bundled bios data', () => {
  it('loads every list from assets/bios and parses company lines', () => {
    const data = loadBiosData();
    expect(data.firstNames).toHaveLength(400);
    expect(data.lastNames).toHaveLength(1000);
    expect(data.companies).toHaveLength(263);
    expect(data.companies[0]).toEqual({ name: '3M', city: 'Maplewood, MN' });
    for (const attribute of ATTRIBUTES) expect(data.templates[attribute].length).toBeGreaterThan(40);
    for (const list of [data.firstNames, data.cities, data.universities]) {
      for (const v of list) expect(v).toBe(v.trim());
    }
  });
});

describe('generateWorld', () => {
  it('generates the default world with the configured split sizes', () => {
    bundledBiosData();
    const world = generateWorld();
    expect(world.config).toEqual(WorldConfigSchema.parse({}));
    expect(world.splits.pretrain).toHaveLength(400);
    expect(world.splits.rl).toHaveLength(40);
    expect(world.splits.eval).toHaveLength(40);
    expect(world.splits.val).toHaveLength(40);
    expect(world.qaPeople).toHaveLength(200);
    expect(world.people).toHaveLength(520);
  });

  it('is deterministic: same seed gives identical bytes, another seed differs', () => {
    const a = serializeWorld(generateWorld({ seed: 1 }));
    const b = serializeWorld(generateWorld({ seed: 1 }));
    const c = serializeWorld(generateWorld({ seed: 2 }));
    expect(a).toBe(b);
    expect(c).not.toBe(a);
  });

  it('keeps splits disjoint, names unique and held-out facts unlike any pretraining person', () => {
    const world = generateWorld({ seed: 3 });
    const names = world.people.map((p) => p.fullName);
    expect(new Set(names).size).toBe(names.length);
    const ids = [...world.splits.pretrain, ...world.splits.rl, ...world.splits.eval, ...world.splits.val];
    expect(new Set(ids).size).toBe(world.people.length);
    const pretrainTuples = new Set(splitPeople(world, 'pretrain').map(attributeTuple));
    for (const p of [
      ...splitPeople(world, 'rl'),
      ...splitPeople(world, 'eval'),
      ...splitPeople(world, 'val'),
    ]) {
      expect(pretrainTuples.has(attributeTuple(p))).toBe(false);
      for (const other of names) if (other !== p.fullName) expect(other.includes(p.fullName)).toBe(false);
    }
    for (const id of world.qaPeople) expect(world.splits.pretrain).toContain(id);
  });

  it('pretrain / rl / val / test (eval) are disjoint in ids, names and attribute tuples (bundled model world too)', () => {
    const bundled = JSON.parse(
      readFileSync(join(ROOT, 'assets/models/people-default/seal_world.json'), 'utf8'),
    );
    for (const world of [generateWorld({ seed: 5 }), generateWorld(bundled)]) {
      expect(world.splits.val.length).toBe(world.config.valPeople);
      const bySplit = SPLITS.map((s) => splitPeople(world, s));
      for (let i = 0; i < bySplit.length; i++)
        for (let j = i + 1; j < bySplit.length; j++) {
          const a = bySplit[i]!;
          const b = bySplit[j]!;
          const names = new Set(a.map((p) => p.fullName));
          const tuples = new Set(a.map(attributeTuple));
          const ids = new Set(a.map((p) => p.id));
          for (const p of b) {
            expect(ids.has(p.id), `${SPLITS[i]} / ${SPLITS[j]}: ${p.id}`).toBe(false);
            expect(names.has(p.fullName), `${SPLITS[i]} / ${SPLITS[j]}: ${p.fullName}`).toBe(false);
            expect(tuples.has(attributeTuple(p)), `${SPLITS[i]} / ${SPLITS[j]}: facts of ${p.id}`).toBe(
              false,
            );
          }
        }
    }
  });

  it('adding the val split left pretrain, rl, eval and the QA people exactly as they were', () => {
    const withVal = generateWorld({ seed: 6 });
    const without = generateWorld({ seed: 6, valPeople: 0 });
    for (const s of ['pretrain', 'rl', 'eval'] as const) expect(withVal.splits[s]).toEqual(without.splits[s]);
    expect(withVal.qaPeople).toEqual(without.qaPeople);
    const people = (w: typeof withVal) => w.people.filter((p) => !p.id.startsWith('val-'));
    expect(people(withVal)).toEqual(people(without));
  });

  it("delta mode's locality pools: known halves disjoint, the wide pool every pretraining person but the measured half", () => {
    const world = generateWorld(WorldConfigSchema.parse({ pretrainPeople: 30, qaFraction: 0.5 }));
    const ids = (cs: readonly { id: string }[]) => cs.map((c) => c.id);
    const train = ids(knownPeople(world, 'train'));
    const measured = new Set(ids(knownPeople(world, 'eval')));
    const wide = ids(pretrainLocalityPeople(world));
    expect(train.length).toBeGreaterThan(0);
    expect(train.filter((id) => measured.has(id))).toEqual([]);
    expect(wide.filter((id) => measured.has(id))).toEqual([]);
    expect(wide).toEqual(expect.arrayContaining(train));
    expect(new Set([...wide, ...measured])).toEqual(new Set(world.splits.pretrain));
    expect(wide.length).toBeGreaterThan(train.length);
  });

  it('draws plausible facts and follows the pronoun rule', () => {
    const world = generateWorld({ seed: 4, minBirthYear: 1960, maxBirthYear: 1961 });
    const data = bundledBiosData();
    for (const p of world.people) {
      expect(p.birthDay).toBeGreaterThanOrEqual(1);
      expect(p.birthDay).toBeLessThanOrEqual(28);
      expect([1960, 1961]).toContain(p.birthYear);
      expect(p.firstName).not.toBe(p.middleName);
      expect(data.companies).toContainEqual({ name: p.company, city: p.companyCity });
      const index = Number(p.id.split('-')[1]);
      expect(p.pronoun).toBe(index % 2 === 0 ? 'He' : 'She');
    }
  });

  it('rejects an invalid config with a message naming the field', () => {
    expect(() => generateWorld({ qaFraction: 2 })).toThrow(/qaFraction/);
    expect(() => generateWorld({ minBirthYear: 2000, maxBirthYear: 1990 })).toThrow(/maxBirthYear/);
    expect(() => generateWorld({ bogus: 1 } as never)).toThrow(SealError);
  });
});

describe('text', () => {
  const world = generateWorld({ seed: 5, pretrainPeople: 20, rlPeople: 4, evalPeople: 4 });
  const person = splitPeople(world, 'eval')[0]!;

  it('renders a bioS passage holding every attribute, full name first and pronoun after', () => {
    const text = passage(person, world.config.seed);
    expect(text).toBe(passage(person, world.config.seed));
    for (const attribute of ATTRIBUTES) expect(text).toContain(attributeValue(person, attribute));
    expect(text.startsWith(person.fullName)).toBe(true);
    expect(text.split(person.fullName)).toHaveLength(2);
    expect(text).not.toMatch(/\{|\}|\.\.|He's|She's/);
  });

  it('uses the first templates in fixed order without drawing', () => {
    const rng = new Rng(9);
    const before = rng.state();
    const text = biography(person, rng, { templates: 'first' });
    expect(rng.state()).toEqual(before);
    const positions = BIO_ORDER.map((a) => text.indexOf(attributeValue(person, a)));
    expect(positions.every((pos, i) => i === 0 || pos > positions[i - 1]!)).toBe(true);
  });

  it('shuffled biographies with names everywhere repeat the full name in each sentence', () => {
    const text = biography(person, new Rng(1), { order: 'shuffled', names: 'every' });
    expect(text.split(person.fullName)).toHaveLength(7);
    for (const attribute of ATTRIBUTES) expect(text).toContain(attributeValue(person, attribute));
  });

  it('shares one Q/A format between training text and the answer prompt', () => {
    expect(qaText('Where was X born?', 'Chicago, IL')).toBe(
      `${answerPrompt('Where was X born?')} Chicago, IL`,
    );
    expect(answerPrompt('Q?')).toBe('Q: Q?\nA:');
    expect(answerStop).toEqual(['\n']);
    const heldOut = heldOutQuestions(person);
    expect(heldOut.length).toBeGreaterThanOrEqual(12);
    for (const q of heldOut) expect(q.question).toContain(person.fullName);
  });
});

describe('peopleTask', () => {
  const world = generateWorld();
  const task = peopleTask(world);

  it('has one context per person asking each fact in every seen wording, and held-out wordings except for rl', () => {
    expect(task.splits['pretrain']).toHaveLength(400);
    expect(task.splits['rl']).toHaveLength(40);
    expect(task.splits['eval']).toHaveLength(40);
    for (const context of task.splits['rl'] ?? []) expect(context.heldOutQuestions).toBeUndefined();
    for (const context of task.splits['eval'] ?? []) {
      expect(context.questions.map((q) => q.kind)).toEqual(
        ATTRIBUTES.flatMap((a) => seenWordings(a).map(() => a)),
      );
      expect(context.heldOutQuestions?.map((q) => q.kind)).toEqual(
        ATTRIBUTES.flatMap((a) => QUESTION_WORDINGS[a].heldOut.map(() => a)),
      );
      for (const q of [...context.questions, ...(context.heldOutQuestions ?? [])]) {
        expect(q.answers.length).toBe(1);
        expect(q.answers[0]!.trim()).not.toBe('');
        expect(q.question).toContain(context.title);
        expect(context.passage).toContain(q.answers[0]!);
      }
    }
  });

  it('scores by exact match after SQuAD normalisation, prompting without the passage', () => {
    const context = task.splits['rl']![0]!;
    const q = context.questions[1]!;
    expect(task.scorer.score(` ${q.answers[0]!.toLowerCase()}`, q.answers)).toBe(1);
    expect(task.scorer.score('Nowhere', q.answers)).toBe(0);
    const prompt = task.answerPrompt(context, q);
    expect(prompt).toBe(`Q: ${q.question}\nA:`);
    expect(prompt).not.toContain(context.passage);
  });
});

describe('pretrainDocuments', () => {
  const world = generateWorld();

  it('contains bios and QA pairs for pretraining people only', () => {
    const docs = pretrainDocuments(world, new Rng(7));
    expect(docs.filter((d) => d.kind === 'bio')).toHaveLength(400 * 5);
    expect(docs.filter((d) => d.kind === 'qa')).toHaveLength(
      200 * ATTRIBUTES.reduce((n, a) => n + allWordings(a).length, 0),
    );
    const pretrain = new Set(world.splits.pretrain);
    for (const d of docs) expect(pretrain.has(d.personId)).toBe(true);
    const heldOut = [...splitPeople(world, 'rl'), ...splitPeople(world, 'eval')];
    const leaks = heldOut.flatMap((p) => docs.filter((d) => d.text.includes(p.fullName)).map(() => p.id));
    expect(leaks).toEqual([]);
    const heldOutTuples = new Set(heldOut.map(attributeTuple));
    for (const p of splitPeople(world, 'pretrain')) expect(heldOutTuples.has(attributeTuple(p))).toBe(false);
    const qa = docs.find((d) => d.kind === 'qa')!;
    expect(qa.text).toMatch(/^Q: .*\?\nA: .+\n$/);
    const again = pretrainDocuments(world, new Rng(7));
    expect(again).toEqual(docs);
  });

  it('extra RL people (auxiliary world) never occur in the pretraining corpus, copy demonstrations included', () => {
    const extra = extraRlContexts(world, 60);
    expect(extra).toHaveLength(60);
    expect(new Set(extra.map((c) => c.id)).size).toBe(60);
    const docs = pretrainDocuments(world, new Rng(7), { extraSources: [selfEditDemos(), copyDemos(300)] });
    const everyone = world.people.map((p) => p.fullName);
    for (const c of extra) {
      expect(docs.some((d) => d.text.includes(c.title))).toBe(false);
      expect(everyone.some((n) => n.includes(c.title) || c.title.includes(n))).toBe(false);
      expect(c.questions).toHaveLength(ATTRIBUTES.reduce((n, a) => n + seenWordings(a).length, 0));
    }
    expect(extraRlContexts(world, 60)).toEqual(extra); // deterministic
  });

  it('asks the QA people in every wording (or the canonical one) and checks extra sources for held-out leaks', () => {
    const perPerson = ATTRIBUTES.reduce((n, a) => n + allWordings(a).length, 0);
    const qa = (o: { qaWordings?: 'all' | 'canonical' }) =>
      pretrainDocuments(world, new Rng(7), o).filter((d) => d.kind === 'qa').length;
    expect(qa({})).toBe(world.qaPeople.length * perPerson);
    expect(qa({ qaWordings: 'canonical' })).toBe(world.qaPeople.length * ATTRIBUTES.length);
    const rlPerson = splitPeople(world, 'rl')[0]!;
    const leaky = () => [{ kind: 'self-edit', personId: world.splits.pretrain[0]!, text: rlPerson.fullName }];
    expect(() => pretrainDocuments(world, new Rng(7), { extraSources: [leaky] })).toThrow(SealError);
    expect(() => assertNoHeldOutLeak(world, [{ kind: 'x', personId: rlPerson.id, text: '' }])).toThrow(
      /held-out/,
    );
  });
});

describe('writeWorld / readWorld', () => {
  const world = generateWorld({ seed: 11, pretrainPeople: 50, rlPeople: 6, evalPeople: 6 });

  it('writes identical bytes to two directories and reads the world back', async () => {
    const [a, b] = [await tempDir(), await tempDir()];
    await writeWorld(a, world);
    await writeWorld(b, world);
    const files = (await readdir(a)).sort();
    expect(files).toEqual([
      'contexts-eval.jsonl',
      'contexts-pretrain.jsonl',
      'contexts-rl.jsonl',
      'contexts-val.jsonl',
      WORLD_FILE,
    ]);
    expect((await readdir(b)).sort()).toEqual(files);
    for (const f of files) expect(await readFile(join(a, f))).toEqual(await readFile(join(b, f)));
    const back = await readWorld(a);
    expect(back).toEqual(world);
    expect(serializeWorld(back)).toBe(await readFile(join(a, WORLD_FILE), 'utf8'));
    const lines = (await readFile(join(a, 'contexts-eval.jsonl'), 'utf8')).trimEnd().split('\n');
    expect(lines.map((l) => JSON.parse(l))).toEqual(peopleTask(world).splits['eval']);
  });

  it('refuses a non-empty directory unless overwrite is set', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'other.txt'), 'x');
    await expectSealError(writeWorld(dir, world), dir, 'not empty');
    await writeWorld(dir, world, { overwrite: true });
    expect(await readWorld(dir)).toEqual(world);
  });

  it('names the file and field of malformed input', async () => {
    const dir = await tempDir();
    const file = join(dir, WORLD_FILE);
    await expectSealError(readWorld(dir), file, 'cannot read');
    await writeFile(file, '{ not json');
    await expectSealError(readWorld(dir), file, 'not valid JSON');
    const json = JSON.parse(serializeWorld(world));
    json.people[2].birthDay = 'five';
    await writeFile(file, JSON.stringify(json));
    await expectSealError(readWorld(dir), file, 'people[2].birthDay');
    const clash = JSON.parse(serializeWorld(world));
    clash.splits.eval[0] = clash.splits.pretrain[0];
    expect(() => parseWorld(JSON.stringify(clash), file)).toThrow(/splits\.eval\[0\]/);
    const renamed = JSON.parse(serializeWorld(world));
    renamed.people[0].fullName = 'Someone Else Entirely';
    expect(() => parseWorld(JSON.stringify(renamed), file)).toThrow(/people\[0\]\.fullName/);
  });
});
