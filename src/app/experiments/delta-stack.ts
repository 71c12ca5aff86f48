/**
 * Stacked edits of a saved edit generator under several composition rules (issue #18): the edits of 1, 2, 4, 8, 16
 * people applied together, each member's edit success, retention on known people and drawdown on held-out text, for
 *   sum        the n generated deltas summed (what delta-mode's --stack measures)
 *   routed     the n edits side by side, each input answered under the one whose scope it falls in (route.ts)
 *   lsq@μ      their least-squares composition (seal/delta/compose.ts) with ordinary-input weight μ; C = E[x xᵀ]
 *              of each module's inputs over the texts key whitening reads (the train half of the known people:
 *              biographies and QA — never the measured half)
 * No training: the generator is loaded (`delta-mode --save DIR`). Rows go to DIR/results.jsonl as `delta-stack`
 * records (`npm run results DIR` rebuilds the table).
 *   node dist/app/experiments/delta-stack.js --generator DIR [--people 16] [--split val|test] [--mus 0,1|none]
 *     [--router-layer 0] [--out DIR]
 */
import { initEngine } from '../../engine/index.js';
import { together } from '../../seal/delta/apply.js';
import { composeLeastSquares } from '../../seal/delta/compose.js';
import { editText } from '../../seal/delta/embedding.js';
import { loadEditGenerator } from '../../seal/delta/io.js';
import {
  ROUTER_BACKGROUND_PEOPLE,
  ROUTER_LAYER,
  routerBackground,
  ScopeRouter,
} from '../../seal/delta/route.js';
import { editMeasures } from '../../seal/delta/run.js';
import {
  evaluateStacks,
  generatedStack,
  STACK_SIZES,
  type StackCondition,
  summariseStacks,
} from '../../seal/delta/stack.js';
import { editFor } from '../../seal/delta/train.js';
import { inputSecondMoments } from '../../seal/delta/whitening.js';
import { knownPeople, loadPeopleProblem, rlContexts } from '../../seal/domains/people.js';
import { resolveModelDir } from '../config.js';
import { experimentArgs, experimentRunDir } from './args.js';

const USAGE = `Stacked edits of a saved edit generator: summed, routed by scope, and the least-squares composition (issue #18).
  node dist/app/experiments/delta-stack.js --generator DIR [--model default] [--people 16] [--split val|test]
      [--mus 0,1 (ordinary-input weights of the least-squares composition; none: no such condition)] [--ridge 1e-4 (relative ridge ε)]
      [--router-layer 0 (the block whose states the scope router reads)]
      [--out DIR]`;

export async function main(argv = process.argv.slice(2)): Promise<void> {
  const { values } = experimentArgs(
    argv,
    {
      generator: { type: 'string' },
      model: { type: 'string', default: 'default' },
      people: { type: 'string', default: '16' },
      split: { type: 'string', default: 'val' },
      mus: { type: 'string', default: '0,1' },
      ridge: { type: 'string', default: '1e-4' },
      'router-layer': { type: 'string', default: String(ROUTER_LAYER) },
      out: { type: 'string' },
    },
    USAGE,
  );
  const usage = (m: string): never => {
    process.stderr.write(`${m}\n${USAGE}\n`);
    process.exit(2);
  };
  if (values.generator === undefined) usage('--generator DIR is required');
  if (values.split !== 'val' && values.split !== 'test') usage(`--split ${values.split}: val or test`);
  const mus = values.mus === 'none' ? [] : values.mus.split(',').map(Number);
  if (mus.some((m) => !(m >= 0))) usage(`--mus ${values.mus}: non-negative numbers`);
  if (!(Number(values.ridge) > 0)) usage(`--ridge ${values.ridge}: a positive number`);
  const routerLayer = Number(values['router-layer']);
  if (!Number.isInteger(routerLayer) || routerLayer < 0)
    usage(`--router-layer ${values['router-layer']}: a block index (0, 1, …)`);
  await initEngine('auto');
  const pp = await loadPeopleProblem(resolveModelDir(values.model), 0);
  const env = pp.problem.env;
  const gen = await loadEditGenerator(env.model, values.generator as string);
  const contexts = (pp.task.splits[values.split === 'test' ? 'eval' : 'val'] ?? []).slice(
    0,
    Number(values.people),
  );
  const measures = editMeasures(pp, 'known', []);
  const modules = [...gen.decoder.keys()];
  const texts = knownPeople(pp.world, 'train').flatMap((c) => [
    editText(c),
    ...c.questions.map((q) => `${env.task.answerPrompt(c, q)} ${q.answers[0] ?? ''}`),
  ]);
  const moments = inputSecondMoments(env.model, env.tok, texts, modules);
  const made = (group: readonly number[]) => group.map((i) => editFor(env, gen, editText(contexts[i]!)));
  const router = ScopeRouter.build(
    env.model,
    env.tok,
    routerBackground(env.task, rlContexts(pp.world, pp.task, ROUTER_BACKGROUND_PEOPLE)),
    routerLayer,
  );
  const conditions: StackCondition[] = [
    generatedStack(env, gen, contexts, 'sum', { kind: 'sum' }),
    generatedStack(env, gen, contexts, 'routed', { kind: 'routed', router }),
    ...mus.map(
      (mu): StackCondition => ({
        name: `lsq@${mu}`,
        make: (group) => {
          const t0 = performance.now();
          const m = made(group);
          const composed = composeLeastSquares(
            m.map((x) => x.edit),
            modules,
            { mu, moments, ridge: Number(values.ridge) },
          );
          for (const x of m) x.dispose();
          return {
            apply: together([composed]),
            dispose: () => composed.dispose(),
            ms: performance.now() - t0,
          };
        },
      }),
    ),
  ];
  const run = experimentRunDir(values.out, { experiment: 'delta-stack', values });
  const rows = evaluateStacks(env, contexts, conditions, {
    sizes: STACK_SIZES,
    known: measures.known,
    heldOutText: measures.heldOutText,
    onRow: (row) => {
      run?.append({ kind: 'delta-stack', optimizer: 'direct', ...row });
      process.stderr.write(
        `${row.condition} ×${row.size} group ${row.group}: ES ${((100 * row.members.reduce((s, x) => s + x.es, 0)) / row.members.length).toFixed(1)}, retention ${(100 * row.retention).toFixed(1)}\n`,
      );
    },
  });
  const summary = summariseStacks(rows);
  run?.writeJson('summary.json', { stack: summary });
  for (const x of summary)
    process.stdout.write(
      `${x.condition.padEnd(10)} ${String(x.size).padStart(3)}  ES ${(100 * x.es.mean).toFixed(1)}  retention ${(100 * x.retention.mean).toFixed(1)}  drawdown ${x.drawdown.mean.toFixed(3)}\n`,
    );
  router.dispose();
  gen.dispose();
  env.model.dispose();
}

await main();
