import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { assetPath } from '../../assets.js';
import { initEngine } from '../../engine/index.js';
import { generate } from '../../model/generate.js';
import { loadModel } from '../../model/io/load.js';
import { DemoConfigSchema, runDemo } from '../../outer/demo.js';
import { formatTable } from '../../outer/evaluate.js';
import { buildReport } from '../../report/html.js';
import { RunDir, runName } from '../../report/run.js';
import { loadPeopleProblem } from '../../tasks/people/seal.js';
import { loadTokenizer } from '../../tokenizer/load.js';
import type { Command } from '../args.js';
import { BackendOption, log } from './common.js';
import { resolveModelDir } from './train.js';

const schema = z.object({
  model: z
    .string()
    .default('default')
    .describe('People-world model directory from `seal pretrain` ("default" = the bundled one)'),
  quick: z.boolean().default(false).describe('Tiny budget (a minute or two): 1 round, few contexts, 1 seed'),
  rounds: z.number().int().min(1).optional().describe('ReST-EM rounds (default 2)'),
  contexts: z.number().int().min(1).optional().describe('Held-out people in the results table (default 16)'),
  out: z.string().default('runs').describe('Parent directory of the run directory'),
  storyPrompt: z
    .string()
    .default('Once upon a time')
    .describe('Prompt for the story demo (when no people-world model is present)'),
  maxNewTokens: z.number().int().min(1).default(120).describe('Tokens to generate per sample'),
  samples: z.number().int().min(1).default(3).describe('Number of sampled continuations (one batch)'),
  temperature: z.number().min(0).default(0.8).describe('Sampling temperature'),
  seed: z.number().int().min(0).default(1).describe('Sampling seed'),
  backend: BackendOption,
});

/**
 * The main job. Until the SEAL loop lands (issues 5–7) it demonstrates the engine: the bundled stories260K model
 * writes a few stories in one batch, greedy and sampled, with the measured speed.
 */
export const demoCommand: Command<typeof schema> = {
  name: 'demo',
  summary: 'Run the built-in demo (no downloads): the bundled stories260K model writes stories.',
  schema,
  async run(o) {
    const e = await initEngine(o.backend);
    log(`engine: tfjs ${e.tfjsVersion} on ${e.backend}${e.native.available ? ' + native' : ''}`);
    const modelDir = resolveModelDir(o.model);
    if (existsSync(join(modelDir, 'seal_world.json'))) {
      const base = DemoConfigSchema.parse({});
      const cfg = DemoConfigSchema.parse({
        ...base,
        ...(o.quick
          ? {
              rounds: 1,
              rlContexts: 2,
              samples: 2,
              evalContexts: 2,
              seeds: 1,
              innerEpochs: 5,
              maxNewTokens: 96,
            }
          : {}),
        ...(o.rounds === undefined ? {} : { rounds: o.rounds }),
        ...(o.contexts === undefined ? {} : { evalContexts: o.contexts }),
        seed: o.seed,
      });
      const run = RunDir.create(o.out, runName('people', 'demo', cfg.seed), { demo: cfg, model: modelDir });
      log(`run directory: ${run.dir}`);
      const pp = await loadPeopleProblem(modelDir, 8);
      const summary = await runDemo(pp, o.model, cfg, run, { log });
      process.stdout.write(
        `${formatTable(Object.fromEntries(Object.entries(summary.results).map(([k, r]) => [k, r])))}\n`,
      );
      writeFileSync(join(run.dir, 'report.html'), buildReport(run.dir));
      log(
        `done in ${summary.elapsed_s.toFixed(0)} s — ${join(run.dir, 'summary.json')}, ${join(run.dir, 'report.html')}`,
      );
      return;
    }
    log(`no people-world model at ${modelDir}: running the story demo instead`);
    const { model } = await loadModel(assetPath('models/stories260K/stories260K.bin'));
    const tok = loadTokenizer(assetPath('models/stories260K/tok512.bin'), {
      vocabSize: model.config.vocabSize,
    });
    const prompt = tok.encode(o.storyPrompt, { addBos: true });
    const show = (title: string, ids: number[]) => {
      const full = tok.decode([...prompt, ...ids]);
      process.stdout.write(`\n--- ${title} ---\n${full}\n`);
    };
    let t0 = performance.now();
    const greedy = generate(model, [prompt], { maxNewTokens: o.maxNewTokens, temperature: 0 });
    let s = (performance.now() - t0) / 1000;
    show(
      `greedy (${greedy.tokens[0]!.length} tokens, ${(greedy.tokens[0]!.length / s).toFixed(0)} tok/s)`,
      greedy.tokens[0]!,
    );
    t0 = performance.now();
    const batch = Array.from({ length: o.samples }, () => prompt);
    const sampled = generate(model, batch, {
      maxNewTokens: o.maxNewTokens,
      temperature: o.temperature,
      topP: 0.95,
      seed: o.seed,
    });
    s = (performance.now() - t0) / 1000;
    const n = sampled.tokens.reduce((a, t) => a + t.length, 0);
    for (const [i, t] of sampled.tokens.entries())
      show(`sample ${i + 1} (T=${o.temperature}, top-p 0.95, seed ${o.seed})`, t);
    log(`\n${o.samples} samples, ${n} tokens in ${s.toFixed(2)} s (${(n / s).toFixed(0)} tok/s, batched)`);
  },
};
