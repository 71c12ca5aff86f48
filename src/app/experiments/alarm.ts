/**
 * The reward-hacking alarm's false-alarm rate, measured where nothing changes (issue #15): the per-round monitor
 * (one sampled self-edit per validation person, inner loop, seen + held-out wordings) is run `--repeats` times on
 * the same generator with independent monitor seeds; every ordered pair of repeats is a "round pair" in which the
 * generator did not change, and the alarm's test (`significantDrop`, one-sided paired t at ALARM_ALPHA) is applied
 * to it. The fraction that fires is the false-alarm rate of the drop test; the alarm also needs the RL reward to
 * rise, which under no change happens about half the time, so the alarm's own rate is about half of it. Independent
 * seeds are the pessimistic case: the real monitor reuses its seed every round (common random numbers).
 *
 *   npm run experiment:alarm -- [--policy ADAPTER] [--people 24] [--repeats 8] [--workers 2] [--out FILE.json]   (--help)
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { initEngine } from '../../engine/index.js';
import { loadAdapter } from '../../lora/io.js';
import { loadPeopleProblem } from '../../seal/domains/people.js';
import { significantDrop } from '../../seal/eval/stats.js';
import { ALARM_ALPHA, monitorAccuracy, RolloutConfigSchema } from '../../seal/outer/rollout.js';
import { deriveSeed } from '../../util/rng.js';
import { innerPool } from '../cli/commands/common.js';
import { resolveModelDir } from '../config.js';
import { schemaArgs } from './args.js';

const USAGE = `False-alarm rate of the reward-hacking alarm where nothing changes (issue #15).
  npm run experiment:alarm -- [options]`;

const count = (dflt: number, min: number, what: string) =>
  z.coerce.number().int().min(min).default(dflt).describe(what);

export const AlarmOptionsSchema = z.strictObject({
  model: z.string().default('default').describe('People model directory ("default" = the bundled model)'),
  policy: z
    .string()
    .optional()
    .describe("A PEFT adapter of self-edit policy to sample with (the base model's when omitted)"),
  people: count(24, 1, 'Validation people the monitor reads'),
  repeats: count(8, 2, 'Monitor measurements of the same policy (rounds where nothing changes)'),
  workers: count(1, 1, 'Inner-loop worker threads'),
  out: z.string().optional().describe('Write the JSON result to this file too (printed either way)'),
});

export async function main(argv = process.argv.slice(2)): Promise<void> {
  const { options: v } = schemaArgs(argv, AlarmOptionsSchema, USAGE);
  const { people, repeats, workers } = v;
  await initEngine('auto');
  const modelDir = resolveModelDir(v.model);
  const pp = await loadPeopleProblem(modelDir, 0);
  const val = (pp.task.splits['val'] ?? []).slice(0, people);
  const pool = await innerPool(modelDir, pp.problem.env, workers);
  const problem = { ...pp.problem, heldOut: val, ...(pool === undefined ? {} : { executor: pool }) };
  const policy = v.policy === undefined ? undefined : await loadAdapter(v.policy, problem.env.model);
  const cfg = RolloutConfigSchema.parse({});
  const monitors: (readonly number[])[] = [];
  const means: number[] = [];
  try {
    for (let r = 0; r < repeats; r++) {
      const m = await monitorAccuracy(problem, policy, cfg, deriveSeed('alarm-null', r));
      monitors.push(m.perContext);
      means.push(m.perContext.reduce((s, x) => s + x, 0) / m.perContext.length);
      process.stderr.write(`repeat ${r + 1}/${repeats}: monitor ${(100 * means[r]!).toFixed(1)}%\n`);
    }
  } finally {
    await pool?.close();
  }
  let pairs = 0;
  let fired = 0;
  let naive = 0;
  for (let i = 0; i < repeats; i++)
    for (let j = 0; j < repeats; j++) {
      if (i === j) continue;
      pairs++;
      if (significantDrop(monitors[i]!, monitors[j]!, ALARM_ALPHA).drop) fired++;
      if (means[j]! < means[i]!) naive++;
    }
  const result = {
    model: modelDir,
    policy: v.policy ?? null,
    valPeople: val.length,
    repeats,
    alpha: ALARM_ALPHA,
    monitorMeans: means,
    orderedPairs: pairs,
    dropTestFired: fired,
    dropTestRate: fired / pairs,
    /** The old rule ("lower than last round") on the same pairs. */
    naiveLowerRate: naive / pairs,
  };
  const json = `${JSON.stringify(result, null, 2)}\n`;
  if (v.out !== undefined) writeFileSync(v.out, json);
  process.stdout.write(json);
}

const invokedAs = process.argv[1] === undefined ? '' : resolve(process.argv[1]);
if (invokedAs === fileURLToPath(import.meta.url)) await main();
