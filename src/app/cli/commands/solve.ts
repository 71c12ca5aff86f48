import { z } from 'zod';
import { initEngine } from '../../../engine/index.js';
import { loadAdapter } from '../../../lora/io.js';
import { DIHEDRAL_TRANSFORMS, solveByVote, solveTasks } from '../../../seal/domains/grids-model.js';
import { gridToText } from '../../../tasks/grids/grid.js';
import { type Recipe, turnedBack, turnedTask } from '../../../tasks/grids/recipe.js';
import type { Command } from '../args.js';
import { BackendOption, log } from './common.js';
import {
  checkTaskFits,
  GridTaskOptions,
  loadGridModel,
  loadGridTaskArg,
  readAdapterRecipe,
  resolveGridModelDir,
} from './grids-common.js';

const schema = z.object({
  ...GridTaskOptions,
  adapter: z
    .string()
    .optional()
    .describe(
      'PEFT adapter from `seal adapt --domain grids` (default: the base model alone, in context); a turned recipe in its recipe.json is applied (the task turned, the answer turned back)',
    ),
  vote: z
    .boolean()
    .default(false)
    .describe(
      'Solve the task under the 8 symmetries of the square and print the majority answer (mapped back)',
    ),
  json: z.boolean().default(false).describe('Print {task, predictions: [{text, correct?}]} as JSON'),
  backend: BackendOption,
});

export const solveCommand: Command<typeof schema> = {
  name: 'solve',
  summary:
    'Solve a grid task in context (optionally with a test-time-trained adapter); prints the predicted grid.',
  schema,
  examples: [
    'seal solve --model runs/pretrain-grids/model --task task.json',
    'seal solve --model runs/pretrain-grids/model --task task.json --adapter adapters/task',
  ],
  async run(o) {
    const task = await loadGridTaskArg(o);
    const modelDir = resolveGridModelDir(o.model);
    await initEngine(o.backend);
    const { model, tok } = await loadGridModel(modelDir);
    checkTaskFits(task, model, tok, o.task);
    const adapter = o.adapter === undefined ? undefined : await loadAdapter(o.adapter, model);
    const deltas = adapter === undefined ? [] : [adapter];
    // An adapter trained under a turned recipe answers the turned task; its answers are turned back.
    const recipe: Pick<Recipe, 'turn'> =
      (o.adapter === undefined ? undefined : readAdapterRecipe(o.adapter)) ?? {};
    if ((recipe.turn ?? 0) !== 0)
      log(`the adapter's recipe turns the task by ${recipe.turn}°: solved turned, the answer turned back`);
    const posed = turnedTask(task, recipe);
    const back = turnedBack(recipe);
    const answers = (
      o.vote
        ? solveByVote(model, tok, posed, DIHEDRAL_TRANSFORMS, deltas).map((v) => {
            log(`vote: ${v.votes} of ${v.valid} parsed answers (of ${DIHEDRAL_TRANSFORMS.length})`);
            return { prediction: v.grid === null ? '' : gridToText(v.grid), score: v.score };
          })
        : (solveTasks(model, tok, [posed], deltas)[0]?.answers ?? [])
    ).map((a) => ({ prediction: back(a.prediction), score: a.score }));
    const known = task.test.map((t) => t.output !== undefined);
    if (o.json) {
      const predictions = answers.map((a, i) => ({
        text: a.prediction,
        ...(known[i] === true ? { correct: a.score === 1 } : {}),
      }));
      process.stdout.write(`${JSON.stringify({ task: task.id, predictions }, null, 2)}\n`);
    } else {
      answers.forEach((a, i) => {
        if (answers.length > 1) process.stdout.write(`test ${i + 1}\n`);
        process.stdout.write(`${a.prediction}\n${i < answers.length - 1 ? '\n' : ''}`);
      });
    }
    answers.forEach((a, i) => {
      if (known[i] === true) log(`test ${i + 1}: ${a.score === 1 ? 'correct' : 'wrong'} (exact grid match)`);
    });
    adapter?.dispose();
    model.dispose();
  },
};
