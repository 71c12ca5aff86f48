/**
 * A LoRA adapter: for each targeted linear module, y = W·x + scaling · B(A(dropout(x))). B starts at zero so a new
 * adapter leaves the model unchanged. The adapter owns only A and B; the base weights are shared and never
 * written (except by the explicit `merge`/`unmerge`). Several adapters can serve one base at once, each enabled
 * per call by passing it (or not) in `deltas`.
 *
 * Layout: we hold A as (in, r) and B as (r, out) so x·A·B is two plain matmuls; PEFT stores lora_A.weight as
 * (r, in) and lora_B.weight as (out, r) — see io.ts for the transposes.
 */
import { type Tensor2D, tf, type Variable } from '../engine/tf.js';
import type { LinearDelta } from '../model/linear.js';
import type { Transformer } from '../model/model.js';
import { Rng } from '../util/rng.js';
import { type LoraConfig, loraScaling, loraTargets } from './config.js';

export interface LoraPair {
  readonly a: Variable; // (in, r)
  readonly b: Variable; // (r, out)
}

export class LoraAdapter implements LinearDelta {
  /** Dropout is applied only while training. */
  training = false;
  enabled = true;
  private dropoutSeed: number;

  constructor(
    readonly config: LoraConfig,
    readonly modules: ReadonlyMap<string, LoraPair>,
    seed = 0,
  ) {
    this.dropoutSeed = seed;
  }

  get scaling(): number {
    return loraScaling(this.config);
  }

  /** The dropout stream's position (see LinearDelta.randomState). */
  readonly randomState = {
    get: (): number => this.dropoutSeed,
    set: (state: number): void => {
      this.dropoutSeed = state;
    },
  };

  /** A fresh adapter: A ~ U(±1/√in) (PEFT's kaiming_uniform(a=√5)), B = 0. */
  static create(model: Transformer, config: LoraConfig, seed: number): LoraAdapter {
    const rng = new Rng(seed);
    const modules = new Map<string, LoraPair>();
    const targets = loraTargets(model.config, config);
    for (const m of targets) {
      const bound = 1 / Math.sqrt(m.inFeatures);
      const a = new Float32Array(m.inFeatures * config.r);
      for (let i = 0; i < a.length; i++) a[i] = (rng.next() * 2 - 1) * bound;
      modules.set(m.name, {
        a: tf.tidy(() => tf.variable(tf.tensor2d(a, [m.inFeatures, config.r]), true)),
        b: tf.tidy(() => tf.variable(tf.zeros([config.r, m.outFeatures]), true)),
      });
    }
    return new LoraAdapter(config, modules, seed);
  }

  delta(module: string, x: Tensor2D): Tensor2D | undefined {
    if (!this.enabled) return undefined;
    const m = this.modules.get(module);
    if (m === undefined) return undefined;
    const p = this.config.dropout;
    const xin = this.training && p > 0 ? (tf.dropout(x, p, undefined, this.dropoutSeed++) as Tensor2D) : x;
    return tf.mul(tf.matMul(tf.matMul(xin, m.a), m.b), this.scaling);
  }

  /** Trainable variables, named `<module>.lora_A` / `.lora_B`. */
  variables(): Map<string, Variable> {
    const out = new Map<string, Variable>();
    for (const [name, m] of this.modules) {
      out.set(`${name}.lora_A`, m.a);
      out.set(`${name}.lora_B`, m.b);
    }
    return out;
  }

  /** Squared Frobenius norm of the weight update Σ‖scaling·A·B‖² (the "edit magnitude"). */
  deltaNormSq(): number {
    return tf.tidy(() => {
      let s = 0;
      for (const m of this.modules.values())
        s += tf.sum(tf.square(tf.mul(tf.matMul(m.a, m.b), this.scaling))).dataSync()[0] as number;
      return s;
    });
  }

  /** W ← W + scaling·A·B for every module (writes the base weights: use on a model you own). */
  merge(model: Transformer): void {
    this.applyToBase(model, 1);
  }

  /** W ← W − scaling·A·B, undoing `merge`. */
  unmerge(model: Transformer): void {
    this.applyToBase(model, -1);
  }

  private applyToBase(model: Transformer, sign: 1 | -1): void {
    for (const [name, m] of this.modules) {
      const w = model.params.get(`${name}.weight`);
      if (w === undefined) throw new Error(`model has no ${name}.weight`);
      const next = tf.tidy(() => tf.add(w, tf.mul(tf.matMul(m.a, m.b), sign * this.scaling)));
      w.assign(next);
      next.dispose();
    }
  }

  dispose(): void {
    for (const m of this.modules.values()) {
      m.a.dispose();
      m.b.dispose();
    }
  }
}
