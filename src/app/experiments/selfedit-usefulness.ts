/**
 * How useful are the base model's own self-edits? For held-out people: k sampled self-edits per passage, each
 * scored by (a) the fraction of the person's six facts it restates (string match) and (b) the no-context accuracy
 * after an inner loop on it (+ the passage). Prints JSON lines, then a summary line.
 *   node dist/app/experiments/selfedit-usefulness.js --model DIR [--people 5] [--k 4] [--policy ADAPTER]
 */
import { z } from 'zod';
import { assetPath } from '../../assets.js';
import { initEngine } from '../../engine/index.js';
import { loadAdapter } from '../../lora/io.js';
import { loadPeopleProblem } from '../../seal/domains/people.js';
import { meanCi } from '../../seal/eval/stats.js';
import { InnerLoopConfigSchema, runInnerLoop } from '../../seal/inner/inner-loop.js';
import { sampleSelfEdits } from '../../seal/selfedit/generate.js';
import { selfEditSequences } from '../../seal/selfedit/parse.js';
import { PEOPLE_SELF_EDIT_STYLES } from '../../tasks/people/selfedit.js';
import { schemaArgs } from './args.js';

const USAGE = `How useful are the model's own self-edits: facts restated and accuracy after an inner loop, per sample.
  node dist/app/experiments/selfedit-usefulness.js [--model DIR] [--people 5] [--k 4] [--policy ADAPTER]`;

export const UsefulnessOptionsSchema = z.strictObject({
  model: z.string().default(assetPath('models/people-default')).describe('People model directory'),
  people: z.coerce.number().int().min(1).default(5).describe('Validation people sampled'),
  k: z.coerce.number().int().min(1).default(4).describe('Self-edits sampled per person'),
  policy: z
    .string()
    .optional()
    .describe("A PEFT adapter of self-edit policy to sample with (the base model's when omitted)"),
  seed: z.coerce.number().int().min(0).default(1).describe('Sampling seed'),
  style: z.enum(PEOPLE_SELF_EDIT_STYLES).default('self-qa').describe('The self-edit prompt'),
});

export async function main(argv = process.argv.slice(2)): Promise<void> {
  const { options: values } = schemaArgs(argv, UsefulnessOptionsSchema, USAGE);
  await initEngine('auto');
  const pp = await loadPeopleProblem(values.model, 0, values.style);
  // A diagnostic that informs choices: validation people, never the test split.
  const contexts = (pp.task.splits['val'] ?? []).slice(0, values.people);
  const policy =
    values.policy === undefined ? undefined : await loadAdapter(values.policy, pp.problem.env.model);
  const edits = sampleSelfEdits(
    pp.problem.env.model,
    pp.problem.env.tok,
    contexts,
    (c) => pp.problem.domain.selfEditPrompt(c),
    {
      k: values.k,
      temperature: 1,
      topP: 0.95,
      maxNewTokens: 160,
      seed: values.seed,
      ...(policy === undefined ? {} : { deltas: [policy] }),
    },
  );
  const cfg = InnerLoopConfigSchema.parse({});
  const rewards: number[] = [];
  const restated: number[] = [];
  for (const [ci, c] of contexts.entries()) {
    for (const e of edits[ci]!) {
      const facts =
        c.questions.filter((q) => q.answers.some((a) => e.completion.includes(a))).length /
        c.questions.length;
      const r = runInnerLoop(
        pp.problem.env,
        c,
        selfEditSequences(e.completion, c, { appendPassage: true }),
        cfg,
        ci * 100 + e.sample,
      );
      rewards.push(r.accuracy);
      restated.push(facts);
      process.stdout.write(
        `${JSON.stringify({ context: c.id, sample: e.sample, factsRestated: facts, accuracy: r.accuracy, selfEdit: e.completion })}\n`,
      );
    }
  }
  const sd = (xs: number[]) =>
    Math.sqrt(xs.reduce((s, x) => s + (x - meanCi(xs).mean) ** 2, 0) / Math.max(1, xs.length - 1));
  process.stdout.write(
    `${JSON.stringify({ summary: { n: rewards.length, accuracy: meanCi(rewards), accuracySd: sd(rewards), factsRestated: meanCi(restated), factsRestatedSd: sd(restated), min: Math.min(...rewards), max: Math.max(...rewards) } })}\n`,
  );
}

await main();
