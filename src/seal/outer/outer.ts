/**
 * The outer loop, selectable by config: `{ "kind": "rest-em", ... }` (SEAL's choice) or `{ "kind": "grpo", ... }`
 * (the policy-gradient loop). Both share the rollout, the round summaries, checkpoints and resume.
 */
import { z } from 'zod';
import type { LoraAdapter } from '../../lora/adapter.js';
import type { RunDir } from '../../util/run-dir.js';
import { GrpoConfigSchema, grpo } from './grpo.js';
import { RestEmConfigSchema, restEm } from './rest-em.js';
import type { OuterHooks, RoundSummary, SealProblem } from './rollout.js';

export const OuterConfigSchema = z
  .discriminatedUnion('kind', [
    RestEmConfigSchema.extend({
      kind: z.literal('rest-em').describe('ReST-EM: SFT on the best self-edit per context (SEAL)'),
    }),
    GrpoConfigSchema.extend({
      kind: z.literal('grpo').describe('GRPO: clipped policy gradient with group-normalised advantages'),
    }),
  ])
  .describe('The outer RL loop and its settings');
export type OuterConfig = z.infer<typeof OuterConfigSchema>;
export type OuterKind = OuterConfig['kind'];
export const OUTER_KINDS = ['rest-em', 'grpo'] as const satisfies readonly OuterKind[];

export function runOuterLoop(
  p: SealProblem,
  cfg: OuterConfig,
  run?: RunDir,
  hooks: OuterHooks = {},
): Promise<{ policy: LoraAdapter; rounds: RoundSummary[] }> {
  switch (cfg.kind) {
    case 'rest-em':
      return restEm(p, cfg, run, hooks);
    case 'grpo':
      return grpo(p, cfg, run, hooks);
    default: {
      const never: never = cfg;
      throw new Error(`unknown outer loop ${JSON.stringify(never)}`);
    }
  }
}
