/**
 * A training run over a fixed list of examples: seeded batches (the batch of step s is a pure function of the seed
 * and s, so a resumed run sees exactly the batches an uninterrupted one would), LR schedule, clipping, AdamW,
 * periodic checkpoints, progress with ETA.
 */

import { existsSync } from 'node:fs';
import { z } from 'zod';
import type { Variable } from '../engine/tf.js';
import { SealError } from '../errors.js';
import type { LinearDelta } from '../model/linear.js';
import type { Transformer } from '../model/model.js';
import { Progress } from '../util/progress.js';
import { Rng } from '../util/rng.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { type Example, makeBatch } from './data.js';
import { AdamW } from './optimizer.js';
import { learningRate, ScheduleSchema } from './schedule.js';
import { trainStep } from './step.js';

export const TrainConfigSchema = z.strictObject({
  steps: z.number().int().min(1).describe('Optimisation steps'),
  batchSize: z.number().int().min(1).describe('Sequences per step'),
  seqLen: z.number().int().min(2).describe('Maximum tokens per training sequence'),
  lr: z.number().positive().describe('Peak learning rate'),
  schedule: ScheduleSchema.default({ kind: 'cosine', warmupSteps: 0, minLrRatio: 0.1 }),
  weightDecay: z.number().min(0).default(0.1).describe('AdamW decoupled weight decay (matrices only)'),
  beta2: z.number().gt(0).lt(1).default(0.99).describe('AdamW beta2'),
  clipNorm: z.number().min(0).default(1).describe('Global gradient-norm clip (0 = off)'),
  seed: z.number().int().min(0).default(0).describe('Seed of the data order'),
  checkpointEvery: z
    .number()
    .int()
    .min(0)
    .default(0)
    .describe('Save a resumable checkpoint every N steps (0 = only at the end)'),
  gradientCheckpointing: z
    .boolean()
    .default(false)
    .describe('Recompute block activations in the backward pass (less memory, ~1.3× compute)'),
});
export type TrainConfig = z.infer<typeof TrainConfigSchema>;

/** Indices of the examples in the batch of `step`: epoch-wise seeded permutations. */
export function batchIndices(n: number, batchSize: number, seed: number, step: number): number[] {
  const out: number[] = [];
  let pos = step * batchSize;
  while (out.length < batchSize) {
    const epoch = Math.floor(pos / n);
    const perm = new Rng((seed * 1_000_003 + epoch) >>> 0).shuffle(Array.from({ length: n }, (_, i) => i));
    for (let i = pos % n; i < n && out.length < batchSize; i++, pos++) out.push(perm[i] as number);
  }
  return out;
}

/**
 * One stage of a run: the invocation that trained from `fromStep` on (the first at 0; each resume adds one), with
 * its command and the settings it changed from the checkpoint's. Kept in the checkpoint, so that a run trained in
 * several stages says so (a manifest records them all, not only the last command).
 */
export interface TrainStage {
  readonly fromStep: number;
  readonly command?: string | undefined;
  readonly changed: readonly string[];
}

const TrainStagesSchema = z.array(
  z.strictObject({
    fromStep: z.number().int().min(0),
    command: z.string().optional(),
    changed: z.array(z.string()),
  }),
);

export interface LoopOptions {
  readonly deltas?: readonly LinearDelta[];
  /** The command of this invocation, for the run's stage history (`TrainStage`). */
  readonly command?: string;
  /** Directory for resumable checkpoints; an existing checkpoint there is resumed. */
  readonly checkpointDir?: string;
  readonly label?: string;
  readonly quiet?: boolean;
  /** Called every step with (step, loss, lr). */
  readonly onStep?: (step: number, loss: number, lr: number) => void;
  /** Stop early (e.g. Ctrl-C): checked between steps; a checkpoint is written before returning. */
  readonly shouldStop?: () => boolean;
}

export interface LoopResult {
  readonly steps: number;
  readonly losses: number[];
  readonly finalLoss: number;
  readonly resumedFrom: number;
  readonly stopped: boolean;
  /** Settings a resume changed from the checkpoint's (e.g. `lr 0.003 → 0.001`); `steps` is not listed. */
  readonly changedOnResume: string[];
  /** Every stage of the run so far, this invocation last. */
  readonly stages: readonly TrainStage[];
}

/**
 * The train settings `cfg` changes from a checkpoint's saved config, other than `steps` (which a resume may raise):
 * one `key old → new` line each. A resume that changes the recipe is allowed — it is a new stage of training — but
 * said, since the run is then no longer what one command with the final config gives.
 */
export function changedSettings(saved: unknown, cfg: TrainConfig): string[] {
  if (typeof saved !== 'object' || saved === null) return [];
  const old = saved as Record<string, unknown>;
  return Object.entries(cfg)
    .filter(([k, v]) => k !== 'steps' && k in old && JSON.stringify(old[k]) !== JSON.stringify(v))
    .map(([k, v]) => `${k} ${JSON.stringify(old[k])} → ${JSON.stringify(v)}`);
}

export async function trainLoop(
  model: Transformer,
  vars: ReadonlyMap<string, Variable>,
  examples: readonly Example[],
  cfg: TrainConfig,
  opts: LoopOptions = {},
): Promise<LoopResult> {
  if (examples.length === 0) throw new Error('trainLoop: no training examples');
  const optimizer = new AdamW(vars, {
    beta1: 0.9,
    beta2: cfg.beta2,
    eps: 1e-8,
    weightDecay: cfg.weightDecay,
  });
  let start = 0;
  let changedOnResume: string[] = [];
  let earlier: TrainStage[] = [];
  if (opts.checkpointDir !== undefined && existsSync(`${opts.checkpointDir}/state.json`)) {
    const state = await loadCheckpoint(opts.checkpointDir, vars, optimizer);
    start = state.step;
    changedOnResume = changedSettings(state.config, cfg);
    // A checkpoint written before stages were kept: one earlier stage of unknown command.
    const saved = TrainStagesSchema.safeParse(state.extra?.['stages']);
    earlier = saved.success ? saved.data : [{ fromStep: 0, changed: [] }];
    if (changedOnResume.length > 0 && opts.quiet !== true)
      process.stderr.write(
        `resuming at step ${start} with changed settings: ${changedOnResume.join(', ')}\n`,
      );
    if (start >= cfg.steps) {
      optimizer.dispose();
      throw new SealError(
        `the checkpoint is at step ${start}, which already reaches steps = ${cfg.steps}: raise steps to train on`,
        opts.checkpointDir,
      );
    }
  }
  const stages: TrainStage[] = [
    ...earlier,
    {
      fromStep: start,
      ...(opts.command === undefined ? {} : { command: opts.command }),
      changed: changedOnResume,
    },
  ];
  const save = (at: number) =>
    saveCheckpoint(opts.checkpointDir as string, vars, optimizer, at, cfg, { stages });
  const progress = new Progress({
    total: cfg.steps,
    label: opts.label ?? 'train',
    initial: start,
    ...(opts.quiet === undefined ? {} : { quiet: opts.quiet }),
  });
  const losses: number[] = [];
  let ema = Number.NaN;
  let step = start;
  let stopped = false;
  try {
    for (; step < cfg.steps; step++) {
      // A step is synchronous: give signal handlers (Ctrl-C sets the stop flag) a turn before each one, else a stop
      // asked for is seen only at the next checkpoint's write.
      if (opts.shouldStop !== undefined) await new Promise((resolve) => setImmediate(resolve));
      if (opts.shouldStop?.() === true) {
        stopped = true;
        break;
      }
      const batch = makeBatch(
        batchIndices(examples.length, cfg.batchSize, cfg.seed, step).map((i) => examples[i] as Example),
        cfg.seqLen,
      );
      const lr = learningRate(cfg.schedule, cfg.lr, step, cfg.steps);
      const { loss } = trainStep(model, vars, optimizer, [batch], lr, {
        ...(opts.deltas === undefined ? {} : { deltas: opts.deltas }),
        clipNorm: cfg.clipNorm,
        gradientCheckpointing: cfg.gradientCheckpointing,
      });
      losses.push(loss);
      ema = Number.isNaN(ema) ? loss : 0.95 * ema + 0.05 * loss;
      opts.onStep?.(step, loss, lr);
      progress.tick(1, `loss ${ema.toFixed(4)} lr ${lr.toExponential(2)}`);
      if (
        opts.checkpointDir !== undefined &&
        cfg.checkpointEvery > 0 &&
        (step + 1) % cfg.checkpointEvery === 0 &&
        step + 1 < cfg.steps
      ) {
        await save(step + 1);
      }
    }
    if (opts.checkpointDir !== undefined) await save(step);
  } finally {
    optimizer.dispose();
  }
  progress.finish(stopped ? 'stopped' : undefined);
  return {
    steps: step,
    losses,
    finalLoss: losses.length > 0 ? (losses[losses.length - 1] as number) : Number.NaN,
    resumedFrom: start,
    stopped,
    changedOnResume,
    stages,
  };
}
