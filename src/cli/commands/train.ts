import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { assetPath } from '../../assets.js';
import { initEngine } from '../../engine/index.js';
import {
  isFinishedRoundRecord,
  keepRecords,
  loadLastRound,
  saveRoundCheckpoint,
} from '../../outer/checkpoint.js';
import { OuterConfigSchema, runOuterLoop } from '../../outer/outer.js';
import { RunDir, runName } from '../../report/run.js';
import { loadPeopleProblem } from '../../tasks/people/seal.js';
import { PEOPLE_SELF_EDIT_STYLES } from '../../tasks/people/selfedit.js';
import type { Command } from '../args.js';
import { readJsonConfig, UsageError } from '../args.js';
import { BackendOption, innerPool, log, prepareWorkers, WorkersOption } from './common.js';

export const SealTrainConfigSchema = z.object({
  model: z
    .string()
    .default('default')
    .describe('Base model directory from `seal pretrain` ("default" = the bundled model)'),
  prompt: z
    .enum(PEOPLE_SELF_EDIT_STYLES)
    .default('self-qa')
    .describe('Self-edit prompt the generator learns (implications | rewrite | self-qa)'),
  rlPeople: z
    .number()
    .int()
    .min(0)
    .default(400)
    .describe(
      "RL people: the world's rl split topped up with never-pretrained people from an auxiliary world",
    ),
  outer: OuterConfigSchema.prefault({ kind: 'rest-em' }),
});
export type SealTrainConfig = z.infer<typeof SealTrainConfigSchema>;

export function resolveModelDir(model: string): string {
  return model === 'default' ? assetPath('models/people-default') : model;
}

const schema = z.object({
  config: z
    .string()
    .optional()
    .describe('JSON config file: {"model": DIR, "outer": {"kind": "rest-em" | "grpo", ...}} (zod-validated)'),
  out: z.string().default('runs').describe('Parent directory of run directories'),
  resume: z.string().optional().describe('Run directory to resume after a crash (its config is reused)'),
  quiet: z.boolean().default(false).describe('No progress bars'),
  workers: WorkersOption,
  backend: BackendOption,
});

export const trainCommand: Command<typeof schema> = {
  name: 'train',
  summary:
    'Run the SEAL outer loop (ReST-EM or GRPO) on the people world; a checkpoint per round, --resume after a crash.',
  schema,
  examples: [
    'seal train --config experiments/rest-em.json',
    'seal train --config experiments/grpo.json',
    'seal train --resume runs/people-rest-em-0-20261125T180000Z',
    'seal train --config experiments/rest-em-large.json --workers 2',
  ],
  async run(o) {
    prepareWorkers(o.workers);
    await initEngine(o.backend);
    let run: RunDir;
    let cfg: SealTrainConfig;
    if (o.resume !== undefined) {
      const saved = join(o.resume, 'config.json');
      if (!existsSync(saved)) throw new UsageError(`--resume ${o.resume}: no config.json there`);
      cfg = SealTrainConfigSchema.parse(
        (JSON.parse(readFileSync(saved, 'utf8')) as { config: unknown }).config,
      );
      run = new RunDir(o.resume);
    } else {
      cfg = readJsonConfig(SealTrainConfigSchema, o.config);
      run = RunDir.create(o.out, runName('people', cfg.outer.kind, cfg.outer.seed), cfg);
    }
    const modelDir = resolveModelDir(cfg.model);
    const loaded = await loadPeopleProblem(modelDir, cfg.outer.heldOutContexts, cfg.prompt, cfg.rlPeople);
    const pool = await innerPool(modelDir, loaded.problem.env, o.workers);
    const problem = pool === undefined ? loaded.problem : { ...loaded.problem, pool };
    const model = problem.env.model;
    const resume = o.resume === undefined ? undefined : await loadLastRound(run, model);
    if (o.resume !== undefined) {
      const finished = resume?.rounds.length ?? 0;
      // Lines of the round in flight at the crash are dropped; that round is redone identically.
      keepRecords(run, (r) => isFinishedRoundRecord(r, finished));
      log(`resuming ${run.dir} after round ${finished}`);
    }
    log(`run ${run.dir}`);
    // Ctrl-C: finished rounds are checkpointed; say how to carry on, then stop.
    const onSigint = () => {
      log(`\ninterrupted — continue with: seal train --resume ${run.dir}`);
      process.exit(130);
    };
    process.on('SIGINT', onSigint);
    const result = await runOuterLoop(problem, cfg.outer, run, {
      quiet: o.quiet,
      ...(resume === undefined ? {} : { resume }),
      onRound: (round, policy, rounds) => saveRoundCheckpoint(run, model, round, policy, rounds, cfg),
    }).finally(() => pool?.close());
    process.off('SIGINT', onSigint);
    run.writeJson('summary-train.json', { rounds: result.rounds });
    for (const r of result.rounds)
      log(
        `round ${r.round}: reward ${(100 * r.meanReward).toFixed(1)}% (baseline ${(100 * r.meanBaseline).toFixed(1)}%), kept ${r.kept}, held-out ${(100 * r.heldOutAccuracy).toFixed(1)}%${r.rewardHackingAlarm ? '  ⚠ reward hacking?' : ''}`,
      );
  },
};
