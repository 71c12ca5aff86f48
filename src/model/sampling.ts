/** Choosing the next token from one row of logits: greedy, temperature, top-k and top-p (nucleus). Pure. */
import type { Rng } from '../util/rng.js';

export interface SamplingOptions {
  /** 0 = greedy (argmax, first index on ties, like llama2.c). */
  readonly temperature: number;
  /** Keep only the k most likely tokens (0 or undefined = off). */
  readonly topK?: number | undefined;
  /** Keep the smallest set of tokens whose probability reaches p (1 or undefined = off). */
  readonly topP?: number | undefined;
}

export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  let bestV = -Infinity;
  for (let i = 0; i < x.length; i++) {
    const v = x[i] as number;
    if (v > bestV) {
      bestV = v;
      best = i;
    }
  }
  return best;
}

/** Probabilities after temperature, top-k and top-p filtering (zeros for dropped tokens). */
export function filteredProbs(logits: ArrayLike<number>, opts: SamplingOptions): Float64Array {
  const n = logits.length;
  const probs = new Float64Array(n);
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, logits[i] as number);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const p = Math.exp(((logits[i] as number) - max) / opts.temperature);
    probs[i] = p;
    sum += p;
  }
  for (let i = 0; i < n; i++) probs[i] = (probs[i] as number) / sum;
  const topK = opts.topK ?? 0;
  const topP = opts.topP ?? 1;
  if ((topK > 0 && topK < n) || topP < 1) {
    const order = Array.from({ length: n }, (_, i) => i).sort(
      (a, b) => (probs[b] as number) - (probs[a] as number) || a - b,
    );
    let keep = topK > 0 ? Math.min(topK, n) : n;
    if (topP < 1) {
      let cum = 0;
      for (let r = 0; r < keep; r++) {
        cum += probs[order[r] as number] as number;
        if (cum >= topP) {
          keep = r + 1;
          break;
        }
      }
    }
    let kept = 0;
    for (let r = 0; r < n; r++) {
      const i = order[r] as number;
      if (r < keep) kept += probs[i] as number;
      else probs[i] = 0;
    }
    for (let i = 0; i < n; i++) probs[i] = (probs[i] as number) / kept;
  }
  return probs;
}

export function sampleToken(logits: ArrayLike<number>, opts: SamplingOptions, rng: Rng): number {
  if (opts.temperature <= 0) return argmax(logits);
  const probs = filteredProbs(logits, opts);
  const u = rng.next();
  let cum = 0;
  let last = 0;
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i] as number;
    if (p === 0) continue;
    cum += p;
    last = i;
    if (u < cum) return i;
  }
  return last; // rounding left u ≥ cum: the last kept token
}
