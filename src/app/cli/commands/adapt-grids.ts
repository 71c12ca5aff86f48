/**
 * `seal adapt --domain grids`: test-time training on one grid task. The model writes a recipe for the task's
 * demonstrations (or `--recipe FILE` gives one), the recipe is expanded into training sequences over the
 * demonstrations only (the grid domain's plan), a fresh LoRA is trained with the recipe's learning rate and epochs,
 * and the PEFT adapter is saved with recipe.json. `seal solve --adapter` then answers the test input with it.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { z } from 'zod';
import { initEngine } from '../../../engine/index.js';
import { SealError } from '../../../errors.js';
import { LoraConfigSchema, loraTargets } from '../../../lora/config.js';
import { loadAdapter, saveAdapter } from '../../../lora/io.js';
import { checksum } from '../../../model/params.js';
import { recipePlan } from '../../../seal/domains/grids.js';
import { writeRecipes } from '../../../seal/domains/grids-model.js';
import { innerLoopConfig, trainAdapter } from '../../../seal/inner/inner-loop.js';
import { formatRecipe, parseRecipe, type Recipe } from '../../../tasks/grids/recipe.js';
import { gridAnswering, gridContext } from '../../../tasks/grids/task.js';
import { checkOutputDir } from '../../../util/fs.js';
import { UsageError } from '../args.js';
import { type BackendOption, log } from './common.js';
import {
  ADAPTER_RECIPE_FILE,
  checkTaskFits,
  loadGridModel,
  loadGridTaskArg,
  resolveGridModelDir,
} from './grids-common.js';

export interface GridAdaptOptions {
  readonly task?: string | undefined;
  readonly id?: string | undefined;
  readonly solutions?: string | undefined;
  readonly model: string;
  readonly out: string;
  readonly recipe?: string | undefined;
  readonly policy?: string | undefined;
  readonly temperature: number;
  readonly topP: number;
  readonly rank: number;
  readonly seed: number;
  readonly overwrite: boolean;
  readonly backend: z.infer<typeof BackendOption>;
  /** People-world options: refused here. */
  readonly passage?: string | undefined;
  readonly title?: string | undefined;
  readonly generator?: string | undefined;
  readonly mode: string;
}

function readRecipeFile(file: string): Recipe {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new SealError(`cannot read recipe: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, file);
  }
  const parsed = parseRecipe(text);
  if (!parsed.ok) throw new SealError(`malformed recipe: ${parsed.reason}`, file);
  return parsed.recipe;
}

export async function adaptGrids(o: GridAdaptOptions): Promise<void> {
  for (const [flag, v] of [
    ['--passage', o.passage],
    ['--title', o.title],
    ['--generator', o.generator],
  ] as const)
    if (v !== undefined) throw new UsageError(`${flag} is a people-world option (not for --domain grids)`);
  if (o.mode !== 'text')
    throw new UsageError('--mode delta is a people-world option (not for --domain grids)');
  if (o.task === undefined) throw new UsageError('--domain grids needs --task TASK.json');
  checkOutputDir(o.out, 'adapter', o.overwrite);
  const task = await loadGridTaskArg({ task: o.task, id: o.id, solutions: o.solutions });
  const given = o.recipe === undefined ? undefined : readRecipeFile(o.recipe);
  const modelDir = resolveGridModelDir(o.model);
  await initEngine(o.backend);
  const { model, tok } = await loadGridModel(modelDir);
  checkTaskFits(task, model, tok, o.task);
  loraTargets(model.config, { r: o.rank, targetModules: LoraConfigSchema.parse({}).targetModules }, '--rank');
  const before = checksum(model.params);
  const t0 = performance.now();
  let recipe = given;
  let written: string | undefined;
  if (recipe === undefined) {
    const policy = o.policy === undefined ? undefined : await loadAdapter(o.policy, model);
    const [w] = writeRecipes(model, tok, [task], {
      seed: o.seed,
      temperature: o.temperature,
      topP: o.topP,
      ...(policy === undefined ? {} : { deltas: [policy] }),
    });
    policy?.dispose();
    written = w?.text ?? '';
    if (w === undefined || !w.parsed.ok)
      throw new SealError(
        `the model wrote a malformed recipe (${w?.parsed.ok === false ? w.parsed.reason : 'nothing'}): no adapter written; try another --seed, or give one with --recipe FILE:\n${written}`,
        o.task,
      );
    recipe = w.parsed.recipe;
  }
  log(
    `recipe (${given === undefined ? 'written by the model' : `from ${o.recipe}`}):\n${formatRecipe(recipe)}`,
  );
  const inner = { ...innerLoopConfig({ epochs: 1, lr: 1e-3, rank: o.rank }), seqLen: model.config.maxSeqLen };
  const context = gridContext(task);
  const plan = recipePlan(recipe, context, { inner });
  if (plan.kind === 'rejected') throw new SealError(`the recipe cannot be trained: ${plan.reason}`, o.task);
  const env = { model, tok, task: gridAnswering() };
  const { adapter, finalLoss, steps } = trainAdapter(env, plan.sequences, plan.cfg, o.seed);
  if (adapter === undefined)
    throw new SealError('adapter training diverged (loss is NaN/Inf); try a recipe with a lower lr', o.task);
  await saveAdapter(adapter, model, o.out, {
    baseModel: o.model,
    overwrite: o.overwrite,
    metadata: { seal_seed: String(o.seed), seal_domain: 'grids', seal_task: task.id },
  });
  const record = {
    task: task.id,
    source: given === undefined ? 'model' : 'file',
    recipe,
    text: formatRecipe(recipe),
    ...(written === undefined ? {} : { written }),
    sequences: plan.sequences.length,
    steps,
    finalLoss,
    seed: o.seed,
  };
  await writeFile(join(o.out, ADAPTER_RECIPE_FILE), `${JSON.stringify(record, null, 2)}\n`);
  adapter.dispose();
  if (checksum(model.params) !== before) throw new Error('base model changed');
  model.dispose();
  log(
    `wrote ${o.out}: ${plan.sequences.length} sequences, ${steps} steps, loss ${finalLoss.toFixed(4)}, ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
}
