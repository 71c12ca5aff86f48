/**
 * The EditGenerator (the seed's weight-delta self-edit). For each targeted linear module m the edit is the sum of
 *   latent part      context embedding (C) → encoder MLP → latent z (the policy's action; Gaussian with a learned
 *                    log-std when trained by PPO) → decoder → ΔW_m = scaling · A_m · B_m(z),
 *                    B_m(z) = reshape(z · D_m, [r, out]);
 *   fast-weight part the passage's per-token hidden states h_t (T, C) write key→value pairs (Schmidhuber's fast
 *                    weights; linear attention): ΔW_m = (fastScale / T) · Σ_t (h_t K_m)ᵀ (h_t V_m), K_m (C, in),
 *                    V_m (C, out). A token's state (what has been read so far) becomes a key and is mapped to a
 *                    value, so "…was born in" → "Paris" survives as an association; the pooled embedding alone
 *                    loses which value belongs to which relation. Trained by the direct gradient (its parameters
 *                    are not in the policy's action); measured: held-out edit success 1% pooled-only → ~30%.
 *                    With `fastCode` d > 0 the values gain one d-dimensional code per token,
 *                    v_t = h_t V_m + c_t U_m with c_t = h_t M: the token-level PPO learner samples c_t around h_t M
 *                    (a Gaussian over per-token codes), so the policy gradient reaches the part that carries the
 *                    facts. With `whitenKeys` every key passes through a fixed (C_m + λ)⁻¹ (see whitening.ts); with
 *                    `fastGate` token t's keys are scaled by a learned gate σ(h_t·g + b) (0.5 at init); the gate
 *                    policy gradient samples each token's write a_t ∈ {0, 1} with that probability instead.
 *
 * Zero edit at initialisation, exactly: the encoder's output layer starts at zero, so the mean latent is 0 and so is
 * every B_m, and every V_m starts at zero. A_m is a fixed random projection (like LoRA's A at init); D_m is learned
 * by the direct-gradient optimiser and stays a fixed random map under PPO/REINFORCE, whose action is z: the latent
 * edit then lives in a random `latent`-dimensional subspace of adapter space (intrinsic-dimension fine-tuning,
 * Aghajanyan et al. 2021). The delta is applied through the `LinearDelta` hook on the shared frozen base, never
 * written into it.
 */
import { z } from 'zod';
import { type Tensor, type Tensor2D, tf, type Variable } from '../../engine/tf.js';
import { linearModules, matchesTarget } from '../../lora/config.js';
import type { LinearDelta } from '../../model/linear.js';
import type { Transformer } from '../../model/model.js';
import { GaussianActorCritic } from '../../rl/policy.js';
import { Rng } from '../../util/rng.js';

export const EditGeneratorConfigSchema = z.strictObject({
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
  fastWeights: z
    .boolean()
    .default(true)
    .describe("Add the token-level fast-weight write (keys and values from each token's hidden state)"),
  fastScale: z.number().positive().default(1).describe('Fast-weight updates are scaled by fastScale / T'),
  fastCode: z
    .number()
    .int()
    .min(0)
    .default(0)
    .describe(
      "Per-token code size d of the fast-weight values (0: none): with d > 0 every module's values gain one code per token, v_t = h_t·V_m + c_t·U_m, c_t = h_t·M (C, d): the action of the token-level policy gradient",
    ),
  fastGate: z
    .boolean()
    .default(false)
    .describe(
      "A learned write gate per passage token: every module's key for token t is scaled by σ(h_t·g + b), so the edit can write where the facts are and not at every token",
    ),
  whitenKeys: z
    .boolean()
    .default(false)
    .describe(
      "Whiten fast-weight keys by the inverse second moment of each module's inputs over ordinary text (ROME's C⁻¹k), so an edit disturbs typical inputs least",
    ),
  whitenRidge: z.number().min(0).default(0.01).describe('Ridge λ of key whitening, relative to tr(C)/n'),
  initCodeLogStd: z
    .number()
    .default(-1)
    .describe('Initial log-std of the per-token code policy (fastCode > 0)'),
  seed: z.number().int().min(0).default(0).describe('Seed of the initialisation'),
});
export type EditGeneratorConfig = z.infer<typeof EditGeneratorConfigSchema>;

interface DecoderModule {
  a: Tensor2D; // (in, r), fixed (replaced only when loading a saved generator)
  /** (in, in) key whitening (`whitenKeys`), fixed: identity until `setKeyWhitening`. */
  cinv?: Tensor2D;
  readonly d: Variable; // (latent, r·out)
  /** Fast-weight key and value maps, when `fastWeights`. */
  readonly fast?: { readonly k: Variable; readonly v: Variable; readonly u?: Variable }; // (C, in), (C, out), (d, out)
  readonly inFeatures: number;
  readonly outFeatures: number;
}

/** The edit for one latent z (and passage). Owns nothing; valid while its generator and `hidden` live. */
export class GeneratedDelta implements LinearDelta {
  private readonly b = new Map<string, Tensor2D>();
  private readonly fw = new Map<string, Tensor2D>();

  constructor(
    private readonly gen: EditGenerator,
    /** (1, latent) */
    readonly z: Tensor2D,
    /** (T, C) the passage's per-token hidden states (see `readContext`); without them no fast-weight part. */
    readonly hidden?: Tensor2D,
    /** (T, d) per-token codes (fastCode > 0): sampled by the token-level policy; default the mean h·M. */
    readonly codes?: Tensor2D,
    /**
     * (T, 1) per-token write gates (fastGate): a policy's sampled writes (0/1, or σ of a sampled logit) or the mode's
     * 0/1 writes; default the probability σ(h·g + b).
     */
    readonly gates?: Tensor2D,
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

  /** Fast-weight factors of module m: keys (T, in) pre-scaled by fastScale / T, and values (T, out). */
  fastFactors(module: string): { keys: Tensor2D; values: Tensor2D } | undefined {
    const f = this.gen.decoder.get(module)?.fast;
    if (f === undefined || this.hidden === undefined) return undefined;
    const h = this.hidden;
    const code = this.gen.code;
    // Values read the hidden states, plus, with a code, one code per token through U_m.
    const direct = tf.matMul(h, f.v) as Tensor2D;
    const values =
      code === undefined || f.u === undefined
        ? direct
        : (tf.add(direct, tf.matMul(this.codes ?? this.gen.codeMean(h), f.u)) as Tensor2D);
    const raw = tf.matMul(h, f.k) as Tensor2D;
    const cinv = this.gen.decoder.get(module)?.cinv;
    const white = cinv === undefined ? raw : (tf.matMul(raw, cinv) as Tensor2D);
    // (T, in) · (T, 1): each token's keys scaled by its write gate (its probability, or a sampled 0/1 write).
    const keys =
      this.gen.gate === undefined
        ? white
        : (tf.mul(white, this.gates ?? tf.sigmoid(this.gen.gateLogits(h))) as Tensor2D);
    return { keys: tf.mul(keys, this.gen.config.fastScale / h.shape[0]) as Tensor2D, values };
  }

  /** The fast-weight ΔW_m (in, out), computed on first use. */
  private fastDelta(module: string): Tensor2D | undefined {
    let w = this.fw.get(module);
    if (w === undefined || w.isDisposed) {
      const f = this.fastFactors(module);
      if (f === undefined) return undefined;
      w = tf.matMul(f.keys, f.values, true, false) as Tensor2D;
      this.fw.set(module, w);
    }
    return w;
  }

  /** The whole ΔW_m (in, out). */
  weight(module: string): Tensor2D | undefined {
    const m = this.gen.decoder.get(module);
    const b = this.factorB(module);
    if (m === undefined || b === undefined) return undefined;
    const w = tf.mul(tf.matMul(m.a, b), this.gen.scaling) as Tensor2D;
    const f = this.fastDelta(module);
    return f === undefined ? w : (tf.add(w, f) as Tensor2D);
  }

  delta(module: string, x: Tensor2D): Tensor2D | undefined {
    const m = this.gen.decoder.get(module);
    const b = this.factorB(module);
    if (m === undefined || b === undefined) return undefined;
    const y = tf.mul(tf.matMul(tf.matMul(x, m.a), b), this.gen.scaling) as Tensor2D;
    const f = this.fastDelta(module);
    return f === undefined ? y : (tf.add(y, tf.matMul(x, f)) as Tensor2D);
  }

  /** Σ_m ‖ΔW_m‖²_F as a scalar tensor (differentiable: the edit-magnitude penalty). */
  normSq(): Tensor {
    let s: Tensor = tf.scalar(0);
    for (const name of this.gen.decoder.keys()) s = tf.add(s, tf.sum(tf.square(this.weight(name)!)));
    return s;
  }
}

export class EditGenerator {
  readonly config: EditGeneratorConfig;
  readonly layer: number;
  /** Encoder = actor (embedding → latent mean), critic = value baseline, learned log-std. */
  readonly agent: GaussianActorCritic;
  readonly decoder: ReadonlyMap<string, DecoderModule>;
  /** The per-token code map M (C, d) and the code policy's log-std (d), when fastCode > 0. */
  readonly code?: { readonly m: Variable; readonly logStd: Variable };
  /** The write gate's g (C, 1) and b (1), when fastGate: zero at init (every gate 0.5). */
  readonly gate?: { readonly g: Variable; readonly b: Variable };

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
    const fastRng = rng.fork(3);
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
      // Keys start random (so the first gradient on V is informative), values at zero (so the edit is zero). With
      // a code, U_m starts random and M at zero: the code's part is zero too. (A code alone in place of V_m, d = 16,
      // was tried: the direct gradient's training loss, mean of the last 100 of 1000 steps, was 1.03 nats against
      // 0.14 with V_m.)
      const codeDim = config.fastCode;
      const k = config.fastWeights
        ? new Float32Array(c.dim * m.inFeatures).map(() => fastRng.normal() / Math.sqrt(c.dim))
        : undefined;
      decoder.set(m.name, {
        a: tf.keep(tf.tensor2d(a, [m.inFeatures, config.rank])),
        ...(config.whitenKeys && config.fastWeights
          ? { cinv: tf.keep(tf.eye(m.inFeatures) as Tensor2D) }
          : {}),
        d: tf.tidy(() => tf.variable(tf.tensor2d(d, [config.latent, config.rank * m.outFeatures]), true)),
        ...(k === undefined
          ? {}
          : {
              fast: tf.tidy(() => ({
                k: tf.variable(tf.tensor2d(k, [c.dim, m.inFeatures]), true),
                v: tf.variable(tf.zeros([c.dim, m.outFeatures]), true),
                ...(codeDim === 0
                  ? {}
                  : {
                      u: tf.variable(
                        tf.tensor2d(
                          new Float32Array(codeDim * m.outFeatures).map(
                            () => fastRng.normal() / Math.sqrt(codeDim),
                          ),
                          [codeDim, m.outFeatures],
                        ),
                        true,
                      ),
                    }),
              })),
            }),
        inFeatures: m.inFeatures,
        outFeatures: m.outFeatures,
      });
    }
    if (decoder.size === 0)
      throw new Error(`EditGenerator targets ${JSON.stringify(config.targetModules)} match no linear layer`);
    this.decoder = decoder;
    if (config.fastGate) {
      if (!config.fastWeights) throw new Error('EditGenerator fastGate needs fastWeights');
      this.gate = tf.tidy(() => ({
        g: tf.variable(tf.zeros([c.dim, 1]), true),
        b: tf.variable(tf.zeros([1]), true),
      }));
    }
    if (config.fastCode > 0) {
      if (!config.fastWeights) throw new Error('EditGenerator fastCode needs fastWeights');
      this.code = tf.tidy(() => ({
        m: tf.variable(tf.zeros([c.dim, config.fastCode]), true),
        logStd: tf.variable(tf.fill([config.fastCode], config.initCodeLogStd), true),
      }));
    }
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

  /** Fast-weight key and value maps, the code map M and the write gate (empty without `fastWeights`). */
  fastVariables(): Variable[] {
    return [
      ...[...this.decoder.values()].flatMap((m) =>
        m.fast === undefined ? [] : [m.fast.k, m.fast.v, ...(m.fast.u === undefined ? [] : [m.fast.u])],
      ),
      ...(this.code === undefined ? [] : [this.code.m]),
      ...(this.gate === undefined ? [] : [this.gate.g, this.gate.b]),
    ];
  }

  /** Every write gate back to its initialisation, 0.5 (g = 0, b = 0): a warm start whose gate is learnt again. */
  resetGate(): void {
    const gate = this.gate;
    if (gate === undefined) throw new Error('EditGenerator has no write gate (fastGate = false)');
    gate.g.assign(tf.zerosLike(gate.g));
    gate.b.assign(tf.zerosLike(gate.b));
  }

  /** The write gate's logits (T, 1) = h_t·g + b: token t writes its keys with probability σ(logit). */
  gateLogits(hidden: Tensor2D): Tensor2D {
    const gate = this.gate;
    if (gate === undefined) throw new Error('EditGenerator has no write gate (fastGate = false)');
    return tf.add(tf.matMul(hidden, gate.g), gate.b) as Tensor2D;
  }

  /** The mean per-token code (T, d) = h_t·M (the hidden states `readContext` gives are RMS-normalised already). */
  codeMean(hidden: Tensor2D): Tensor2D {
    const code = this.code;
    if (code === undefined) throw new Error('EditGenerator has no per-token code (fastCode = 0)');
    return tf.matMul(hidden, code.m) as Tensor2D;
  }

  /** Mean latent for embeddings (N, C) → (N, latent) (differentiable w.r.t. the encoder). */
  meanLatent(emb: Tensor2D): Tensor2D {
    return this.agent.actor.apply(emb);
  }

  /**
   * The edit for a latent (1, latent) and, for the fast-weight part, the passage's hidden states (T, C) and, with a
   * code, the per-token codes (T, d) (default: their mean h·M); with a gate, the per-token writes (T, 1) (default:
   * their probabilities σ(h·g + b)).
   */
  edit(z: Tensor2D, hidden?: Tensor2D, codes?: Tensor2D, gates?: Tensor2D): GeneratedDelta {
    return new GeneratedDelta(this, z, hidden, codes, gates);
  }

  /** Replaces a fixed (non-variable) tensor by name — the decoder's A when loading a saved generator. */
  setFixed(name: string, value: Tensor): void {
    const suffix = ['.edit_A', '.fast_Cinv'].find((x) => name.endsWith(x));
    const m =
      suffix === undefined
        ? undefined
        : (this.decoder as Map<string, DecoderModule>).get(name.slice(0, -suffix.length));
    if (m === undefined || (suffix === '.fast_Cinv' && m.cinv === undefined))
      throw new Error(`EditGenerator has no fixed tensor ${name}`);
    const copy = tf.keep(tf.clone(value)) as Tensor2D;
    if (suffix === '.edit_A') {
      m.a.dispose();
      m.a = copy;
    } else {
      m.cinv?.dispose();
      m.cinv = copy;
    }
  }

  /** Fixed tensors (not trained): the decoder's A and the key whitening. */
  static isFixed(name: string): boolean {
    return name.endsWith('.edit_A') || name.endsWith('.fast_Cinv');
  }

  /** Sets each module's key whitening (row-major (in, in), e.g. `ridgeInverse` of its input moments). */
  setKeyWhitening(inverses: ReadonlyMap<string, Float32Array>): void {
    for (const [name, m] of this.decoder) {
      const inv = inverses.get(name);
      if (m.cinv === undefined || inv === undefined)
        throw new Error(`EditGenerator: no key whitening for ${name} (whitenKeys off, or missing)`);
      m.cinv.dispose();
      m.cinv = tf.keep(tf.tensor2d(inv, [m.inFeatures, m.inFeatures]));
    }
  }

  /** Parameters by name (for saving and checksums). */
  namedTensors(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    this.agent.actor.variables.forEach((v, i) => {
      out.set(`encoder.${i}`, v);
    });
    this.agent.critic.variables.forEach((v, i) => {
      out.set(`value.${i}`, v);
    });
    out.set('log_std', this.agent.logStd);
    if (this.code !== undefined) {
      out.set('fast_code.M', this.code.m);
      out.set('fast_code.log_std', this.code.logStd);
    }
    if (this.gate !== undefined) {
      out.set('fast_gate.g', this.gate.g);
      out.set('fast_gate.b', this.gate.b);
    }
    for (const [name, m] of this.decoder) {
      out.set(`${name}.edit_A`, m.a);
      out.set(`${name}.edit_D`, m.d);
      if (m.cinv !== undefined) out.set(`${name}.fast_Cinv`, m.cinv);
      if (m.fast !== undefined) {
        out.set(`${name}.fast_K`, m.fast.k);
        out.set(`${name}.fast_V`, m.fast.v);
        if (m.fast.u !== undefined) out.set(`${name}.fast_U`, m.fast.u);
      }
    }
    return out;
  }

  dispose(): void {
    this.agent.dispose();
    this.code?.m.dispose();
    this.code?.logStd.dispose();
    this.gate?.g.dispose();
    this.gate?.b.dispose();
    for (const m of this.decoder.values()) {
      m.a.dispose();
      m.cinv?.dispose();
      m.d.dispose();
      m.fast?.k.dispose();
      m.fast?.v.dispose();
      m.fast?.u?.dispose();
    }
  }
}
