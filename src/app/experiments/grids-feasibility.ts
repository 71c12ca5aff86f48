/**
 * Feasibility of the grid domain on a pretrained grid model (issue #16): in-context accuracy on fresh
 * pretraining-family tasks vs held-out-family val tasks, how often the base model writes well-formed recipes, and
 * test-time training (the grid plan's inner loop) on held-out val tasks with a few fixed recipes and with one
 * model-written recipe per task — per recipe, per family, and the oracle over the fixed recipes (any solves). Reads
 * the val split only (never test). Writes one JSON file.
 *   node dist/app/experiments/grids-feasibility.js --model DIR --out FILE [--val 32] [--pretrain 64]
 */
import { writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { initEngine } from '../../engine/index.js';
import { loadModel } from '../../model/io/load.js';
import { answersInFrame, scoredContext } from '../../seal/domain.js';
import { recipePlan } from '../../seal/domains/grids.js';
import { readGridWorldConfig, solveTasks, writeRecipes } from '../../seal/domains/grids-model.js';
import { familyAccuracy, pretrainFamilyEvalTasks } from '../../seal/domains/grids-pretrain.js';
import { InnerLoopConfigSchema, runInnerLoop } from '../../seal/inner/inner-loop.js';
import { TaskSpecSchema, taskFromSpec } from '../../seal/inner/task-spec.js';
import { parseGrid } from '../../tasks/grids/grid.js';
import { formatRecipe, type Recipe, RecipeSchema } from '../../tasks/grids/recipe.js';
import { gridContext } from '../../tasks/grids/task.js';
import { generateGridWorld, type WorldTask } from '../../tasks/grids/world.js';
import { loadTokenizer } from '../../tokenizer/load.js';
import { schemaArgs } from './args.js';

const USAGE = `Grid-domain feasibility: ICL on pretraining vs held-out families, recipe well-formedness, and test-time
training with fixed and model-written recipes on held-out val tasks. Writes JSON to --out.
  node dist/app/experiments/grids-feasibility.js --model DIR --out FILE [--val 32] [--pretrain 64]`;

/** A few fixed recipes spanning the space's main axes (none is chosen on test tasks). */
const FIXED: Record<string, Recipe> = {
  plain: RecipeSchema.parse({
    augment: [],
    copies: 1,
    leaveOneOut: true,
    lr: 3e-3,
    epochs: 8,
    loss: 'outputs',
  }),
  geometry: RecipeSchema.parse({
    augment: ['rot', 'flip'],
    copies: 4,
    leaveOneOut: true,
    lr: 3e-3,
    epochs: 8,
    loss: 'outputs',
  }),
  geometryColourLong: RecipeSchema.parse({
    augment: ['rot', 'flip', 'colour'],
    copies: 4,
    leaveOneOut: true,
    lr: 1e-3,
    epochs: 16,
    loss: 'outputs',
  }),
  geometryHighLr: RecipeSchema.parse({
    augment: ['rot', 'flip'],
    copies: 8,
    leaveOneOut: true,
    lr: 1e-2,
    epochs: 8,
    loss: 'outputs',
  }),
};

export const FeasibilityOptionsSchema = z.strictObject({
  model: z.string().describe('Grid model directory'),
  out: z.string().describe('The JSON result file'),
  val: z.coerce.number().int().min(1).default(32).describe('Val tasks (held-out families) measured'),
  pretrain: z.coerce
    .number()
    .int()
    .min(1)
    .default(64)
    .describe('Pretraining-family tasks for in-context accuracy'),
  recipes: z
    .string()
    .default(Object.keys(FIXED).join(','))
    .transform((text, ctx) => {
      const names = text.split(',');
      const unknown = names.filter((n) => !(n in FIXED));
      if (unknown.length > 0)
        ctx.issues.push({
          code: 'custom',
          input: text,
          message: `unknown recipe ${unknown.join(', ')} (known: ${Object.keys(FIXED).join(', ')})`,
        });
      return names;
    })
    .describe('Fixed recipes measured, comma-separated'),
  rank: z.coerce.number().int().min(1).default(16).describe('Test-time LoRA rank (alpha = 2 × rank)'),
});

export async function main(argv = process.argv.slice(2)): Promise<void> {
  const { options: values } = schemaArgs(argv, FeasibilityOptionsSchema, USAGE);
  await initEngine('auto');
  const t0 = performance.now();
  const world = generateGridWorld(readGridWorldConfig(values.model));
  const { model } = await loadModel(values.model);
  const tok = loadTokenizer(values.model, { vocabSize: model.config.vocabSize });
  const env = { model, tok, task: taskFromSpec(TaskSpecSchema.parse({ kind: 'grids', maxSide: 6 })) };
  const rank = values.rank;
  const inner = InnerLoopConfigSchema.parse({
    seqLen: model.config.maxSeqLen,
    lora: { r: rank, alpha: 2 * rank },
    batchSize: 16,
  });
  const val = world.splits.val.slice(0, values.val);
  const log = (m: string) => process.stderr.write(`${m}\n`);

  const icl = {
    pretrainFamilies: familyAccuracy(model, tok, pretrainFamilyEvalTasks(world, values.pretrain)),
    heldOutFamilies: familyAccuracy(model, tok, val),
  };
  log(
    `ICL: pretraining families ${icl.pretrainFamilies.accuracy.toFixed(3)}, held-out ${icl.heldOutFamilies.accuracy.toFixed(3)}`,
  );

  const iclVal = solveTasks(model, tok, val).map((r) => r.score);
  // How close the in-context answers come: parsed, the right shape, and the share of right cells when it is.
  const closeness = (tasks: readonly WorldTask[]) => {
    let parsed = 0;
    let shaped = 0;
    let cells = 0;
    solveTasks(model, tok, tasks).forEach((r, i) => {
      const gold = tasks[i]!.test[0].output;
      const p = parseGrid(r.answers[0]?.prediction ?? '');
      if (!p.ok) return;
      parsed++;
      if (p.grid.length !== gold.length || p.grid[0]!.length !== gold[0]!.length) return;
      shaped++;
      let right = 0;
      for (const [y, row] of gold.entries())
        for (const [x, c] of row.entries()) if (p.grid[y]![x] === c) right++;
      cells += right / (gold.length * gold[0]!.length);
    });
    const n = Math.max(1, tasks.length);
    return {
      parsed: parsed / n,
      rightShape: shaped / n,
      cellAccuracyWhenShaped: shaped === 0 ? 0 : cells / shaped,
    };
  };
  const close = {
    pretrainFamilies: closeness(pretrainFamilyEvalTasks(world, values.pretrain)),
    heldOutFamilies: closeness(val),
  };
  log(`closeness: ${JSON.stringify(close)}`);
  const written = writeRecipes(model, tok, val, { seed: 1 });
  const wellFormed = written.filter((w) => w.parsed.ok).length;
  log(`recipes: ${wellFormed}/${written.length} well-formed`);

  const ttt = (recipe: Recipe, t: WorldTask, seed: number) => {
    const context = gridContext(t);
    const plan = recipePlan(recipe, context, { inner });
    if (plan.kind === 'rejected') return { score: 0, ms: 0, rejected: plan.reason };
    const r = runInnerLoop(env, scoredContext(plan, context), plan.sequences, plan.cfg, seed);
    return {
      score: r.accuracy,
      ms: r.ms,
      loss: r.finalLoss,
      answer: answersInFrame(plan, context, r.answers)[0]?.prediction ?? '',
    };
  };
  const byFamily = (scores: readonly number[]) => {
    const acc: Record<string, { s: number; n: number }> = {};
    val.forEach((t, i) => {
      const e = acc[t.family] ?? { s: 0, n: 0 };
      acc[t.family] = { s: e.s + scores[i]!, n: e.n + 1 };
    });
    return Object.fromEntries(Object.entries(acc).map(([f, { s, n }]) => [f, s / n]));
  };
  const mean = (xs: readonly number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
  const fixed: Record<string, unknown> = {};
  const solvedBy: number[][] = [];
  for (const name of values.recipes) {
    const recipe = FIXED[name]!;
    const rows = val.map((t, i) => ttt(recipe, t, i));
    const scores = rows.map((r) => r.score);
    solvedBy.push(scores);
    fixed[name] = {
      recipe: formatRecipe(recipe),
      accuracy: mean(scores),
      perFamily: byFamily(scores),
      msPerTask: Math.round(mean(rows.map((r) => r.ms))),
      solved: val.filter((_, i) => scores[i] === 1).map((t) => `${t.id} ${t.rule}`),
      solvedWhereIclWrong: val.filter((_, i) => scores[i] === 1 && iclVal[i] === 0).length,
    };
    log(`TTT ${name}: ${mean(scores).toFixed(3)} (${Math.round(mean(rows.map((r) => r.ms)))} ms/task)`);
  }
  const oracle = val.map((_, i) => Math.max(0, ...solvedBy.map((s) => s[i]!)));
  const modelRows = val.map((t, i) => {
    const w = written[i]!;
    return w.parsed.ok ? ttt(w.parsed.recipe, t, i) : { score: 0, ms: 0, rejected: w.parsed.reason };
  });
  const modelScores = modelRows.map((r) => r.score);
  log(
    `TTT with the model's own recipe: ${mean(modelScores).toFixed(3)}; oracle over fixed: ${mean(oracle).toFixed(3)}`,
  );
  const result = {
    model: values.model,
    params: model.numParams,
    valTasks: val.length,
    icl,
    iclCloseness: close,
    recipes: {
      n: written.length,
      wellFormed,
      distinct: new Set(written.flatMap((w) => (w.parsed.ok ? [formatRecipe(w.parsed.recipe)] : []))).size,
      samples: written.slice(0, 3).map((w) => w.text),
    },
    ttt: {
      inner: { rank, batchSize: inner.batchSize, seqLen: inner.seqLen },
      fixed,
      oracleOverFixed: { accuracy: mean(oracle), perFamily: byFamily(oracle) },
      modelWritten: {
        accuracy: mean(modelScores),
        perFamily: byFamily(modelScores),
        rejected: modelRows.filter((r) => 'rejected' in r).length,
      },
    },
    wallS: (performance.now() - t0) / 1000,
  };
  await writeFile(values.out, `${JSON.stringify(result, null, 2)}\n`);
  model.dispose();
}

await main();
