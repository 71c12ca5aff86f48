/**
 * Key whitening for the fast-weight write, after ROME (Meng et al. 2022): an update ΔW = (C⁻¹k)ᵀv changes the output
 * for an input x by (x·C⁻¹k)·v, where C = E[x xᵀ] is the second moment of the module's inputs over ordinary text.
 * Among updates that map the key k to v, it is the one that disturbs typical inputs least on average. Applied to
 * every fast-weight key: keys → keys·(C + λ·tr(C)/n·I)⁻¹·tr(C)/n — the last factor makes isotropic inputs leave
 * the keys unchanged, so whitening changes directions rather than the size the generator learns with.
 *
 * Measured motivation (experiments/results/session10/delta/leak-d0.txt): without it, the edit of one person rewrites
 * known people's answers for the same relation — the keys of "… was born in" tokens fire on every birth question.
 */
import { type Tensor2D, tf } from '../../engine/tf.js';
import type { LinearDelta } from '../../model/linear.js';
import type { Transformer } from '../../model/model.js';
import type { Tokenizer } from '../../tokenizer/types.js';

/** A LinearDelta that changes nothing and accumulates Σ x xᵀ and the row count of each watched module's input. */
class InputMoments implements LinearDelta {
  readonly sums = new Map<string, { xx: Float64Array; n: number; dim: number }>();

  constructor(private readonly modules: ReadonlySet<string>) {}

  delta(module: string, x: Tensor2D): undefined {
    if (!this.modules.has(module)) return undefined;
    const [rows, dim] = x.shape;
    const xx = tf.tidy(() => tf.matMul(x, x, true, false).dataSync());
    const acc = this.sums.get(module) ?? { xx: new Float64Array(dim * dim), n: 0, dim };
    for (let i = 0; i < xx.length; i++) acc.xx[i]! += xx[i]!;
    acc.n += rows;
    this.sums.set(module, acc);
    return undefined;
  }
}

/** C_m = E[x xᵀ] of each module's input over every token of `texts` (uncentred, as ROME). */
export function inputSecondMoments(
  model: Transformer,
  tok: Tokenizer,
  texts: readonly string[],
  modules: readonly string[],
): Map<string, { c: Float64Array; dim: number }> {
  const rec = new InputMoments(new Set(modules));
  for (const text of texts) {
    const ids = tok.encode(text, { addBos: true }).slice(0, model.config.maxSeqLen);
    tf.tidy(() => {
      model.forward(tf.tensor2d(ids, [1, ids.length], 'int32') as Tensor2D, { deltas: [rec] });
    });
  }
  const out = new Map<string, { c: Float64Array; dim: number }>();
  for (const m of modules) {
    const s = rec.sums.get(m);
    if (s === undefined) throw new Error(`key whitening: module ${m} saw no input`);
    out.set(m, { c: s.xx.map((v) => v / s.n), dim: s.dim });
  }
  return out;
}

/** (C + λ·tr(C)/n·I)⁻¹ of a symmetric positive semi-definite n × n matrix, by Cholesky; row-major float32. */
export function ridgeInverseRaw(c: ArrayLike<number>, n: number, lambda: number): Float32Array {
  let trace = 0;
  for (let i = 0; i < n; i++) trace += c[i * n + i]!;
  const ridge = (lambda * trace) / n || lambda;
  // A = L Lᵀ
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = c[i * n + j]! + (i === j ? ridge : 0);
      for (let k = 0; k < j; k++) s -= l[i * n + k]! * l[j * n + k]!;
      if (i === j) {
        if (!(s > 0)) throw new Error('ridge inverse: the matrix is not positive definite');
        l[i * n + i] = Math.sqrt(s);
      } else l[i * n + j] = s / l[j * n + j]!;
    }
  }
  // A⁻¹ = L⁻ᵀ L⁻¹: invert L (lower triangular), then multiply.
  const li = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    li[i * n + i] = 1 / l[i * n + i]!;
    for (let j = 0; j < i; j++) {
      let s = 0;
      for (let k = j; k < i; k++) s -= l[i * n + k]! * li[k * n + j]!;
      li[i * n + j] = s / l[i * n + i]!;
    }
  }
  const inv = new Float32Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = i; k < n; k++) s += li[k * n + i]! * li[k * n + j]!;
      inv[i * n + j] = s;
      inv[j * n + i] = s;
    }
  return inv;
}

/**
 * The whitening map (C + λ·tr(C)/n·I)⁻¹ · tr(C)/n: for C = σ²·I (and λ → 0) the whitened keys equal the keys.
 */
export function ridgeInverse(c: ArrayLike<number>, n: number, lambda: number): Float32Array {
  let trace = 0;
  for (let i = 0; i < n; i++) trace += c[i * n + i]!;
  const inv = ridgeInverseRaw(c, n, lambda);
  const scale = trace / n;
  for (let i = 0; i < inv.length; i++) inv[i]! *= scale;
  return inv;
}
