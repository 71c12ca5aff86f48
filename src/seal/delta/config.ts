/**
 * Delta mode's training configuration, validated once at the boundary: the generator, the reward, and how the
 * generator learns (a discriminated union: direct | ppo | reinforce), plus what a training step logs.
 */
import { z } from 'zod';
import type { UpdateLog } from '../../rl/ppo.js';
import { EditGeneratorConfigSchema } from './generator.js';
import { DeltaRewardSchema } from './reward.js';

const DeltaPpoSchema = z.strictObject({
  kind: z.literal('ppo'),
  totalTimesteps: z.number().int().min(1).default(1024).describe('Edits tried in all (env steps)'),
  numEnvs: z.number().int().min(1).default(4).describe('Contexts edited in lockstep'),
  numSteps: z.number().int().min(1).default(32).describe('Steps per env per rollout'),
  numMinibatches: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe(
      'Minibatches per update epoch, one Adam step each (default: 4 for the latent action, as CleanRL; 1 for the token actions, as every token run of sessions 10–16 used, so they reproduce; 4 minibatches of 32 edits did worse in two single-seed val runs of session 16)',
    ),
  updateEpochs: z.number().int().min(1).default(4).describe('Epochs per update'),
  learningRate: z.number().positive().default(1e-3).describe('Adam learning rate'),
  annealLr: z
    .boolean()
    .default(true)
    .describe('Anneal the learning rate linearly to 0 over the updates (CleanRL); false: constant'),
  clipCoef: z.number().positive().default(0.2).describe('PPO ratio clip ε'),
  entCoef: z.number().min(0).default(0).describe('Entropy bonus'),
  vfCoef: z.number().min(0).default(0.5).describe('Value loss coefficient'),
  maxGradNorm: z.number().positive().default(0.5).describe('Global gradient-norm clip'),
  targetKl: z
    .number()
    .positive()
    .nullable()
    .default(0.05)
    .describe('Early-stop an update past this approx-KL'),
  action: z
    .enum(['latent', 'tokens', 'gate', 'gate-logit'])
    .default('latent')
    .describe(
      "What the policy samples: the pooled latent z (the seed's design); one fast-weight code per passage token (Gaussian; needs generator.fastCode > 0); one write per passage token (Bernoulli over the write gate; needs generator.fastGate); or one gate logit per passage token (Gaussian around h·g + b, the token writing σ(logit): its mean action is the edit evaluated afterwards; needs generator.fastGate) — rl/token-ppo",
    ),
  gateLogStd: z
    .number()
    .default(0)
    .describe(
      'action "gate-logit": initial log σ of the Gaussian over each gate logit (learned with the policy)',
    ),
  samplesPerContext: z
    .number()
    .int()
    .min(1)
    .default(4)
    .describe(
      'actions "tokens", "gate" and "gate-logit": edits sampled per drawn context (their leave-one-out mean is the baseline)',
    ),
  sharedNeighbour: z
    .boolean()
    .default(false)
    .describe(
      'actions "tokens", "gate" and "gate-logit": the edits of one drawn context share its neighbour draw (the known person the locality reward reads; common random numbers, so the leave-one-out baseline cancels that person\'s own difficulty); false: one draw per edit',
    ),
  warmStartSteps: z
    .number()
    .int()
    .min(0)
    .default(0)
    .describe(
      'Direct-gradient steps first (fast-weight part included; the direct defaults otherwise), then the policy gradient tunes the latent on the full reward',
    ),
});
/** Minibatches per epoch of a policy-gradient optimizer: its own, or its action's default (see numMinibatches). */
export function minibatchesOf(o: Pick<z.output<typeof DeltaPpoSchema>, 'numMinibatches' | 'action'>): number {
  return o.numMinibatches ?? (o.action === 'latent' ? 4 : 1);
}

const DeltaReinforceSchema = DeltaPpoSchema.extend({
  kind: z.literal('reinforce'),
  numMinibatches: z.literal(1).default(1).describe('One minibatch: the whole rollout'),
  updateEpochs: z.literal(1).default(1).describe('One gradient step per rollout'),
  targetKl: z.null().default(null).describe('No early stop'),
});
export const DeltaDirectSchema = z.strictObject({
  kind: z.literal('direct'),
  steps: z.number().int().min(1).default(1000).describe('Gradient steps'),
  batchContexts: z.number().int().min(1).default(8).describe('Contexts per step'),
  learningRate: z.number().positive().default(1e-3).describe('AdamW learning rate'),
  warmupSteps: z.number().int().min(0).default(50).describe('Linear learning-rate warm-up'),
  neighbourKl: z
    .number()
    .min(0)
    .default(1)
    .describe(
      "Weight of the locality loss on another person's questions (the run's locality people, or the other training people without them): MEND's locality term, the edit must stay about its passage (its form: localityLoss)",
    ),
  localityLoss: z
    .enum(['hard', 'soft'])
    .default('hard')
    .describe(
      "The locality term's form: cross-entropy to the base's greedy answers (hard) or KL(base ‖ edited) of the whole next-token distribution at the answer positions (soft: zero at the zero edit, with no floor where the base is unsure)",
    ),
  textKl: z
    .number()
    .min(0)
    .default(0)
    .describe(
      "Weight of KL(base ‖ edited) over every token of another drawn person's biography (each edit checked on the next drawn context's passage): the drawdown as a training term",
    ),
  stackTrain: z
    .number()
    .int()
    .min(1)
    .default(1)
    .refine((n) => (n & (n - 1)) === 0, 'a power of two')
    .describe(
      "Largest group of edits trained together (a power of two): each step the drawn contexts form groups of a size drawn from 1, 2, 4 … up to this, and every member's answers and the locality terms are read under its group's summed edit, so edits learn to compose (1: each edit alone)",
    ),
  neighboursPerEdit: z
    .number()
    .int()
    .min(1)
    .max(64)
    .default(1)
    .describe("People each edit's locality term is checked on, per step"),
  maxGradNorm: z.number().positive().default(1).describe('Global gradient-norm clip'),
  trainDecoder: z.boolean().default(true).describe('Also learn the decoder D (not only the encoder)'),
  learn: z
    .enum(['all', 'gate'])
    .default('all')
    .describe(
      'What the direct gradient trains: everything (encoder, decoder if trainDecoder, fast weights) or the write gate alone (g, b; needs generator.fastGate) — the policy gradient\'s action "gate" trains the same',
    ),
});

export const DELTA_OPTIMIZERS = ['direct', 'ppo', 'reinforce'] as const;

export const DeltaTrainConfigSchema = z
  .strictObject({
    generator: EditGeneratorConfigSchema.prefault({}),
    reward: DeltaRewardSchema.prefault({}),
    optimizer: z
      .discriminatedUnion('kind', [DeltaPpoSchema, DeltaReinforceSchema, DeltaDirectSchema])
      .prefault({ kind: 'direct' })
      .describe('How the generator learns: direct | ppo | reinforce'),
    seed: z.number().int().min(0).default(0).describe('Seed of context order, actions and minibatches'),
  })
  .superRefine((c, ctx) => {
    if (c.optimizer.kind !== 'direct' && c.optimizer.action === 'tokens' && c.generator.fastCode === 0)
      ctx.addIssue({
        code: 'custom',
        path: ['optimizer', 'action'],
        message: 'action "tokens" needs generator.fastCode > 0 (the per-token code the policy samples)',
      });
    if (c.optimizer.kind !== 'direct' && c.optimizer.action === 'latent' && c.optimizer.sharedNeighbour)
      ctx.addIssue({
        code: 'custom',
        path: ['optimizer', 'sharedNeighbour'],
        message:
          'sharedNeighbour is for the token actions (tokens, gate, gate-logit): the latent action draws one edit per context',
      });
    if (c.optimizer.kind === 'direct' && c.optimizer.learn === 'gate' && !c.generator.fastGate)
      ctx.addIssue({
        code: 'custom',
        path: ['optimizer', 'learn'],
        message: 'learn "gate" needs generator.fastGate (the write gate it trains)',
      });
    if (
      c.optimizer.kind !== 'direct' &&
      (c.optimizer.action === 'gate' || c.optimizer.action === 'gate-logit') &&
      !c.generator.fastGate
    )
      ctx.addIssue({
        code: 'custom',
        path: ['optimizer', 'action'],
        message: `action "${c.optimizer.action}" needs generator.fastGate (the write gate the policy samples)`,
      });
  });
export type DeltaTrainConfig = z.infer<typeof DeltaTrainConfigSchema>;

export interface DeltaTrainLog {
  readonly step: number;
  /** Mean reward (and parts) of the edits of this update / step. */
  readonly reward: number;
  readonly nll: number;
  readonly magnitude: number;
  /** Direct gradient: mean locality loss (cross-entropy to the base's answers on another person's questions). */
  readonly locality?: number;
  /** Direct gradient with `textKl`: mean KL(base ‖ edited) on another person's biography. */
  readonly textKl?: number;
  /** PPO/REINFORCE diagnostics (CleanRL's set), when applicable. */
  readonly ppo?: Pick<
    UpdateLog,
    'approxKl' | 'clipfrac' | 'explainedVariance' | 'entropy' | 'policyLoss' | 'valueLoss'
  >;
}
