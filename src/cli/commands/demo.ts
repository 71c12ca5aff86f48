import { z } from 'zod';
import { assetPath } from '../../assets.js';
import { initEngine } from '../../engine/index.js';
import { generate } from '../../model/generate.js';
import { loadModel } from '../../model/io/load.js';
import { loadTokenizer } from '../../tokenizer/load.js';
import type { Command } from '../args.js';
import { BackendOption, log } from './common.js';

const schema = z.object({
  prompt: z.string().default('Once upon a time').describe('Prompt for the bundled story model'),
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
    log(`engine: tfjs ${e.tfjsVersion} on ${e.backend}`);
    const { model } = await loadModel(assetPath('models/stories260K/stories260K.bin'));
    const tok = loadTokenizer(assetPath('models/stories260K/tok512.bin'), {
      vocabSize: model.config.vocabSize,
    });
    const prompt = tok.encode(o.prompt, { addBos: true });
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
