/**
 * The EditGenerator (the seed's weight-delta self-edit): context embedding (C) → encoder MLP → latent z (the
 * policy's action; Gaussian with a learned log-std when trained by PPO) → decoder → low-rank factors for each
 * targeted linear module: ΔW_m = scaling · A_m · B_m(z), B_m(z) = reshape(z · D_m, [r, out]).
 *
 * Zero edit at initialisation, exactly: the encoder's output layer starts at zero, so the mean latent is 0 and so is
 * every B_m. A_m is a fixed random projection (like LoRA's A at init); D_m is learned by the direct-gradient
 * optimiser and stays a fixed random map under PPO/REINFORCE, whose action is z: the edit then lives in a random
 * `latent`-dimensional subspace of adapter space (intrinsic-dimension fine-tuning, Aghajanyan et al. 2021).
 * The delta is applied through the `LinearDelta` hook on the shared frozen base, never written into it.
 */
import { z } from 'zod';
import { type Tensor, type Tensor2D, tf, type Variable } from '../../engine/tf.js';
import { linearModules, matchesTarget } from '../../lora/config.js';
import type { LinearDelta } from '../../model/linear.js';
import type { Transformer } from '../../model/model.js';
import { GaussianActorCritic } from '../../outer/policy.js';
import { Rng } from '../../util/rng.js';

export const EditGeneratorConfigSchema = z.object({
  layer: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe(
      'Block whose output hidden states are pooled into the context embedding (default: the middle one)',
    ),
  hidden: z.number().int().min(1).default(128).describe('Encoder (and value network) hidden size'),
  latent: z.number().int().min(1).default(128).describe('Latent size: the dimension of the PPO action'),
  rank: z.number().int().min(1).default(4).describe('Rank of each generated update'),
  alpha: z.number().positive().default(8).describe('Updates are scaled by alpha / rank'),
  targetModules: z
    .array(z.string())
    .min(1)
    .default(['o_proj', 'down_proj'])
    .describe('Linear modules edited (PEFT-style suffixes)'),
  layers: z
    .array(z.number().int().min(0))
    .optional()
    .describe('Blocks whose modules are edited (default: all)'),
  initLogStd: z.number().default(-1).describe('Initial log-std of the latent policy'),
  decoderScale: z
    .number()
    .positive()
    .default(0.05)
    .describe(
      'Scale of the decoder init (std of B per unit latent); small, so exploration noise makes modest edits (at 1, σ≈0.37 gave ‖ΔW‖²≈700 on the default model)',
    ),
  seed: z.number().int().min(0).default(0).describe('Seed of the initialisation'),
});
export type EditGeneratorConfig = z.infer<typeof EditGeneratorConfigSchema>;

interface DecoderModule {
  a: Tensor2D; // (in, r), fixed (replaced only when loading a saved generator)
  readonly d: Variable; // (latent, r·out)
  readonly outFeatures: number;
}

/** The edit for one latent z: a LinearDelta on the frozen base. Owns nothing; valid while its generator lives. */
export class GeneratedDelta implements LinearDelta {
  private readonly b = new Map<string, Tensor2D>();

  constructor(
    private readonly gen: EditGenerator,
    /** (1, latent) */
    readonly z: Tensor2D,
  ) {}

  /** B_m(z) (r, out), computed on first use (inside the caller's tidy/gradient scope). */
  factorB(module: string): Tensor2D | undefined {
    const m = this.gen.decoder.get(module);
    if (m === undefined) return undefined;
    let b = this.b.get(module);
    if (b === undefined || b.isDisposed) {
      b = tf.reshape(tf.matMul(this.z, m.d), [this.gen.config.rank, m.outFeatures]) as Tensor2D;
      this.b.set(module, b);
    }
    return b;
  }

  delta(module: string, x: Tensor2D): Tensor2D | undefined {
    const m = this.gen.decoder.get(module);
    const b = this.factorB(module);
    if (m === undefined || b === undefined) return undefined;
    return tf.mul(tf.matMul(tf.matMul(x, m.a), b), this.gen.scaling);
  }

  /** Σ_m ‖scaling · A_m · B_m(z)‖²_F as a scalar tensor (differentiable: the edit-magnitude penalty). */
  normSq(): Tensor {
    let s: Tensor = tf.scalar(0);
    for (const [name, m] of this.gen.decoder) {
      const w = tf.mul(tf.matMul(m.a, this.factorB(name)!), this.gen.scaling);
      s = tf.add(s, tf.sum(tf.square(w)));
    }
    return s;
  }
}

export class EditGenerator {
  readonly config: EditGeneratorConfig;
  readonly layer: number;
  /** Encoder = actor (embedding → latent mean), critic = value baseline, learned log-std. */
  readonly agent: GaussianActorCritic;
  readonly decoder: ReadonlyMap<string, DecoderModule>;

  constructor(model: Transformer, config: EditGeneratorConfig) {
    this.config = config;
    const c = model.config;
    this.layer = config.layer ?? Math.max(0, Math.floor(c.nLayers / 2) - 1);
    if (this.layer >= c.nLayers)
      throw new Error(`EditGenerator layer ${this.layer} ≥ the model's ${c.nLayers} blocks`);
    const rng = new Rng(config.seed);
    this.agent = new GaussianActorCritic(
      c.dim,
      config.latent,
      rng.fork(1),
      [config.hidden],
      config.initLogStd,
      0,
    );
    const decRng = rng.fork(2);
    const wanted = (name: string) => {
      if (!matchesTarget(name, config.targetModules)) return false;
      if (config.layers === undefined) return true;
      const l = /\.(?:layers|h)\.(\d+)\./.exec(name);
      return l !== null && config.layers.includes(Number(l[1]));
    };
    const decoder = new Map<string, DecoderModule>();
    for (const m of linearModules(c).filter((x) => wanted(x.name))) {
      const bound = 1 / Math.sqrt(m.inFeatures);
      const a = new Float32Array(m.inFeatures * config.rank).map(() => (decRng.next() * 2 - 1) * bound);
      const std = config.decoderScale / Math.sqrt(config.latent);
      const d = new Float32Array(config.latent * config.rank * m.outFeatures).map(
        () => decRng.normal() * std,
      );
      decoder.set(m.name, {
        a: tf.keep(tf.tensor2d(a, [m.inFeatures, config.rank])),
        d: tf.tidy(() => tf.variable(tf.tensor2d(d, [config.latent, config.rank * m.outFeatures]), true)),
        outFeatures: m.outFeatures,
      });
    }
    if (decoder.size === 0)
      throw new Error(`EditGenerator targets ${JSON.stringify(config.targetModules)} match no linear layer`);
    this.decoder = decoder;
  }

  get scaling(): number {
    return this.config.alpha / this.config.rank;
  }

  get latentDim(): number {
    return this.config.latent;
  }

  /** Encoder variables (the policy mean), in a stable order. */
  encoderVariables(): Variable[] {
    return this.agent.actor.variables;
  }

  decoderVariables(): Variable[] {
    return [...this.decoder.values()].map((m) => m.d);
  }

  /** Mean latent for embeddings (N, C) → (N, latent) (differentiable w.r.t. the encoder). */
  meanLatent(emb: Tensor2D): Tensor2D {
    return this.agent.actor.apply(emb);
  }

  /** The edit for a latent (1, latent). */
  edit(z: Tensor2D): GeneratedDelta {
    return new GeneratedDelta(this, z);
  }

  /** Replaces a fixed (non-variable) tensor by name — the decoder's A when loading a saved generator. */
  setFixed(name: string, value: Tensor): void {
    const module = name.endsWith('.edit_A') ? name.slice(0, -'.edit_A'.length) : undefined;
    const m = module === undefined ? undefined : (this.decoder as Map<string, DecoderModule>).get(module);
    if (m === undefined) throw new Error(`EditGenerator has no fixed tensor ${name}`);
    m.a.dispose();
    m.a = tf.keep(tf.clone(value)) as Tensor2D;
  }

  /** Parameters by name (for saving and checksums). */
  namedTensors(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    this.agent.actor.variables.forEach((v, i) => out.set(`encoder.${i}`, v));
    this.agent.critic.variables.forEach((v, i) => out.set(`value.${i}`, v));
    out.set('log_std', this.agent.logStd);
    for (const [name, m] of this.decoder) {
      out.set(`${name}.edit_A`, m.a);
      out.set(`${name}.edit_D`, m.d);
    }
    return out;
  }

  dispose(): void {
    this.agent.dispose();
    for (const m of this.decoder.values()) {
      m.a.dispose();
      m.d.dispose();
    }
  }
}
