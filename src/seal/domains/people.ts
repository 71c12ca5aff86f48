/**
 * The people world as a SEAL problem: the model directory written by `seal pretrain` carries its world config
 * (seal_world.json), from which the same world, contexts and questions are regenerated.
 */

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SealError } from '../../errors.js';
import { loadHfModel } from '../../model/io/hf.js';
import { bundledBiosData } from '../../tasks/people/data.js';
import { ruleBasedQa } from '../../tasks/people/rule-qa.js';
import {
  COPY_WORLD_OFFSET,
  type PeopleSelfEditStyle,
  peopleSelfEditPrompt,
  unclashingPeople,
} from '../../tasks/people/selfedit.js';
import { peopleTask, personContext } from '../../tasks/people/task.js';
import { canonicalQuestions } from '../../tasks/people/text.js';
import {
  generateWorld,
  type Person,
  splitPeople,
  type World,
  WorldConfigSchema,
} from '../../tasks/people/world.js';
import type { Context, Task } from '../../tasks/types.js';
import { loadTokenizer } from '../../tokenizer/load.js';
import { readJsonFile } from '../../util/json.js';
import { knowledgeDomain } from '../domain.js';
import type { InnerEnv } from '../inner/inner-loop.js';
import type { SealProblem } from '../outer/rollout.js';

export interface PeopleProblem {
  readonly problem: SealProblem;
  readonly world: World;
  readonly task: Task;
  /** The fixed prompts of the static-augmentation baseline (`staticStyles`), one sample each. */
  readonly staticPrompts: readonly ((c: Context) => string)[];
  /** The rule-based QA reference: every fact the passage states, as QA in the seen wordings. */
  readonly ruleBasedSelfEdit: (c: Context) => string;
  /** The same with one QA pair per fact (its first demonstration wording): a perfect self-edit of SEAL's length. */
  readonly ruleBasedShortSelfEdit: (c: Context) => string;
}

export function readWorldConfig(modelDir: string) {
  const file = join(modelDir, 'seal_world.json');
  if (!existsSync(file)) throw new SealError('not a people-world model (no seal_world.json)', file);
  return readJsonFile(WorldConfigSchema, file);
}

/**
 * The people world as a SEAL problem. `style` is the self-edit prompt the generator is trained on; the static
 * baseline uses fixed prompts (staticStyles). Self-QA is the default: on the session-2
 * default model an inner loop on oracle QA restatements of every fact reaches 67% held-out accuracy, oracle full-name
 * sentences ("implications") only 25% (passage alone 12.5%; 8 people, 20 epochs) — so only self-QA leaves RL room.
 */
const EXTRA_RL_OFFSET = 15_485_863;

/**
 * RL people beyond the world's `rl` split, from an auxiliary world: none shares (or contains, or is contained in) a
 * name with anyone of the main world or the copy-demonstration world, so none was ever pretrained on. With only the
 * split's 40 people, ReST-EM memorised their facts: RL reward rose 18% → 33% over 4 rounds while held-out accuracy
 * fell 25% → 20%.
 */
export function extraRlContexts(world: World, count: number): Context[] {
  if (count <= 0) return [];
  const taken = new Set(world.people.map((p) => p.fullName));
  // A prefix of the copy world at least as long as any copy-demonstration count used (people are drawn in order).
  const copy = generateWorld({
    ...world.config,
    seed: world.config.seed + COPY_WORLD_OFFSET,
    pretrainPeople: 4000,
    rlPeople: 1,
    evalPeople: 1,
    valPeople: 0,
  });
  for (const p of copy.people) taken.add(p.fullName);
  const { people, seed } = unclashingPeople(world, EXTRA_RL_OFFSET, count, [...taken], 1.2);
  return people.map((p, i) => ({
    ...personContext(p, seed, { heldOut: false }),
    id: `rl-extra-${String(i).padStart(4, '0')}`,
  }));
}

/** The world's rl split topped up to `count` people from `extraRlContexts` (never fewer than the split). */
export function rlContexts(world: World, task: Task, count: number): Context[] {
  const split = task.splits['rl'] ?? [];
  return [...split, ...extraRlContexts(world, count - split.length)];
}

const HELD_OUT_TEXT_OFFSET = 32_452_843;

/**
 * Text the model never saw and no experiment edits or trains on: biographies of `count` people of an auxiliary
 * world whose names clash with nobody of the main world (delta mode's drawdown is measured on them).
 */
export function heldOutPassages(world: World, count: number): string[] {
  const { people, seed } = unclashingPeople(
    world,
    HELD_OUT_TEXT_OFFSET,
    count,
    world.people.map((p) => p.fullName),
    1.2,
  );
  return people.map((p) => personContext(p, seed, { heldOut: false }).passage);
}

/**
 * People the model knows: the pretraining people whose QA it was trained on (answered ~100% right), each asked one
 * canonical question per fact. Alternate people go to `train` (delta mode's locality term) and `eval` (the
 * retention measure), so the evaluation never reads people a locality term trained on.
 */
export function knownPeople(world: World, part: 'train' | 'eval'): Context[] {
  const qa = new Set(world.qaPeople);
  return askCanonical(
    world,
    splitPeople(world, 'pretrain')
      .filter((p) => qa.has(p.id))
      .filter((_, i) => i % 2 === (part === 'train' ? 0 : 1)),
  );
}

/**
 * Every pretraining person except the `eval` half of `knownPeople`: the known `train` half and the people the model
 * read biographies of but was never asked about. A wider pool for a locality term that keeps the base's own answers
 * (right or not), so a generator cannot learn to spare a few dozen particular people; the retention measure's
 * people stay out of it.
 */
export function pretrainLocalityPeople(world: World): Context[] {
  const measured = new Set(knownPeople(world, 'eval').map((c) => c.id));
  return askCanonical(
    world,
    splitPeople(world, 'pretrain').filter((p) => !measured.has(p.id)),
  );
}

function askCanonical(world: World, people: readonly Person[]): Context[] {
  return people.map((p) => ({
    ...personContext(p, world.config.seed, { heldOut: false }),
    questions: canonicalQuestions(p),
  }));
}

/**
 * The static-augmentation baseline's fixed prompts: SEAL's own augmentation prompt ("implications": full-name
 * restatements), sampled twice — or self-QA twice when the generator itself writes implications. The "rewrite"
 * style is not used: its demonstrations keep the passage's pronouns, less extractable on purpose, and a baseline
 * must not carry a deliberate handicap.
 */
export function staticStyles(generator: PeopleSelfEditStyle): readonly PeopleSelfEditStyle[] {
  const other: PeopleSelfEditStyle = generator === 'implications' ? 'self-qa' : 'implications';
  return [other, other];
}

export async function loadPeopleProblem(
  modelDir: string,
  heldOutCount: number,
  style: PeopleSelfEditStyle = 'self-qa',
  /** RL people in all: the world's rl split topped up from `extraRlContexts` (0 = the split alone). */
  rlPeople = 0,
): Promise<PeopleProblem> {
  const world = generateWorld(readWorldConfig(modelDir));
  const { model } = await loadHfModel(modelDir);
  const tok = loadTokenizer(modelDir, { vocabSize: model.config.vocabSize });
  const task = peopleTask(world);
  const env: InnerEnv = { model, tok, task };
  const problem: SealProblem = {
    env,
    rlContexts: rlContexts(world, task, rlPeople),
    // The per-round monitor reads validation people, never the test split (eval).
    heldOut: (task.splits['val'] ?? []).slice(0, heldOutCount),
    domain: knowledgeDomain('people', (c) => peopleSelfEditPrompt(c.title, c.passage, style)),
  };
  return {
    problem,
    world,
    task,
    staticPrompts: staticStyles(style).map(
      (s) => (c: Context) => peopleSelfEditPrompt(c.title, c.passage, s),
    ),
    ruleBasedSelfEdit: (c: Context) => ruleBasedQa(c.title, c.passage, bundledBiosData()),
    ruleBasedShortSelfEdit: (c: Context) =>
      ruleBasedQa(c.title, c.passage, bundledBiosData(), { onePerFact: true }),
  };
}
