/**
 * SQuAD v1.1 answer scoring, matching the official `evaluate-v1.1.py` (Rajpurkar et al. 2016) character for
 * character, so numbers reported here are comparable with published SQuAD / SEAL exact-match and F1 figures.
 */
import { fail } from '../errors.js';
import type { Scorer } from './types.js';

// Python's `string.punctuation`: ASCII only, so curly quotes, en dashes etc. survive normalisation as they do in
// the official script.
const PUNCTUATION = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');

// Python's `\b` on str patterns is Unicode-aware (`\w` = alphanumerics and `_`), whereas JS `\b` only knows ASCII;
// explicit look-arounds keep "éthe" intact exactly like the official script does.
const ARTICLES = /(?<![\p{L}\p{N}_])(?:a|an|the)(?![\p{L}\p{N}_])/gu;

// The characters Python's `str.split()` treats as whitespace. JS `\s` differs (it adds U+FEFF and lacks
// U+001C..U+001F and U+0085), which would change tokenisation on a few odd Wikipedia strings.
// biome-ignore lint/suspicious/noControlCharactersInRegex: U+001C..U+001F are whitespace to Python's str.split().
const PY_WHITESPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/u;

function pySplit(text: string): string[] {
  return text.split(PY_WHITESPACE).filter((t) => t !== '');
}

/** Lower-case, drop ASCII punctuation, drop the articles a/an/the as whole words, collapse whitespace. */
export function normalizeAnswer(s: string): string {
  let noPunct = '';
  for (const ch of s.toLowerCase()) if (!PUNCTUATION.has(ch)) noPunct += ch;
  return pySplit(noPunct.replace(ARTICLES, ' ')).join(' ');
}

/** 1 when the normalised strings are identical, else 0. */
export function exactMatch(prediction: string, gold: string): number {
  return normalizeAnswer(prediction) === normalizeAnswer(gold) ? 1 : 0;
}

/** Token-level F1 over normalised tokens, counting repeated tokens with multiset (Counter) intersection. */
export function f1Score(prediction: string, gold: string): number {
  const predTokens = pySplit(normalizeAnswer(prediction));
  const goldTokens = pySplit(normalizeAnswer(gold));
  const goldCounts = new Map<string, number>();
  for (const t of goldTokens) goldCounts.set(t, (goldCounts.get(t) ?? 0) + 1);
  let numSame = 0;
  for (const t of predTokens) {
    const left = goldCounts.get(t) ?? 0;
    if (left > 0) {
      numSame++;
      goldCounts.set(t, left - 1);
    }
  }
  // The official script returns 0 here even when both sides are empty, so "" vs "the" scores 0, not 1.
  if (numSame === 0) return 0;
  const precision = numSame / predTokens.length;
  const recall = numSame / goldTokens.length;
  return (2 * precision * recall) / (precision + recall);
}

/** The best score of `prediction` against any gold answer, as the official script credits the closest gold. */
export function metricMaxOverGolds(
  metric: (prediction: string, gold: string) => number,
  prediction: string,
  golds: readonly string[],
): number {
  // Python's max() raises on an empty list; a silent 0 would hide a data bug as a wrong answer.
  if (golds.length === 0) fail('SQuAD scoring: question has no gold answers');
  let best = Number.NEGATIVE_INFINITY;
  for (const gold of golds) best = Math.max(best, metric(prediction, gold));
  return best;
}

export const exactMatchScorer: Scorer = {
  name: 'exact_match',
  score: (prediction, golds) => metricMaxOverGolds(exactMatch, prediction, golds),
};

export const f1Scorer: Scorer = {
  name: 'f1',
  score: (prediction, golds) => metricMaxOverGolds(f1Score, prediction, golds),
};
