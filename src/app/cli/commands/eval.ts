import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { initEngine } from '../../../engine/index.js';
import { loraTargets } from '../../../lora/config.js';
import { loadAdapter } from '../../../lora/io.js';
import { loadPeopleProblem } from '../../../seal/domains/people.js';
import {
  type Condition,
  type ConditionResult,
  evaluateConditions,
  formatPaired,
  formatTable,
} from '../../../seal/eval/evaluate.js';
import { InnerLoopFlags, innerLoopConfig } from '../../../seal/inner/inner-loop.js';
import { ParseOptionsSchema } from '../../../seal/selfedit/parse.js';
import { PEOPLE_SELF_EDIT_STYLES } from '../../../tasks/people/selfedit.js';
import { checkOutputRoot } from '../../../util/fs.js';
import { RunDir, runName } from '../../../util/run-dir.js';
import { resolveModelDir } from '../../config.js';
import { baselineConditions, sealPairs } from '../../demo.js';
import { type Command, UsageError } from '../args.js';
import {
  BackendOption,
  innerExecutor,
  log,
  prepareQueue,
  QueueOption,
  QueueWaitOption,
  WorkersOption,
} from './common.js';

const schema = z.object({
  prompt: z
    .enum(PEOPLE_SELF_EDIT_STYLES)
    .default('self-qa')
    .describe(
      'Self-edit prompt of the generator (the static baseline samples the implications prompt twice, or self-QA when this is implications)',
    ),
  model: z.string().default('default').describe('People-world model directory ("default" = the bundled one)'),
  policyOnly: z
    .boolean()
    .default(false)
    .describe('Evaluate only the "seal" condition of --policy (skip the baselines)'),
  policy: z.string().optional().describe('Generator adapter from `seal train` (adds the "seal" condition)'),
  contexts: z.number().int().min(1).default(16).describe('Held-out people evaluated'),
  seeds: z.number().int().min(1).default(3).describe('Seeds per context'),
  ...InnerLoopFlags,
  temperature: z.number().min(0).default(1).describe('Sampling temperature of every self-edit (0 = greedy)'),
  topP: z.number().gt(0).max(1).default(0.95).describe('Nucleus (top-p) mass of self-edit sampling'),
  out: z.string().default('runs').describe('Parent directory of the run directory'),
  json: z.boolean().default(false).describe('Print the results as JSON instead of a table'),
  workers: WorkersOption,
  queue: QueueOption,
  queueWait: QueueWaitOption,
  backend: BackendOption,
});

export const evalCommand: Command<typeof schema> = {
  name: 'eval',
  summary:
    'Held-out table: base / passage / passage + base self-edits / static augmentation [/ SEAL], mean ± 95% CI.',
  schema,
  examples: [
    'seal eval --policy runs/people-rest-em-0-…/checkpoints/round-002/policy --contexts 16 --seeds 3',
  ],
  async run(o) {
    if (o.policyOnly && o.policy === undefined)
      throw new UsageError('--policy-only evaluates the policy of --policy ADAPTER: pass one');
    checkOutputRoot(o.out);
    prepareQueue(o.workers, o.queue);
    await initEngine(o.backend);
    const modelDir = resolveModelDir(o.model);
    // Inputs first (model, world, policy), the run directory last: a bad input leaves nothing behind.
    const pp = await loadPeopleProblem(modelDir, 0, o.prompt);
    const available = pp.task.splits['eval'] ?? [];
    if (o.contexts > available.length)
      throw new UsageError(
        `--contexts ${o.contexts}: the model's world has ${available.length} held-out people; pass at most ${available.length}`,
      );
    const contexts = available.slice(0, o.contexts);
    const inner = innerLoopConfig(o);
    loraTargets(pp.problem.env.model.config, inner.lora, '--rank');
    const conditions: Condition[] = o.policyOnly ? [] : baselineConditions(pp);
    if (o.policy !== undefined)
      conditions.push({
        kind: 'selfedit',
        name: 'seal',
        policy: await loadAdapter(o.policy, pp.problem.env.model),
      });
    const pool = await innerExecutor(modelDir, pp.problem.env, o.workers, o.queue, o.queueWait);
    const problem = pool === undefined ? pp.problem : { ...pp.problem, executor: pool };
    const run = RunDir.create(o.out, runName('people', 'eval', 0), o);
    const seeds = Array.from({ length: o.seeds }, (_, i) => i);
    const settings = {
      seeds,
      inner,
      parse: ParseOptionsSchema.parse({}),
      temperature: o.temperature,
      topP: o.topP,
      maxNewTokens: 160,
    };
    let results: Record<string, ConditionResult>;
    try {
      results = await evaluateConditions(problem, contexts, conditions, settings, run);
      // The length-matched baseline: base self-edits concatenated to SEAL's mean self-edit length, measured on the
      // samples of SEAL's row.
      const targetTokens = o.policyOnly ? undefined : results['seal']?.selfEditTokens;
      if (targetTokens !== undefined) {
        log(`length-matched base self-edits: ${targetTokens.toFixed(0)} tokens per context`);
        const matched: Condition = { kind: 'matched', name: 'base_selfedits_matched', targetTokens };
        Object.assign(results, await evaluateConditions(problem, contexts, [matched], settings, run));
      }
    } finally {
      await pool?.close();
    }
    const paired = sealPairs(results, 'seen');
    const pairedHeldOut = sealPairs(results, 'heldOut');
    run.writeJson('eval.json', { results, paired, pairedHeldOut });
    const pairs = (title: string, p: typeof paired) =>
      Object.keys(p).length > 0 ? `\n\npaired over people (${title}):\n${formatPaired(p)}` : '';
    const table = `${formatTable(results)}${pairs('seen wordings', paired)}${pairs('held-out wordings', pairedHeldOut)}`;
    writeFileSync(join(run.dir, 'table.txt'), `${table}\n`);
    process.stdout.write(
      o.json ? `${JSON.stringify({ results, paired, pairedHeldOut }, null, 2)}\n` : `${table}\n`,
    );
    log(`results in ${run.dir}`);
  },
};
