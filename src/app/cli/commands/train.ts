import { z } from 'zod';
import { initEngine } from '../../../engine/index.js';
import { GRID_WORLD_TASK_SPEC, loadGridProblem } from '../../../seal/domains/grids-problem.js';
import { loadPeopleProblem } from '../../../seal/domains/people.js';
import type { TaskSpec } from '../../../seal/inner/task-spec.js';
import {
  isFinishedRoundRecord,
  keepRecords,
  loadLastRound,
  saveRoundCheckpoint,
} from '../../../seal/outer/checkpoint.js';
import { runOuterLoop } from '../../../seal/outer/outer.js';
import type { SealProblem } from '../../../seal/outer/rollout.js';
import { checkOutputRoot } from '../../../util/fs.js';
import { RunDir, runName } from '../../../util/run-dir.js';
import { readRunConfig, resolveModelDir, type SealTrainConfig, SealTrainConfigSchema } from '../../config.js';
import type { Command } from '../args.js';
import { readJsonConfig } from '../args.js';
import {
  BackendOption,
  innerExecutor,
  log,
  prepareQueue,
  QueueOption,
  QueueWaitOption,
  WorkersOption,
  withResumeHint,
} from './common.js';
import { resolveGridModelDir } from './grids-common.js';

const schema = z.object({
  config: z
    .string()
    .optional()
    .describe('JSON config file: {"model": DIR, "outer": {"kind": "rest-em" | "grpo", ...}} (zod-validated)'),
  out: z.string().default('runs').describe('Parent directory of run directories'),
  resume: z.string().optional().describe('Run directory to resume after a crash (its config is reused)'),
  quiet: z.boolean().default(false).describe('No progress bars'),
  workers: WorkersOption,
  queue: QueueOption,
  queueWait: QueueWaitOption,
  backend: BackendOption,
});

/** The SEAL problem of the config's domain: its model directory, contexts, monitor and inner-loop task. */
async function loadDomainProblem(
  cfg: SealTrainConfig,
): Promise<{ modelDir: string; loaded: { problem: SealProblem }; task: TaskSpec }> {
  switch (cfg.domain) {
    case 'people': {
      const modelDir = resolveModelDir(cfg.model);
      const loaded = await loadPeopleProblem(modelDir, cfg.outer.heldOutContexts, cfg.prompt, cfg.rlPeople);
      return { modelDir, loaded, task: { kind: 'people' } };
    }
    case 'grids': {
      const modelDir = resolveGridModelDir(cfg.model);
      const loaded = await loadGridProblem(modelDir, cfg.outer.heldOutContexts);
      return { modelDir, loaded, task: GRID_WORLD_TASK_SPEC };
    }
    default: {
      const never: never = cfg;
      throw new Error(`unknown domain ${JSON.stringify(never)}`);
    }
  }
}

export const trainCommand: Command<typeof schema> = {
  name: 'train',
  summary:
    'Run the SEAL outer loop (ReST-EM or GRPO) on the people world or (config "domain": "grids") the grid world; a checkpoint per round, --resume after a crash.',
  schema,
  examples: [
    'seal train --config experiments/rest-em.json',
    'seal train --config experiments/grpo.json',
    'seal train --config experiments/grids-rest-em.json',
    'seal train --resume runs/people-rest-em-0-20261125T180000Z',
    'seal train --config experiments/rest-em-large.json --workers 2',
  ],
  async run(o) {
    prepareQueue(o.workers, o.queue);
    await initEngine(o.backend);
    let cfg: SealTrainConfig;
    if (o.resume !== undefined) cfg = readRunConfig(SealTrainConfigSchema, o.resume).config;
    else {
      cfg = readJsonConfig(SealTrainConfigSchema, o.config);
      checkOutputRoot(o.out);
    }
    // Inputs first (model, world, policy), the run directory last: a bad input leaves nothing behind.
    const { modelDir, loaded, task } = await loadDomainProblem(cfg);
    const run =
      o.resume !== undefined
        ? new RunDir(o.resume)
        : RunDir.create(o.out, runName(cfg.domain, cfg.outer.kind, cfg.outer.seed), cfg);
    const pool = await innerExecutor(modelDir, loaded.problem.env, o.workers, o.queue, o.queueWait, task);
    const problem = pool === undefined ? loaded.problem : { ...loaded.problem, executor: pool };
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
    })
      .catch((e: unknown) => {
        throw withResumeHint(e, `seal train --resume ${run.dir} --queue URL`);
      })
      .finally(() => pool?.close());
    process.off('SIGINT', onSigint);
    run.writeJson('summary-train.json', { rounds: result.rounds });
    for (const r of result.rounds)
      log(
        `round ${r.round}: reward ${(100 * r.meanReward).toFixed(1)}% (baseline ${(100 * r.meanBaseline).toFixed(1)}%), kept ${r.kept}, held-out ${(100 * r.heldOutAccuracy).toFixed(1)}%${r.rewardHackingAlarm ? '  ⚠ reward hacking?' : ''}`,
      );
  },
};
