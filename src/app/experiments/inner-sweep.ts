/**
 * Inner-loop calibration on the people world: no-context accuracy on held-out people after an inner loop on
 * (a) the passage alone, (b) the passage + oracle QA restatements of every fact, (c) the passage + oracle
 * full-name sentences, (d) the passage + one self-edit sampled from the base model — over a grid of learning rates
 * and epochs. Prints JSON lines; the last line is a summary.
 *   node dist/app/experiments/inner-sweep.js --model DIR [--people 8] [--lrs 1e-3,3e-3] [--epochs 10,20]
 */
import { z } from 'zod';
import { initEngine } from '../../engine/index.js';
import { loadPeopleProblem } from '../../seal/domains/people.js';
import { InnerLoopConfigSchema, runInnerLoop } from '../../seal/inner/inner-loop.js';
import { sampleSelfEdits } from '../../seal/selfedit/generate.js';
import { selfEditSequences } from '../../seal/selfedit/parse.js';
import { ATTRIBUTES, bundledBiosData } from '../../tasks/people/data.js';
import { BIO_ORDER, bioSentence, QUESTION_TEMPLATES, qaText, question } from '../../tasks/people/text.js';
import { attributeValue } from '../../tasks/people/world.js';
import { schemaArgs } from './args.js';

const USAGE = `Inner-loop calibration: held-out accuracy after an inner loop on the passage, oracle QA, oracle sentences
or a sampled self-edit, over learning rates × epochs. Prints JSON lines, then a summary.
  node dist/app/experiments/inner-sweep.js --model DIR [--people 8] [--lrs 1e-3,3e-3] [--epochs 10,20]`;

/** A comma-separated list of positive numbers (integers when `int`). */
const numberList = (dflt: string, int: boolean, what: string) =>
  z
    .string()
    .default(dflt)
    .transform((text, ctx) => {
      const xs = text.split(',').map((x) => (x.trim() === '' ? Number.NaN : Number(x)));
      if (xs.some((x) => !(x > 0) || (int && !Number.isInteger(x))))
        ctx.issues.push({
          code: 'custom',
          input: text,
          message: `expected ${int ? 'integers' : 'numbers'} > 0 separated by commas, got ${text}`,
        });
      return xs;
    })
    .describe(what);

export const InnerSweepOptionsSchema = z.strictObject({
  model: z.string().describe('People model directory'),
  people: z.coerce.number().int().min(1).default(8).describe('People of the split measured'),
  lrs: numberList('1e-3,3e-3', false, 'Inner-loop learning rates, comma-separated'),
  epochs: numberList('10,20', true, 'Inner-loop epochs, comma-separated'),
  rank: z.coerce.number().int().min(1).default(16).describe('Inner-loop LoRA rank (alpha = 2 × rank)'),
  split: z
    .enum(['val', 'rl'])
    .default('val')
    .describe('The people measured: a calibration informs choices, so never the test split'),
});

export async function main(argv = process.argv.slice(2)): Promise<void> {
  const { options: values } = schemaArgs(argv, InnerSweepOptionsSchema, USAGE);
  await initEngine('auto');
  const pp = await loadPeopleProblem(values.model, 0);
  const contexts = (pp.task.splits[values.split] ?? []).slice(0, values.people);
  const byId = new Map(pp.world.people.map((p) => [p.id, p]));
  const templates = bundledBiosData().templates;
  const sampled = sampleSelfEdits(
    pp.problem.env.model,
    pp.problem.env.tok,
    contexts,
    (c) => pp.problem.domain.selfEditPrompt(c),
    {
      k: 1,
      temperature: 1,
      topP: 0.95,
      maxNewTokens: 160,
      seed: 1,
    },
  );
  const conditions: Record<string, (i: number) => string[]> = {
    passage: (i) => selfEditSequences('', contexts[i]!, { appendPassage: true }),
    oracle_qa: (i) => {
      const p = byId.get(contexts[i]!.id)!;
      const text = ATTRIBUTES.map((a) =>
        qaText(question(p, QUESTION_TEMPLATES[a]), attributeValue(p, a)),
      ).join('\n');
      return selfEditSequences(text, contexts[i]!, { appendPassage: true });
    },
    oracle_sentences: (i) => {
      const p = byId.get(contexts[i]!.id)!;
      const text = BIO_ORDER.map((a) => bioSentence(p, a, templates[a][0]!, p.fullName)).join('\n');
      return selfEditSequences(text, contexts[i]!, { appendPassage: true });
    },
    base_selfedit: (i) =>
      selfEditSequences(sampled[i]![0]!.completion, contexts[i]!, { appendPassage: true }),
  };
  const rows: Record<string, unknown>[] = [];
  for (const lr of values.lrs) {
    for (const epochs of values.epochs) {
      const cfg = InnerLoopConfigSchema.parse({
        lr,
        epochs,
        lora: { r: values.rank, alpha: 2 * values.rank },
      });
      for (const [name, seqs] of Object.entries(conditions)) {
        let acc = 0;
        let ms = 0;
        for (let i = 0; i < contexts.length; i++) {
          const r = runInnerLoop(pp.problem.env, contexts[i]!, seqs(i), cfg, i);
          acc += r.accuracy;
          ms += r.ms;
        }
        const row = {
          lr,
          epochs,
          condition: name,
          accuracy: acc / contexts.length,
          msPerInnerLoop: Math.round(ms / contexts.length),
        };
        rows.push(row);
        process.stdout.write(`${JSON.stringify(row)}\n`);
      }
    }
  }
  process.stdout.write(
    `${JSON.stringify({ samples: sampled.slice(0, 5).map((s, i) => ({ id: contexts[i]!.id, selfEdit: s[0]!.completion })) })}\n`,
  );
  process.stdout.write(`${JSON.stringify({ rows })}\n`);
}

await main();
