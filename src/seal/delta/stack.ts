/**
 * Stacked edits: the edits of n people applied together, for n = 1, 2, 4, 8, 16. The contexts are cut into
 * consecutive disjoint groups of n; each group gets one combined edit, and every member's questions are asked
 * under it (edit success as the stack grows), along with known people's questions (retention) and held-out text
 * (drawdown).
 *
 * How a condition combines n edits is its own business:
 *   weight deltas   the sum of the n generated ΔW (the linear hook adds every LinearDelta it is given): fast-weight
 *                   writes are sums of key→value outer products already, so summing keeps every association and
 *                   costs nothing; interference is what the table measures
 *   routed          the n generated edits side by side, each input answered under the one whose scope it falls in
 *                   (route.ts): no input sees two edits
 *   LoRA / text     one adapter trained on the n contexts' sequences together (SEAL's continued-pretraining
 *                   setting), the fair analogue of one combined edit
 * Rows are per (condition, size, group), with each member's ES, so every interval can be recomputed.
 */
import type { Context } from '../../tasks/types.js';
import type { Batch } from '../../train/data.js';
import { type MeanCi, meanCi } from '../eval/stats.js';
import { meanScore } from '../inner/qa-eval.js';
import { answerUnder, type EditApplication, together } from './apply.js';
import { editText } from './embedding.js';
import { localityProbe } from './eval.js';
import type { EditGenerator } from './generator.js';
import type { RewardEnv } from './reward.js';
import { routedEdits, type ScopeRouter } from './route.js';
import { editFor } from './train.js';

export const STACK_SIZES = [1, 2, 4, 8, 16] as const;

/** How a stack of generated edits meets an input: summed on every input, or routed by scope (route.ts). */
export type StackRule = { readonly kind: 'sum' } | { readonly kind: 'routed'; readonly router: ScopeRouter };

/**
 * The generator's edits of each group's contexts (from `title\npassage`, as in training), combined by `rule`; the
 * time includes reading the scopes.
 */
export function generatedStack(
  env: RewardEnv,
  gen: EditGenerator,
  contexts: readonly Context[],
  name: string,
  rule: StackRule,
): StackCondition {
  return {
    name,
    make: (group) => {
      const t0 = performance.now();
      const texts = group.map((i) => editText(contexts[i]!));
      const made = texts.map((t) => editFor(env, gen, t));
      const edits = made.map((m) => m.edit);
      const free = () => {
        for (const m of made) m.dispose();
      };
      switch (rule.kind) {
        case 'sum':
          return { apply: together(edits), dispose: free, ms: performance.now() - t0 };
        case 'routed': {
          let scoped: ReturnType<typeof routedEdits>;
          try {
            scoped = routedEdits(
              rule.router,
              edits,
              texts.map((t) => env.tok.encode(t, { addBos: true })),
            );
          } catch (e) {
            free();
            throw e;
          }
          return {
            apply: scoped.apply,
            dispose: () => {
              scoped.dispose();
              free();
            },
            ms: performance.now() - t0,
          };
        }
        default: {
          const never: never = rule;
          throw new Error(`unknown stack rule ${String(never)}`);
        }
      }
    },
  };
}

/** One combined edit for a group of contexts (indices into the evaluated list). */
export interface StackedEdit {
  /** How the group's edits meet an input: together (summed, composed, one LoRA) or routed by scope. */
  readonly apply: EditApplication;
  readonly dispose?: () => void;
  /** Wall time to produce the combined edit (ms). */
  readonly ms: number;
}

export interface StackCondition {
  readonly name: string;
  make(group: readonly number[]): StackedEdit;
}

export interface StackRow {
  readonly condition: string;
  readonly size: number;
  readonly group: number;
  /** Each member's edit success under the group's combined edit. */
  readonly members: readonly { readonly id: string; readonly es: number }[];
  readonly retention: number;
  readonly drawdown: number;
  readonly ms: number;
}

export interface StackSummary {
  readonly condition: string;
  readonly size: number;
  /** Over members (all groups of this size). */
  readonly es: MeanCi;
  /** Over groups. */
  readonly retention: MeanCi;
  readonly drawdown: MeanCi;
}

/** Consecutive disjoint groups of `size` among `n` contexts (a remainder smaller than `size` is left out). */
export function stackGroups(n: number, size: number): number[][] {
  return Array.from({ length: Math.floor(n / size) }, (_, g) =>
    Array.from({ length: size }, (_, j) => g * size + j),
  );
}

export interface StackEvalOptions {
  readonly sizes?: readonly number[];
  /** People the base model knows (retention); each group is checked on `knownPerEdit` of them. */
  readonly known: readonly Context[];
  readonly knownPerEdit?: number;
  readonly heldOutText: Batch;
  /** Called after each group (progress). */
  readonly onRow?: (row: StackRow) => void;
}

export function evaluateStacks(
  env: RewardEnv,
  contexts: readonly Context[],
  conditions: readonly StackCondition[],
  opts: StackEvalOptions,
): StackRow[] {
  const locality = localityProbe(env, opts.known, opts.heldOutText, opts.knownPerEdit);
  const rows: StackRow[] = [];
  for (const size of opts.sizes ?? STACK_SIZES) {
    for (const cond of conditions) {
      for (const [g, group] of stackGroups(contexts.length, size).entries()) {
        const made = cond.make(group);
        const members = group.map((i) => {
          const c = contexts[i]!;
          return {
            id: c.id,
            es: meanScore(answerUnder(env, [c], made.apply)),
          };
        });
        const row: StackRow = {
          condition: cond.name,
          size,
          group: g,
          members,
          retention: locality.retention(g, made.apply),
          drawdown: locality.drawdown(made.apply),
          ms: made.ms,
        };
        made.dispose?.();
        rows.push(row);
        opts.onRow?.(row);
      }
    }
  }
  return rows;
}

/** The table: per condition and size, ES over members, retention and drawdown over groups. */
export function summariseStacks(rows: readonly StackRow[]): StackSummary[] {
  const out: StackSummary[] = [];
  const seen = new Set<string>();
  for (const r of rows) {
    const key = `${r.condition}\u0000${r.size}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const same = rows.filter((x) => x.condition === r.condition && x.size === r.size);
    const finite = (xs: number[]) => xs.filter((x) => !Number.isNaN(x));
    out.push({
      condition: r.condition,
      size: r.size,
      es: meanCi(same.flatMap((x) => x.members.map((m) => m.es))),
      retention: meanCi(finite(same.map((x) => x.retention))),
      drawdown: meanCi(finite(same.map((x) => x.drawdown))),
    });
  }
  return out;
}
