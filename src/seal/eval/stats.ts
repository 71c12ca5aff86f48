/**
 * Summary statistics for results tables: mean and a 95% confidence interval (Student t, exact quantiles from
 * @stdlib), and paired differences between conditions over the same contexts. Pure.
 */
import tQuantile from '@stdlib/stats-base-dists-t-quantile';

/** Two-sided 95% critical value: the 0.975 quantile of Student's t with `df` degrees of freedom. */
export function tQuantile975(df: number): number {
  if (!(df >= 1)) return Number.NaN;
  return tQuantile(0.975, df);
}

export interface MeanCi {
  readonly mean: number;
  readonly ci95: readonly [number, number];
  readonly n: number;
}

export function meanCi(values: readonly number[]): MeanCi {
  const n = values.length;
  if (n === 0) return { mean: Number.NaN, ci95: [Number.NaN, Number.NaN], n: 0 };
  const mean = values.reduce((s, v) => s + v, 0) / n;
  if (n === 1) return { mean, ci95: [mean, mean], n };
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1);
  const half = tQuantile975(n - 1) * Math.sqrt(variance / n);
  return { mean, ci95: [mean - half, mean + half], n };
}

/**
 * The paired difference a − b over the contexts both were measured on (keys of the per-context records), with its
 * t-based 95% CI: the comparison a results table needs, since contexts vary far more than conditions do.
 */
export function pairedDifference(
  a: Readonly<Record<string, number>>,
  b: Readonly<Record<string, number>>,
): MeanCi {
  const keys = Object.keys(a).filter((k) => k in b);
  return meanCi(keys.map((k) => (a[k] as number) - (b[k] as number)));
}

/** `paired.<name>_vs_<other>` for every other condition, from per-context values. */
export function pairedAgainst(
  name: string,
  perContext: Readonly<Record<string, Readonly<Record<string, number>>>>,
): Record<string, MeanCi> {
  const mine = perContext[name];
  if (mine === undefined) return {};
  const out: Record<string, MeanCi> = {};
  for (const [other, values] of Object.entries(perContext))
    if (other !== name) out[`${name}_vs_${other}`] = pairedDifference(mine, values);
  return out;
}

/**
 * One-sided paired t test that `after` is lower than `before` (same contexts, same order): true when the mean drop
 * is significant at level `alpha`, i.e. t = mean(d) / (sd(d)/√n) < −t_{1−alpha, n−1} with d = after − before. Under
 * no change it fires with probability ≈ alpha (exactly, for normal differences). Needs n ≥ 2 and some spread.
 */
export function significantDrop(
  before: readonly number[],
  after: readonly number[],
  alpha = 0.05,
): { readonly drop: boolean; readonly t: number; readonly n: number } {
  const n = Math.min(before.length, after.length);
  if (n < 2) return { drop: false, t: Number.NaN, n };
  const d = after.slice(0, n).map((x, i) => x - (before[i] as number));
  const mean = d.reduce((s, v) => s + v, 0) / n;
  const sd = Math.sqrt(d.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
  if (sd === 0) return { drop: false, t: mean === 0 ? 0 : mean > 0 ? Infinity : -Infinity, n };
  const t = mean / (sd / Math.sqrt(n));
  return { drop: t < -tQuantile(1 - alpha, n - 1), t, n };
}
