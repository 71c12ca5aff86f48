/**
 * How faithful is a self-QA self-edit to its passage? A self-edit helps only through the facts it restates
 * correctly: a question about the right person (the full name exactly) with the right answer. Sampled self-edits
 * of a small model garble names ("Damian Nicole Woodcock" for Damian Nicole Allan) and values ("Management
 * Studies" for Management); this measures how often, so that what limits SEAL's reward can be read off.
 */
import type { Context } from '../types.js';
import { ATTRIBUTES, type Attribute } from './data.js';
import { seenWordings } from './text.js';

export interface SelfEditFidelity {
  /** Question–answer pairs (a `Q:` line; its answer is the next line's `A:`). */
  readonly pairs: number;
  /** Pairs asking a seen-wording question (any name). */
  readonly recognised: number;
  /** Recognised pairs naming the context's person exactly. */
  readonly nameCorrect: number;
  /** Recognised pairs whose answer is the person's value of the asked attribute. */
  readonly valueCorrect: number;
  /** Distinct attributes restated with both the exact name and the exact value: the facts the edit can inject. */
  readonly correctFacts: number;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Each seen-wording question as a pattern capturing the name. */
const QUESTION_PATTERNS: readonly { kind: Attribute; re: RegExp }[] = ATTRIBUTES.flatMap((kind) =>
  seenWordings(kind).map((wording) => {
    const [pre, post] = wording.split('{name}') as [string, string];
    return { kind, re: new RegExp(`^${escapeRe(pre)}(.+?)${escapeRe(post)}$`) };
  }),
);

export function selfEditFidelity(completion: string, context: Context): SelfEditFidelity {
  const gold = new Map<string, readonly string[]>();
  for (const q of context.questions) if (q.kind !== undefined) gold.set(q.kind, q.answers);
  const lines = completion.split('\n').map((l) => l.trim());
  const facts = new Set<string>();
  let pairs = 0;
  let recognised = 0;
  let nameCorrect = 0;
  let valueCorrect = 0;
  for (const [i, line] of lines.entries()) {
    if (!line.startsWith('Q:')) continue;
    pairs++;
    const q = line.slice(2).trim();
    const next = lines[i + 1] ?? '';
    const answer = next.startsWith('A:') ? next.slice(2).trim() : undefined;
    const match = QUESTION_PATTERNS.map((p) => ({ kind: p.kind, m: p.re.exec(q) })).find((x) => x.m !== null);
    if (match === undefined) continue;
    recognised++;
    const nameOk = match.m?.[1] === context.title;
    const valueOk = answer !== undefined && (gold.get(match.kind) ?? []).includes(answer);
    if (nameOk) nameCorrect++;
    if (valueOk) valueCorrect++;
    if (nameOk && valueOk) facts.add(match.kind);
  }
  return { pairs, recognised, nameCorrect, valueCorrect, correctFacts: facts.size };
}

/** Means of the fidelity counts (rates are per pair) over self-edits. */
export function summariseFidelity(rows: readonly SelfEditFidelity[]) {
  const sum = (f: (r: SelfEditFidelity) => number) => rows.reduce((s, r) => s + f(r), 0);
  const pairs = sum((r) => r.pairs);
  const n = Math.max(1, rows.length);
  const round = (x: number) => Number(x.toFixed(3));
  return {
    selfEdits: rows.length,
    pairsPerEdit: round(pairs / n),
    nameCorrectRate: round(sum((r) => r.nameCorrect) / Math.max(1, pairs)),
    valueCorrectRate: round(sum((r) => r.valueCorrect) / Math.max(1, pairs)),
    correctFactsPerEdit: round(sum((r) => r.correctFacts) / n),
  };
}
