/** Learning-rate schedules: linear warmup, then constant, linear decay or cosine decay to `minLr`. Pure. */
import { z } from 'zod';

export const ScheduleSchema = z.strictObject({
  kind: z
    .enum(['constant', 'linear', 'cosine'])
    .default('cosine')
    .describe('Decay after warmup: constant, linear or cosine'),
  warmupSteps: z
    .number()
    .int()
    .min(0)
    .default(0)
    .describe('Steps of linear warmup from 0 to the peak learning rate'),
  minLrRatio: z.number().min(0).max(1).default(0.1).describe('Final learning rate as a fraction of the peak'),
});
export type Schedule = z.infer<typeof ScheduleSchema>;

/** Learning rate for `step` (0-based) of `totalSteps`. */
export function learningRate(schedule: Schedule, peakLr: number, step: number, totalSteps: number): number {
  if (schedule.warmupSteps > 0 && step < schedule.warmupSteps)
    return (peakLr * (step + 1)) / schedule.warmupSteps;
  const minLr = peakLr * schedule.minLrRatio;
  const decaySteps = Math.max(1, totalSteps - schedule.warmupSteps);
  const progress = Math.min(1, Math.max(0, (step - schedule.warmupSteps) / decaySteps));
  switch (schedule.kind) {
    case 'constant':
      return peakLr;
    case 'linear':
      return peakLr + (minLr - peakLr) * progress;
    case 'cosine':
      return minLr + 0.5 * (peakLr - minLr) * (1 + Math.cos(Math.PI * progress));
    default: {
      const never: never = schedule.kind;
      throw new Error(`unreachable schedule ${String(never)}`);
    }
  }
}
