/**
 * Composing several generated edits into one weight delta (issue #18's stacked edits).
 *
 * Summing n edits keeps every key→value association, but whatever their keys share — hidden states are far from
 * isotropic, so every passage's keys carry a common direction — is written n times, and every input that points
 * that way (every question about anyone) is pushed n times as hard: measured, the sum of 8 single edits that each
 * keep 98% of known people's answers keeps 2%.
 *
 * The least-squares composition asks instead for the one ΔW that does what each edit does on that edit's own keys,
 * and as little as possible on ordinary inputs (MEMIT's batch update, Meng et al. 2023, with the edits' own actions
 * as targets):
 *
 *   ΔW = argmin Σ_i ‖K_i ΔW − K_i ΔW_i‖² + μ·s·‖C^½ ΔW‖²  =  (Σ_i K_iᵀK_i + μ·s·C)⁻¹ · Σ_i K_iᵀK_i ΔW_i
 *
 * with K_i (T_i, in) edit i's fast-weight keys (gated and scaled, as it writes them), ΔW_i (in, out) its whole delta,
 * C = E[x xᵀ] of the module's inputs over ordinary text, and s = tr(Σ K_iᵀK_i) / tr(C) so that μ is a relative
 * weight. Where the edits' keys are orthogonal this is the sum; along a direction several edits share it is their
 * keys-weighted average instead of their sum; μ > 0 also shrinks the delta along directions ordinary text uses.
 * For one edit whose rows lie in its keys' span (the fast-weight part does) and μ → 0 it is that edit unchanged.
 * A small ridge (ε·tr/n) keeps the solve defined when the keys span fewer than `in` directions.
 */
import { type Tensor2D, tf } from '../../engine/tf.js';
import type { LinearDelta } from '../../model/linear.js';
import { ridgeInverseRaw } from './whitening.js';

/** A fixed ΔW per module (in, out): y = x · ΔW. Owns its tensors. */
export class DenseDelta implements LinearDelta {
  constructor(private readonly weights: ReadonlyMap<string, Tensor2D>) {}

  delta(module: string, x: Tensor2D): Tensor2D | undefined {
    const w = this.weights.get(module);
    return w === undefined ? undefined : (tf.matMul(x, w) as Tensor2D);
  }

  weight(module: string): Tensor2D | undefined {
    return this.weights.get(module);
  }

  dispose(): void {
    for (const w of this.weights.values()) w.dispose();
  }
}

/** What composing reads of an edit (a `GeneratedDelta` has both). */
export interface ComposableEdit {
  /** Fast-weight keys (T, in) as the edit writes them, and values (T, out). */
  fastFactors(module: string): { keys: Tensor2D; values: Tensor2D } | undefined;
  /** The whole ΔW (in, out) of the module, or undefined when the edit does not touch it. */
  weight(module: string): Tensor2D | undefined;
}

export interface ComposeOptions {
  /** Relative weight μ of the ordinary-input term (0: reproduce each edit on its keys and nothing else). */
  readonly mu: number;
  /** C = E[x xᵀ] of each module's inputs (row-major, `dim` × `dim`), e.g. from `inputSecondMoments`. */
  readonly moments?: ReadonlyMap<string, { readonly c: ArrayLike<number>; readonly dim: number }>;
  /** Ridge ε (relative to the trace), default 1e-4. */
  readonly ridge?: number;
}

/** The least-squares composition of `edits` on each of `modules` (see the module comment). */
export function composeLeastSquares(
  edits: readonly ComposableEdit[],
  modules: readonly string[],
  opts: ComposeOptions,
): DenseDelta {
  const weights = new Map<string, Tensor2D>();
  for (const module of modules) {
    // S = Σ K_iᵀK_i (in, in); B = Σ K_iᵀK_i ΔW_i (in, out); everything else made here is freed by the tidy.
    const sb = tf.tidy(() => {
      let sAcc: Tensor2D | undefined;
      let bAcc: Tensor2D | undefined;
      for (const e of edits) {
        const f = e.fastFactors(module);
        const w = e.weight(module);
        if (w === undefined) return undefined;
        if (f === undefined)
          throw new Error(`composeLeastSquares: an edit without fast-weight keys on ${module}`);
        const kk = tf.matMul(f.keys, f.keys, true, false) as Tensor2D;
        const term = tf.matMul(kk, w) as Tensor2D;
        sAcc = sAcc === undefined ? kk : (tf.add(sAcc, kk) as Tensor2D);
        bAcc = bAcc === undefined ? term : (tf.add(bAcc, term) as Tensor2D);
      }
      return sAcc === undefined || bAcc === undefined ? undefined : { s: sAcc, b: bAcc };
    });
    if (sb === undefined) continue;
    const { s, b } = sb;
    const dim = s.shape[0];
    const m = Float64Array.from(s.dataSync());
    s.dispose();
    const c = opts.moments?.get(module);
    if (opts.mu > 0) {
      if (c === undefined || c.dim !== dim)
        throw new Error(`composeLeastSquares: μ > 0 needs the input moments of ${module} (${dim} × ${dim})`);
      let trS = 0;
      let trC = 0;
      for (let i = 0; i < dim; i++) {
        trS += m[i * dim + i]!;
        trC += c.c[i * dim + i]!;
      }
      const scale = trC > 0 ? (opts.mu * trS) / trC : 0;
      for (let i = 0; i < m.length; i++) m[i]! += scale * c.c[i]!;
    }
    const inv = ridgeInverseRaw(m, dim, opts.ridge ?? 1e-4);
    weights.set(
      module,
      tf.tidy(() => tf.matMul(tf.tensor2d(inv, [dim, dim]), b) as Tensor2D),
    );
    b.dispose();
  }
  return new DenseDelta(weights);
}
