/**
 * Training the EditGenerator, three ways (selectable):
 *   ppo         the seed's method: a Gaussian policy over the latent (learned log-std), value baseline, normalised
 *               advantages, clipped surrogate, entropy bonus, grad-norm clip, target-KL early stop — CleanRL's
 *               `trainPpo` with one-step episodes: observe a context embedding, act with a latent, get the reward.
 *   reinforce   REINFORCE with a learned baseline: the same machinery with one epoch of one minibatch (the ratio
 *               is then exactly 1 and the clipped surrogate's gradient is −A·∇log π).
 *   direct      MEND-style meta-learning: backpropagate the differentiable −CE reward (and the edit penalty)
 *               through the generated delta into encoder and decoder; no sampling.
 * The base model is frozen throughout; edits are applied as LinearDeltas.
 */
import { z } from 'zod';
import { type Tensor, type Tensor2D, tf, type Variable } from '../../engine/tf.js';
import { RowGroupedDelta } from '../../model/linear.js';
import type { Transformer } from '../../model/model.js';
import { checksum } from '../../model/params.js';
import { PpoConfigSchema, trainPpo, type UpdateLog, type VectorEnv } from '../../rl/ppo.js';
import type { Context } from '../../tasks/types.js';
import { type Batch, stackBatches, weightSum } from '../../train/data.js';
import { AdamW, clipByGlobalNorm } from '../../train/optimizer.js';
import { lmLoss } from '../../train/step.js';
import { Progress } from '../../util/progress.js';
import { Rng } from '../../util/rng.js';
import { readContext } from './embedding.js';
import { EditGenerator, EditGeneratorConfigSchema } from './generator.js';
import {
  answerBatch,
  baseTargets,
  type DeltaRewardParts,
  DeltaRewardSchema,
  deltaReward,
  type RewardEnv,
} from './reward.js';
import { tokenPolicyGradient } from './token-train.js';
import { inputSecondMoments, ridgeInverse } from './whitening.js';

const DeltaPpoSchema = z.strictObject({
  kind: z.literal('ppo'),
  totalTimesteps: z.number().int().min(1).default(1024).describe('Edits tried in all (env steps)'),
  numEnvs: z.number().int().min(1).default(4).describe('Contexts edited in lockstep'),
  numSteps: z.number().int().min(1).default(32).describe('Steps per env per rollout'),
  numMinibatches: z.number().int().min(1).default(4).describe('Minibatches per update epoch'),
  updateEpochs: z.number().int().min(1).default(4).describe('Epochs per update'),
  learningRate: z.number().positive().default(1e-3).describe('Adam learning rate (annealed linearly)'),
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
    .enum(['latent', 'tokens'])
    .default('latent')
    .describe(
      "What the policy samples: the pooled latent z (the seed's design), or one fast-weight code per passage token (needs generator.fastCode > 0; rl/token-ppo)",
    ),
  samplesPerContext: z
    .number()
    .int()
    .min(1)
    .default(4)
    .describe('action "tokens": edits sampled per drawn context (their leave-one-out mean is the baseline)'),
  warmStartSteps: z
    .number()
    .int()
    .min(0)
    .default(0)
    .describe(
      'Direct-gradient steps first (fast-weight part included; the direct defaults otherwise), then the policy gradient tunes the latent on the full reward',
    ),
});
const DeltaReinforceSchema = DeltaPpoSchema.extend({
  kind: z.literal('reinforce'),
  numMinibatches: z.literal(1).default(1).describe('One minibatch: the whole rollout'),
  updateEpochs: z.literal(1).default(1).describe('One gradient step per rollout'),
  targetKl: z.null().default(null).describe('No early stop'),
});
const DeltaDirectSchema = z.strictObject({
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
      "Weight of the locality loss on a known person's questions (or another training person's without known people): cross-entropy to the base's own answers there (a hard-label KL; MEND's locality term: the edit must stay about its passage)",
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
  /** PPO/REINFORCE diagnostics (CleanRL's set), when applicable. */
  readonly ppo?: Pick<
    UpdateLog,
    'approxKl' | 'clipfrac' | 'explainedVariance' | 'entropy' | 'policyLoss' | 'valueLoss'
  >;
}

export interface DeltaTrainResult {
  readonly generator: EditGenerator;
  readonly logs: DeltaTrainLog[];
  readonly wallS: number;
}

interface Prepared {
  readonly context: Context;
  readonly embedding: Float32Array;
  /** (T, C), disposed by `trainEditGenerator` when training ends. */
  readonly hidden: Tensor2D;
  readonly answers: Batch;
}

/** What the generator reads of each context, and its answer batch: computed once, before training. */
export function prepareContexts(
  env: RewardEnv,
  gen: EditGenerator,
  contexts: readonly Context[],
): Prepared[] {
  return contexts.map((c) => ({
    context: c,
    ...readContext(env.model, env.tok, `${c.title}\n${c.passage}`, gen.layer),
    answers: answerBatch(env, c),
  }));
}

/** One-step episodes: observe a context's embedding, act with a latent z, receive the edit's reward. */
class EditEnv implements VectorEnv {
  readonly obsDim: number;
  private current: number[];
  readonly parts: DeltaRewardParts[] = [];

  constructor(
    readonly numEnvs: number,
    private readonly env: RewardEnv,
    private readonly gen: EditGenerator,
    private readonly items: readonly Prepared[],
    private readonly cfg: DeltaTrainConfig,
    private readonly rng: Rng,
    private readonly unrelated?: Batch,
  ) {
    this.obsDim = env.model.config.dim;
    this.current = Array.from({ length: numEnvs }, () => rng.int(items.length));
  }

  private observe(): Float32Array {
    const out = new Float32Array(this.numEnvs * this.obsDim);
    this.current.forEach((k, e) => {
      out.set(this.items[k]!.embedding, e * this.obsDim);
    });
    return out;
  }

  reset(): Float32Array {
    return this.observe();
  }

  step(actions: Float32Array) {
    const latent = this.gen.latentDim;
    const rewards = new Float32Array(this.numEnvs);
    const episodes = [];
    for (let e = 0; e < this.numEnvs; e++) {
      const item = this.items[this.current[e]!]!;
      const z = tf.tensor2d(actions.subarray(e * latent, (e + 1) * latent), [1, latent]);
      const edit = this.gen.edit(z, item.hidden);
      const p = deltaReward(this.env, item.context, edit, this.cfg.reward, {
        answers: item.answers,
        ...(this.unrelated === undefined ? {} : { unrelated: this.unrelated }),
      });
      z.dispose();
      this.parts.push(p);
      rewards[e] = p.reward;
      episodes.push({ env: e, return: p.reward, length: 1 });
      this.current[e] = this.rng.int(this.items.length);
    }
    const done = new Uint8Array(this.numEnvs).fill(1);
    return {
      obs: this.observe(),
      rewards,
      terminations: done,
      truncations: new Uint8Array(this.numEnvs),
      episodes,
    };
  }
}

/** The scale that makes a batch's weights sum to 1 (each context counts once, however many answer tokens). */
const perContext = (b: Batch) => 1 / (weightSum(b) || 1);

const mean = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);

type DirectConfig = z.infer<typeof DeltaDirectSchema>;

/** MEND-style meta-learning: backpropagate −CE (and the edit penalty) through the generated edit. */
function directGradient(
  env: RewardEnv,
  gen: EditGenerator,
  items: readonly Prepared[],
  o: DirectConfig,
  cfg: DeltaTrainConfig,
  logs: DeltaTrainLog[],
  opts: {
    readonly quiet?: boolean;
    readonly locality?: readonly Context[];
    readonly onLog?: (l: DeltaTrainLog) => void;
  },
): void {
  const vars = new Map<string, Variable>();
  gen.encoderVariables().forEach((v, i) => {
    vars.set(`encoder.${i}`, v);
  });
  if (o.trainDecoder)
    gen.decoderVariables().forEach((v, i) => {
      vars.set(`decoder.${i}`, v);
    });
  gen.fastVariables().forEach((v, i) => {
    vars.set(`fast.${i}`, v);
  });
  const names = [...vars.keys()];
  const list = names.map((n) => vars.get(n)!);
  const opt = new AdamW(vars);
  const rng = new Rng(cfg.seed + 3);
  // The people whose answers each edit must keep: `locality` (people the model knows) or, without it, the other
  // training contexts.
  const pool = opts.locality ?? items.map((it) => it.context);
  const locked =
    o.neighbourKl > 0
      ? pool.map((c, i) =>
          baseTargets(env, opts.locality === undefined ? items[i]!.answers : answerBatch(env, c)),
        )
      : [];
  const progress = new Progress({
    total: o.steps,
    label: 'delta direct',
    ...(opts.quiet === undefined ? {} : { quiet: opts.quiet }),
  });
  for (let step = 1; step <= o.steps; step++) {
    const chosen = Array.from({ length: o.batchContexts }, () => items[rng.int(items.length)]!);
    // Each edit's locality is checked on the questions of `neighboursPerEdit` other (random) people: pairs
    // (edit j, person p).
    const neighbours = chosen.map(() =>
      Array.from({ length: o.neighboursPerEdit }, () => rng.int(pool.length)),
    );
    const pairs = chosen.flatMap((it, j) =>
      locked.length === 0 ? [] : neighbours[j]!.filter((p) => pool[p] !== it.context).map((p) => ({ j, p })),
    );
    const edited = new Set(pairs.map((x) => x.j)).size;
    let nllValue = 0;
    let magValue = 0;
    let locValue = 0;
    const { value, grads } = tf.variableGrads(() => {
      const edits = chosen.map((it) =>
        gen.edit(gen.meanLatent(tf.tensor2d(it.embedding, [1, it.embedding.length]) as Tensor2D), it.hidden),
      );
      // All the edits in one forward pass: their sequences stacked, each edit on its own rows. Each context's
      // weights sum to 1, so the loss is the mean over contexts of each context's mean cross-entropy.
      const own = stackBatches(chosen.map((it) => ({ batch: it.answers, scale: perContext(it.answers) })));
      const nll = lmLoss(env.model, own.batch, [new RowGroupedDelta(edits, own.rows)]);
      const mag = tf.div(tf.addN(edits.map((e) => e.normSq())), edits.length);
      nllValue = nll.dataSync()[0]!;
      magValue = mag.dataSync()[0]!;
      let loss = tf.add(tf.mul(nll, cfg.reward.nll), tf.mul(mag, cfg.reward.magnitude));
      if (pairs.length > 0) {
        // Each pair's weights sum to 1: the loss is the mean over pairs, weighted by the share of edits checked.
        const loc = stackBatches(
          pairs.map(({ p }) => {
            const b = locked[p]!;
            return { batch: b, scale: perContext(b) };
          }),
        );
        const kl = lmLoss(env.model, loc.batch, [
          new RowGroupedDelta(
            pairs.map(({ j }) => edits[j]!),
            loc.rows,
          ),
        ]);
        locValue = kl.dataSync()[0]!;
        loss = tf.add(loss, tf.mul(kl, (o.neighbourKl * edited) / chosen.length));
      }
      return loss as tf.Scalar;
    }, list);
    const acc = new Map<string, Tensor>();
    names.forEach((n, i) => {
      const g = grads[list[i]!.name];
      if (g !== undefined) acc.set(n, g);
    });
    clipByGlobalNorm(acc, o.maxGradNorm);
    opt.update(acc, o.learningRate * (o.warmupSteps > 0 ? Math.min(1, step / o.warmupSteps) : 1));
    for (const g of acc.values()) g.dispose();
    const l: DeltaTrainLog = {
      step,
      reward: -(value.dataSync()[0] as number),
      nll: nllValue,
      magnitude: magValue,
      locality: locValue,
    };
    value.dispose();
    logs.push(l);
    opts.onLog?.(l);
    progress.tick(1, `nll ${l.nll.toFixed(3)} loc ${(l.locality ?? 0).toFixed(3)}`);
  }
  progress.finish();
  opt.dispose();
}

export async function trainEditGenerator(
  env: RewardEnv,
  contexts: readonly Context[],
  cfg: DeltaTrainConfig,
  opts: {
    readonly quiet?: boolean;
    readonly unrelated?: Batch;
    /** People whose answers the direct gradient's locality term keeps (default: the other training contexts). */
    readonly locality?: readonly Context[];
    /** Train this generator further (e.g. a saved direct-gradient one, as a warm start) instead of a new one. */
    readonly from?: EditGenerator;
    /** Ordinary text whose module inputs define the key whitening (`whitenKeys`; default: the passages). */
    readonly whiteningTexts?: readonly string[];
    readonly onLog?: (l: DeltaTrainLog) => void;
  } = {},
): Promise<DeltaTrainResult> {
  // seed → build
  const t0 = performance.now();
  const base = checksum(env.model.params);
  const gen = opts.from ?? new EditGenerator(env.model, cfg.generator);
  if (opts.from === undefined && cfg.generator.whitenKeys) {
    const texts = opts.whiteningTexts ?? contexts.slice(0, 64).map((c) => `${c.title}\n${c.passage}`);
    const moments = inputSecondMoments(env.model, env.tok, texts, [...gen.decoder.keys()]);
    gen.setKeyWhitening(
      new Map([...moments].map(([m, { c, dim }]) => [m, ridgeInverse(c, dim, cfg.generator.whitenRidge)])),
    );
  }
  const items = prepareContexts(env, gen, contexts);
  const logs: DeltaTrainLog[] = [];
  const o = cfg.optimizer;
  switch (o.kind) {
    case 'ppo':
    case 'reinforce': {
      if (o.warmStartSteps > 0)
        directGradient(
          env,
          gen,
          items,
          DeltaDirectSchema.parse({ kind: 'direct', steps: o.warmStartSteps }),
          cfg,
          logs,
          opts,
        );
      const warm = logs.length;
      const batch = o.numEnvs * o.numSteps;
      if (o.action === 'tokens') {
        tokenPolicyGradient(env, gen, items, { ...o, kind: o.kind, batch }, cfg.reward, cfg.seed + 1, {
          ...(opts.quiet === undefined ? {} : { quiet: opts.quiet }),
          ...(opts.locality === undefined
            ? {}
            : { neighbours: opts.locality.map((c) => baseTargets(env, answerBatch(env, c))) }),
          onUpdate: (u) => {
            const l: DeltaTrainLog = {
              step: warm + u.update,
              reward: u.parts.reward,
              nll: u.parts.nll,
              magnitude: u.parts.magnitude,
              locality: u.parts.neighbour,
              ppo: {
                approxKl: u.approxKl,
                clipfrac: u.clipfrac,
                explainedVariance: u.explainedVariance,
                entropy: u.entropy,
                policyLoss: u.policyLoss,
                valueLoss: u.valueLoss,
              },
            };
            logs.push(l);
            opts.onLog?.(l);
          },
        });
        break;
      }
      const updates = Math.max(1, Math.floor(o.totalTimesteps / batch));
      const progress = new Progress({
        total: updates,
        label: `delta ${o.kind}`,
        ...(opts.quiet === undefined ? {} : { quiet: opts.quiet }),
      });
      let edits: EditEnv | undefined;
      const ppoCfg = PpoConfigSchema.parse({
        seed: cfg.seed + 1,
        totalTimesteps: updates * batch,
        learningRate: o.learningRate,
        annealLr: true,
        numEnvs: o.numEnvs,
        numSteps: o.numSteps,
        gamma: 0,
        gaeLambda: 0,
        numMinibatches: o.numMinibatches,
        updateEpochs: o.updateEpochs,
        normAdv: batch / o.numMinibatches >= 2,
        clipCoef: o.clipCoef,
        clipVloss: false,
        entCoef: o.entCoef,
        vfCoef: o.vfCoef,
        maxGradNorm: o.maxGradNorm,
        targetKl: o.targetKl,
      });
      await trainPpo(ppoCfg, {
        makeEnvs: (n) => {
          edits = new EditEnv(n, env, gen, items, cfg, new Rng(cfg.seed + 2), opts.unrelated);
          return edits;
        },
        makeAgent: () => gen.agent,
        onUpdate: (u) => {
          const parts = edits!.parts.splice(0);
          const l: DeltaTrainLog = {
            step: warm + u.update,
            reward: mean(parts.map((p) => p.reward)),
            nll: mean(parts.map((p) => p.nll)),
            magnitude: mean(parts.map((p) => p.magnitude)),
            ppo: {
              approxKl: u.approxKl,
              clipfrac: u.clipfrac,
              explainedVariance: u.explainedVariance,
              entropy: u.entropy,
              policyLoss: u.policyLoss,
              valueLoss: u.valueLoss,
            },
          };
          logs.push(l);
          opts.onLog?.(l);
          progress.tick(1, `reward ${l.reward.toFixed(3)} nll ${l.nll.toFixed(3)}`);
        },
      });
      progress.finish();
      break;
    }
    case 'direct':
      directGradient(env, gen, items, o, cfg, logs, opts);
      break;
    default: {
      const never: never = o;
      throw new Error(`unknown delta optimiser ${JSON.stringify(never)}`);
    }
  }
  for (const it of items) it.hidden.dispose();
  if (checksum(env.model.params) !== base)
    throw new Error('the frozen base model changed while training the EditGenerator');
  return { generator: gen, logs, wallS: (performance.now() - t0) / 1000 };
}

/**
 * The deterministic edit for a new document: one pass of the frozen base over it, the encoder's mean latent, the
 * decoder and the fast-weight write. `dispose` frees the latent and hidden states the edit reads.
 */
export function editFor(
  env: { model: Transformer; tok: RewardEnv['tok'] },
  gen: EditGenerator,
  text: string,
) {
  const { embedding, hidden } = readContext(env.model, env.tok, text, gen.layer);
  const z = tf.tidy(() => gen.meanLatent(tf.tensor2d(embedding, [1, embedding.length]) as Tensor2D));
  return {
    edit: gen.edit(z, hidden),
    dispose: () => {
      z.dispose();
      hidden.dispose();
    },
  };
}
