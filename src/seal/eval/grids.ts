/**
 * The evaluation table of the grid domain (SEAL's few-shot setting), on held-out tasks (never pretrained on, never
 * used for RL): each condition turns a task into an inner-loop plan on the same frozen base — no training, or
 * test-time training with a recipe — and the adapted model answers the test input in context (exact grid match).
 * Conditions (an exhaustive union):
 *   icl        in-context only: the base model answers with no training (greedy, so the same under every seed)
 *   recipes    a recipe sampled from the generator (base, or base + a trained policy adapter), as SEAL's rollouts
 *   fixed      one fixed recipe for every task (e.g. the best fixed recipe, chosen on val)
 *   oracle     the best recipe of a space per task: solved when any recipe of the space solves it (the ceiling)
 * Each (condition, task) is repeated over seeds (sampling and inner-loop seeds `deriveSeed('grid-eval-…', seed,
 * task index)`; the oracle's sweep uses the same inner-loop seeds); the mean ± 95% CI is over tasks of their seed
 * means, and paired differences between conditions are over the same tasks.
 */

import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { SealError } from '../../errors.js';
import type { LoraAdapter } from '../../lora/adapter.js';
import { formatRecipe, type Recipe } from '../../tasks/grids/recipe.js';
import type { Context } from '../../tasks/types.js';
import { validate } from '../../util/json.js';
import { Progress } from '../../util/progress.js';
import { deriveSeed } from '../../util/rng.js';
import type { InnerPlan } from '../domain.js';
import { recipePlan } from '../domains/grids.js';
import { executorProgress } from '../inner/executor.js';
import type { InnerLoopConfig } from '../inner/inner-loop.js';
import { runPlans as runRolloutPlans, type SealProblem } from '../outer/rollout.js';
import { sampleSelfEdits } from '../selfedit/generate.js';
import { ParseOptionsSchema } from '../selfedit/parse.js';
import { type MeanCi, meanCi, pairedAgainst } from './stats.js';

export type GridCondition =
  | { readonly kind: 'icl'; readonly name: string }
  | { readonly kind: 'recipes'; readonly name: string; readonly policy: LoraAdapter | undefined }
  | { readonly kind: 'fixed'; readonly name: string; readonly recipe: Recipe }
  | {
      readonly kind: 'oracle';
      readonly name: string;
      readonly space: readonly Recipe[];
      /**
       * The space's scores `[recipe][context]` already measured on these contexts under `seed` with the same inner
       * seeds (the val sweep, when the table is on val tasks), or undefined: the sweep is not run twice.
       */
      readonly known?: (seed: number) => readonly (readonly number[])[] | undefined;
    };

export interface GridEvalSettings {
  readonly seeds: readonly number[];
  /** The inner loop's defaults (LoRA, batch size, sequence length); a recipe sets its own lr and epochs. */
  readonly inner: InnerLoopConfig;
  readonly temperature: number;
  readonly topP: number;
  readonly maxNewTokens: number;
}

/** One (condition, seed, task) result: the row a results file keeps (validated when read back). */
export const GridRowSchema = z.strictObject({
  condition: z.string(),
  seed: z.number().int(),
  task: z.string(),
  score: z.number().min(0).max(1),
  /** The recipe trained (recipes, fixed), or the recipes of the space that solved it (oracle). */
  recipe: z.string().optional(),
  /** Why a sampled recipe was not trained (malformed, or nothing fits the context). */
  rejected: z.string().optional(),
  /** The adapted model's answer to the test input (grid text), when it answered. */
  answer: z.string().optional(),
  ms: z.number(),
});
export type GridRow = z.infer<typeof GridRowSchema>;

/** The rows of a JSONL results file (none when it does not exist); a malformed line is an error naming the file. */
export function readGridRows(file: string): GridRow[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l, i) => {
      let v: unknown;
      try {
        v = JSON.parse(l);
      } catch {
        throw new SealError(`line ${i + 1} is not JSON`, file);
      }
      return validate(GridRowSchema, v, `${file}:${i + 1}`);
    });
}

export interface GridConditionResult extends MeanCi {
  /** Accuracy per task (mean over seeds); the mean ± CI above is over these. */
  readonly perContext: Readonly<Record<string, number>>;
  readonly seeds: number;
  /** Share of the rows whose recipe was rejected (malformed, or nothing fits): 0 without recipes. */
  readonly rejected: number;
}

/** The inner-loop seed of task `i` under evaluation seed `seed`: every condition trains with the same one. */
export const gridEvalInnerSeed = (seed: number, i: number): number => deriveSeed('grid-eval-inner', seed, i);

/** Runs plans through the rollout's `runPlans` (a rejected plan scores 0), ticking `progress`; plan order. */
async function runPlans(
  p: SealProblem,
  contexts: readonly Context[],
  plans: readonly InnerPlan[],
  seeds: readonly number[],
  progress: Progress | undefined,
): Promise<{ score: number; ms: number; answer?: string }[]> {
  const planned = plans.map((plan, i) => ({ context: contexts[i]!, plan, seed: seeds[i]! }));
  const ran = await runRolloutPlans(p, planned, () => progress?.tick(1, executorProgress(p.executor)));
  return ran.map((r) => {
    const answer = r.answers[0]?.prediction;
    return { score: r.accuracy, ms: r.ms, ...(answer === undefined ? {} : { answer }) };
  });
}

/**
 * Scores of every recipe of `space` on every context under one seed: `[recipe][context]` (1 solved, 0 not). The
 * sweep behind the oracle, and, on val tasks, the choice of the best fixed recipe.
 */
export async function sweepRecipes(
  p: SealProblem,
  contexts: readonly Context[],
  space: readonly Recipe[],
  inner: InnerLoopConfig,
  seed: number,
  opts: { readonly quiet?: boolean; readonly label?: string } = {},
): Promise<number[][]> {
  const progress = opts.quiet
    ? undefined
    : new Progress({ total: space.length * contexts.length, label: opts.label ?? 'recipe sweep' });
  const plans = space.flatMap((recipe) => contexts.map((c) => recipePlan(recipe, c, { inner })));
  const seeds = space.flatMap(() => contexts.map((_, i) => gridEvalInnerSeed(seed, i)));
  const all = space.flatMap(() => contexts);
  const out = await runPlans(p, all, plans, seeds, progress);
  progress?.finish();
  return space.map((_, r) => out.slice(r * contexts.length, (r + 1) * contexts.length).map((o) => o.score));
}

/** The recipe with the highest mean score over contexts (the earliest on ties): the best fixed recipe. */
export function bestFixedIndex(scores: readonly (readonly number[])[]): number {
  let best = -1;
  let bestMean = Number.NEGATIVE_INFINITY;
  for (const [r, row] of scores.entries()) {
    const m = row.length === 0 ? 0 : row.reduce((s, x) => s + x, 0) / row.length;
    if (m > bestMean) {
      best = r;
      bestMean = m;
    }
  }
  return best;
}

/** Per context, the best score over recipes (`scores[recipe][context]`): the oracle's. */
export function oracleScores(scores: readonly (readonly number[])[]): number[] {
  const n = scores[0]?.length ?? 0;
  return Array.from({ length: n }, (_, i) => Math.max(0, ...scores.map((row) => row[i] ?? 0)));
}

/** The rows of one condition under one seed, one per context. */
async function conditionRows(
  p: SealProblem,
  cond: GridCondition,
  contexts: readonly Context[],
  seed: number,
  s: GridEvalSettings,
  quiet: boolean,
): Promise<GridRow[]> {
  const seeds = contexts.map((_, i) => gridEvalInnerSeed(seed, i));
  const rows = (
    scores: readonly { score: number; ms: number; answer?: string }[],
    extra: (i: number) => Partial<GridRow>,
  ) =>
    contexts.map((c, i): GridRow => {
      const answer = scores[i]!.answer;
      return {
        condition: cond.name,
        seed,
        task: c.id,
        score: scores[i]!.score,
        ms: scores[i]!.ms,
        ...(answer === undefined ? {} : { answer }),
        ...extra(i),
      };
    });
  const progress = (n: number) =>
    quiet ? undefined : new Progress({ total: n, label: `${cond.name} (seed ${seed})` });
  switch (cond.kind) {
    case 'icl': {
      // An inner loop on nothing: the frozen base answers in context.
      const plans: InnerPlan[] = contexts.map(() => ({ kind: 'train', sequences: [], cfg: s.inner }));
      const bar = progress(contexts.length);
      const out = await runPlans(p, contexts, plans, seeds, bar);
      bar?.finish();
      return rows(out, () => ({}));
    }
    case 'recipes': {
      const edits = sampleSelfEdits(p.env.model, p.env.tok, contexts, (c) => p.domain.selfEditPrompt(c), {
        k: 1,
        temperature: s.temperature,
        topP: s.topP,
        maxNewTokens: s.maxNewTokens,
        seed: deriveSeed('grid-eval-sample', seed),
        ...(cond.policy === undefined ? {} : { deltas: [cond.policy] }),
      }).map((g) => g[0]!.completion);
      const plans = contexts.map((c, i) => p.domain.plan(edits[i]!, c, { inner: s.inner, parse: NO_PARSE }));
      const bar = progress(contexts.length);
      const out = await runPlans(p, contexts, plans, seeds, bar);
      bar?.finish();
      return rows(out, (i) => {
        const plan = plans[i]!;
        return plan.kind === 'rejected'
          ? { recipe: edits[i]!, rejected: plan.reason }
          : { recipe: recipeLines(edits[i]!) };
      });
    }
    case 'fixed': {
      const plans = contexts.map((c) => recipePlan(cond.recipe, c, { inner: s.inner }));
      const bar = progress(contexts.length);
      const out = await runPlans(p, contexts, plans, seeds, bar);
      bar?.finish();
      const text = formatRecipe(cond.recipe);
      return rows(out, (i) => {
        const plan = plans[i]!;
        return plan.kind === 'rejected' ? { recipe: text, rejected: plan.reason } : { recipe: text };
      });
    }
    case 'oracle': {
      const scores =
        cond.known?.(seed) ??
        (await sweepRecipes(p, contexts, cond.space, s.inner, seed, {
          quiet,
          label: `${cond.name} (seed ${seed})`,
        }));
      const best = oracleScores(scores);
      return contexts.map(
        (c, i): GridRow => ({
          condition: cond.name,
          seed,
          task: c.id,
          score: best[i]!,
          ms: 0,
          recipe: cond.space
            .filter((_, r) => scores[r]![i] === 1)
            .map((r) => formatRecipe(r).replaceAll('\n', '; '))
            .join(' | '),
        }),
      );
    }
    default: {
      const never: never = cond;
      throw new Error(`unknown grid condition ${JSON.stringify(never)}`);
    }
  }
}

/** The knowledge domain's parse options: a plan needs them, the grid plan ignores them (it parses the recipe). */
const NO_PARSE = ParseOptionsSchema.parse({});

/** A sampled recipe as stored in a row: its text up to the first blank line (what the parser reads). */
function recipeLines(text: string): string {
  const end = text.indexOf('\n\n');
  return end < 0 ? text : text.slice(0, end);
}

/**
 * Every condition on every context under every seed: per-condition mean ± CI over contexts (of their seed means)
 * and the raw rows (`onRows` receives each condition's rows as it finishes, e.g. to append them to a results file).
 */
export async function evaluateGridConditions(
  p: SealProblem,
  conditions: readonly GridCondition[],
  contexts: readonly Context[],
  s: GridEvalSettings,
  opts: { readonly quiet?: boolean; readonly onRows?: (rows: readonly GridRow[]) => void } = {},
): Promise<Record<string, GridConditionResult>> {
  const out: Record<string, GridConditionResult> = {};
  for (const cond of conditions) {
    const all: GridRow[] = [];
    // In-context answers are greedy: one seed tells all.
    const seeds = cond.kind === 'icl' ? s.seeds.slice(0, 1) : s.seeds;
    for (const seed of seeds) {
      const rows = await conditionRows(p, cond, contexts, seed, s, opts.quiet ?? false);
      opts.onRows?.(rows);
      all.push(...rows);
    }
    out[cond.name] = summariseGridRows(
      all,
      contexts.map((c) => c.id),
    );
  }
  return out;
}

/** Mean ± CI over tasks of their mean over seeds, from rows (e.g. read back from a results file). */
export function summariseGridRows(rows: readonly GridRow[], tasks: readonly string[]): GridConditionResult {
  const perContext: Record<string, number> = {};
  const seeds = new Set(rows.map((r) => r.seed));
  for (const t of tasks) {
    const mine = rows.filter((r) => r.task === t);
    if (mine.length > 0) perContext[t] = mine.reduce((s, r) => s + r.score, 0) / mine.length;
  }
  const rejected = rows.filter((r) => r.rejected !== undefined).length;
  return {
    ...meanCi(Object.values(perContext)),
    perContext,
    seeds: seeds.size,
    rejected: rows.length === 0 ? 0 : rejected / rows.length,
  };
}

/** The grid table rebuilt from its rows (`experiment:grids` and `npm run results` alike). */
export interface GridTable {
  /** Per condition: mean over tasks (each task averaged over its seeds) with the 95% t interval over tasks. */
  readonly results: Record<string, GridConditionResult>;
  /** Per RL run (`seal_run<R>`): its paired differences against every condition that is not another run. */
  readonly paired: Record<string, Record<string, MeanCi>>;
  /** SEAL across runs: the mean of the runs' means with the t interval over runs (between-run variance). */
  readonly acrossRuns: { readonly seal: MeanCi };
}

/** The RL runs' conditions are named `seal_run<R>`. */
export const isSealRun = (condition: string): boolean => condition.startsWith('seal_run');

/** The grid table from each condition's rows (in the order given) over `tasks`. */
export function gridTable(
  rows: Readonly<Record<string, readonly GridRow[]>>,
  tasks: readonly string[],
): GridTable {
  const results = Object.fromEntries(
    Object.entries(rows).map(([k, rs]) => [k, summariseGridRows(rs, tasks)]),
  );
  const runs = Object.keys(results).filter(isSealRun);
  const perContext = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, v.perContext]));
  const paired = Object.fromEntries(
    runs.map((run) => [
      run,
      pairedAgainst(
        run,
        Object.fromEntries(Object.entries(perContext).filter(([k]) => k === run || !isSealRun(k))),
      ),
    ]),
  );
  return { results, paired, acrossRuns: { seal: meanCi(runs.map((k) => results[k]!.mean)) } };
}
