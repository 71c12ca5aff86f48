/**
 * Self-edit fidelity: how many of a self-QA self-edit's question–answer pairs name the right person and give the
 * right value, and how reward follows the number of facts restated exactly (see tasks/people/fidelity.ts).
 *   Of a `seal train` run's rollouts, per round:
 *     node dist/app/experiments/fidelity.js --run RUN_DIR
 *   Of fresh samples on held-out people (no inner loops, so it takes seconds):
 *     node dist/app/experiments/fidelity.js [--model DIR] [--policy ADAPTER] [--people 40] [--k 4] [--temperature 1]
 * Prints one JSON object.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { initEngine } from '../../engine/index.js';
import { loadAdapter } from '../../lora/io.js';
import { loadPeopleProblem, readWorldConfig, rlContexts } from '../../seal/domains/people.js';
import { sampleSelfEdits } from '../../seal/selfedit/generate.js';
import { selfEditFidelity, summariseFidelity } from '../../tasks/people/fidelity.js';
import { peopleTask } from '../../tasks/people/task.js';
import { generateWorld } from '../../tasks/people/world.js';
import type { Context } from '../../tasks/types.js';
import { resolveModelDir, SealTrainConfigSchema } from '../config.js';
import { schemaArgs } from './args.js';

interface RolloutRecord {
  readonly kind: string;
  readonly round: number;
  readonly context: string;
  readonly reward: number;
  readonly completion: string;
}

function ofRun(runDir: string) {
  const saved = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')) as { config: unknown };
  const cfg = SealTrainConfigSchema.parse(saved.config);
  if (cfg.domain !== 'people') throw new Error(`${runDir}: fidelity is measured on people-world runs only`);
  const world = generateWorld(readWorldConfig(resolveModelDir(cfg.model)));
  const task = peopleTask(world);
  const byId = new Map<string, Context>(rlContexts(world, task, cfg.rlPeople).map((c) => [c.id, c]));
  const records = readFileSync(join(runDir, 'results.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as RolloutRecord)
    .filter((r) => r.kind === 'selfedit');
  const rounds = [...new Set(records.map((r) => r.round))].sort((a, b) => a - b);
  return rounds.map((round) => {
    const rs = records.filter((r) => r.round === round);
    const fid = rs.map((r) => {
      const c = byId.get(r.context);
      if (c === undefined)
        throw new Error(`${runDir}: context ${r.context} is not among the run's RL people`);
      return selfEditFidelity(r.completion, c);
    });
    const buckets = new Map<number, number[]>();
    fid.forEach((f, i) => {
      const b = buckets.get(f.correctFacts) ?? [];
      b.push(rs[i]!.reward);
      buckets.set(f.correctFacts, b);
    });
    return {
      round,
      meanReward: Number((rs.reduce((s, r) => s + r.reward, 0) / Math.max(1, rs.length)).toFixed(3)),
      ...summariseFidelity(fid),
      rewardByCorrectFacts: Object.fromEntries(
        [...buckets.entries()]
          .sort((a, b) => a[0] - b[0])
          .map(([k, v]) => [
            k,
            { n: v.length, meanReward: Number((v.reduce((s, x) => s + x, 0) / v.length).toFixed(3)) },
          ]),
      ),
    };
  });
}

const USAGE = `Self-edit fidelity (exact name and value per QA pair, facts restated exactly).
  node dist/app/experiments/fidelity.js --run RUN_DIR                       per round of a seal train run
  node dist/app/experiments/fidelity.js [--policy ADAPTER] [--people 40]    fresh samples on held-out people`;

export const FidelityOptionsSchema = z.strictObject({
  run: z
    .string()
    .optional()
    .describe('A seal train run directory: the fidelity of its rows per round (nothing sampled)'),
  model: z.string().default('default').describe('People model directory ("default" = the bundled model)'),
  policy: z
    .string()
    .optional()
    .describe("A PEFT adapter of self-edit policy to sample with (the base model's when omitted)"),
  people: z.coerce.number().int().min(1).default(40).describe('Validation people sampled'),
  k: z.coerce.number().int().min(1).default(4).describe('Self-edits sampled per person'),
  temperature: z.coerce.number().positive().default(1).describe('Sampling temperature'),
  seed: z.coerce.number().int().min(0).default(5).describe('Sampling seed'),
});

export async function main(argv = process.argv.slice(2)): Promise<void> {
  const { options: values } = schemaArgs(argv, FidelityOptionsSchema, USAGE);
  if (values.run !== undefined) {
    process.stdout.write(`${JSON.stringify({ run: values.run, rounds: ofRun(values.run) }, null, 2)}\n`);
    return;
  }
  await initEngine('auto');
  const modelDir = resolveModelDir(values.model);
  const pp = await loadPeopleProblem(modelDir, 0, 'self-qa');
  // A diagnostic that informs choices: validation people, never the test split.
  const contexts = (pp.task.splits['val'] ?? []).slice(0, values.people);
  const policy =
    values.policy === undefined ? undefined : await loadAdapter(values.policy, pp.problem.env.model);
  const edits = sampleSelfEdits(
    pp.problem.env.model,
    pp.problem.env.tok,
    contexts,
    (c) => pp.problem.domain.selfEditPrompt(c),
    {
      k: values.k,
      temperature: values.temperature,
      topP: 0.95,
      maxNewTokens: 160,
      seed: values.seed,
      ...(policy === undefined ? {} : { deltas: [policy] }),
    },
  );
  const fid = contexts.flatMap((c, ci) => edits[ci]!.map((e) => selfEditFidelity(e.completion, c)));
  process.stdout.write(
    `${JSON.stringify({ model: modelDir, policy: values.policy ?? null, temperature: values.temperature, people: contexts.length, ...summariseFidelity(fid) }, null, 2)}\n`,
  );
}

await main();
