/**
 * Training the EditGenerator, three ways (selectable):
 *   ppo         the seed's method: a Gaussian policy over the latent (learned log-std), value baseline, normalised
 *               advantages, clipped surrogate, entropy bonus, grad-norm clip, target-KL early stop — CleanRL's
 *               `trainPpo` with one-step episodes: observe a context embedding, act with a latent, get the reward.
 *   reinforce   REINFORCE with a learned baseline: the same machinery with one epoch of one minibatch (the ratio
 *               is then exactly 1 and the clipped surrogate's gradient is −A·∇log π).
 *   direct      MEND-style meta-learning: backpropagate the differentiable −CE reward (and the edit penalty)
 *               through the generated delta into encoder and decoder; no sampling (direct.ts).
 * PPO and REINFORCE act on the pooled latent (here) or, with `action: "tokens"` / `"gate"`, on one fast-weight
 * code / one write per token (token-train.ts). Configs live in config.ts. The base model is frozen throughout; edits are LinearDeltas.
 */
import { type Tensor2D, tf } from '../../engine/tf.js';
import type { Transformer } from '../../model/model.js';
import { checksum } from '../../model/params.js';
import { PpoConfigSchema, trainPpo, type VectorEnv } from '../../rl/ppo.js';
import type { Context } from '../../tasks/types.js';
import type { Batch } from '../../train/data.js';
import { Progress } from '../../util/progress.js';
import { Rng } from '../../util/rng.js';
import { DeltaDirectSchema, type DeltaTrainConfig, type DeltaTrainLog, minibatchesOf } from './config.js';
import { directGradient, type Prepared, prepareContexts } from './direct.js';
import { editText, readContext } from './embedding.js';
import { EditGenerator } from './generator.js';
import { answerBatch, baseTargets, type DeltaRewardParts, deltaReward, type RewardEnv } from './reward.js';
import { tokenPolicyGradient } from './token-train.js';
import { inputSecondMoments, ridgeInverse } from './whitening.js';

/** The CleanRL diagnostics a policy-gradient update logs (latent PPO's UpdateLog or the token learner's log). */
const ppoDiagnostics = (u: NonNullable<DeltaTrainLog['ppo']>): NonNullable<DeltaTrainLog['ppo']> => ({
  approxKl: u.approxKl,
  clipfrac: u.clipfrac,
  explainedVariance: u.explainedVariance,
  entropy: u.entropy,
  policyLoss: u.policyLoss,
  valueLoss: u.valueLoss,
});

export interface DeltaTrainResult {
  readonly generator: EditGenerator;
  readonly logs: DeltaTrainLog[];
  readonly wallS: number;
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

const mean = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);

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
    const texts = opts.whiteningTexts ?? contexts.slice(0, 64).map(editText);
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
      if (o.action === 'tokens' || o.action === 'gate' || o.action === 'gate-logit') {
        const action = o.action;
        tokenPolicyGradient(
          env,
          gen,
          items,
          { ...o, kind: o.kind, action, batch, numMinibatches: minibatchesOf(o) },
          cfg.reward,
          cfg.seed + 1,
          {
            ...(opts.quiet === undefined ? {} : { quiet: opts.quiet }),
            ...(opts.locality === undefined
              ? {}
              : {
                  // Hard: the base's greedy answers as targets; soft: the answer batch itself (the KL reads the base).
                  neighbours: opts.locality.map((c) =>
                    cfg.reward.neighbourLoss === 'soft'
                      ? answerBatch(env, c)
                      : baseTargets(env, answerBatch(env, c)),
                  ),
                }),
            onUpdate: (u) => {
              const l: DeltaTrainLog = {
                step: warm + u.update,
                reward: u.parts.reward,
                nll: u.parts.nll,
                magnitude: u.parts.magnitude,
                locality: u.parts.neighbour,
                ppo: ppoDiagnostics(u),
              };
              logs.push(l);
              opts.onLog?.(l);
            },
          },
        );
        break;
      }
      const updates = Math.max(1, Math.floor(o.totalTimesteps / batch));
      const progress = new Progress({
        total: updates,
        label: `delta ${o.kind}`,
        ...(opts.quiet === undefined ? {} : { quiet: opts.quiet }),
      });
      let edits: EditEnv | undefined;
      const minibatches = minibatchesOf(o);
      const ppoCfg = PpoConfigSchema.parse({
        seed: cfg.seed + 1,
        totalTimesteps: updates * batch,
        learningRate: o.learningRate,
        annealLr: o.annealLr,
        numEnvs: o.numEnvs,
        numSteps: o.numSteps,
        gamma: 0,
        gaeLambda: 0,
        numMinibatches: minibatches,
        updateEpochs: o.updateEpochs,
        normAdv: batch / minibatches >= 2,
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
            ppo: ppoDiagnostics(u),
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
  writes: GateWrites = 'probability',
) {
  const { embedding, hidden } = readContext(env.model, env.tok, text, gen.layer);
  const z = tf.tidy(() => gen.meanLatent(tf.tensor2d(embedding, [1, embedding.length]) as Tensor2D));
  const gates = gateWrites(gen, hidden, writes);
  return {
    edit: gen.edit(z, hidden, undefined, gates),
    dispose: () => {
      z.dispose();
      hidden.dispose();
      gates?.dispose();
    },
  };
}

/**
 * How a gated generator's edit writes each passage token at inference: with the gate's probability σ(h·g + b) (the
 * mean action; what the direct gradient trains), or where that probability exceeds ½ (the mode of the Bernoulli
 * policy the policy gradient samples 0/1 writes from).
 */
export type GateWrites = 'probability' | 'mode';

/** The (T, 1) writes of `writes` (undefined: the generator's default, the probability, or no gate). */
function gateWrites(gen: EditGenerator, hidden: Tensor2D, writes: GateWrites): Tensor2D | undefined {
  switch (writes) {
    case 'probability':
      return undefined;
    case 'mode':
      return gen.gate === undefined
        ? undefined
        : tf.tidy(() => tf.cast(tf.greater(gen.gateLogits(hidden), 0), 'float32') as Tensor2D);
    default: {
      const never: never = writes;
      throw new Error(`unknown gate writes ${String(never)}`);
    }
  }
}
