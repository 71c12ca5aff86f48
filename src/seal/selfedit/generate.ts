/**
 * Sampling self-edits: k completions per context from the generator (the base model, plus the policy adapter the
 * outer loop trains), with SEAL's defaults T = 1.0, top-p 0.95. Self-edits always come from sampling the model.
 */

import { type FinishReason, generate } from '../../model/generate.js';
import type { LinearDelta } from '../../model/linear.js';
import type { Transformer } from '../../model/model.js';
import type { Context } from '../../tasks/types.js';
import type { Tokenizer } from '../../tokenizer/types.js';
import { Rng } from '../../util/rng.js';

export interface SampleOptions {
  readonly k: number;
  readonly temperature: number;
  readonly topP: number;
  readonly maxNewTokens: number;
  readonly seed: number;
  readonly deltas?: readonly LinearDelta[];
  /** Prompts per generate() call (rows of one batch). */
  readonly batchSize?: number;
}

export interface SampledSelfEdit {
  readonly contextId: string;
  readonly sample: number;
  readonly prompt: string;
  readonly completion: string;
  readonly tokens: number;
  /** The sampled token ids (EOS excluded) and why sampling stopped: what a policy gradient is taken on. */
  readonly ids: readonly number[];
  readonly finish: FinishReason;
}

export function sampleSelfEdits(
  model: Transformer,
  tok: Tokenizer,
  contexts: readonly Context[],
  prompt: (c: Context) => string,
  opts: SampleOptions,
): SampledSelfEdit[][] {
  const jobs = contexts.flatMap((c) => Array.from({ length: opts.k }, (_, s) => ({ c, s, p: prompt(c) })));
  const out: SampledSelfEdit[][] = contexts.map(() => []);
  const index = new Map(contexts.map((c, i) => [c.id, i]));
  const rng = new Rng(opts.seed);
  const bs = opts.batchSize ?? 16;
  for (let i = 0; i < jobs.length; i += bs) {
    const chunk = jobs.slice(i, i + bs);
    const r = generate(
      model,
      chunk.map((j) => tok.encode(j.p, { addBos: true })),
      {
        maxNewTokens: opts.maxNewTokens,
        temperature: opts.temperature,
        topP: opts.topP,
        rng: rng.fork(i),
        tokenizer: tok,
        ...(opts.deltas === undefined ? {} : { deltas: opts.deltas }),
      },
    );
    chunk.forEach((j, n) => {
      out[index.get(j.c.id) as number]!.push({
        contextId: j.c.id,
        sample: j.s,
        prompt: j.p,
        completion: r.text?.[n] ?? '',
        tokens: r.tokens[n]?.length ?? 0,
        ids: r.tokens[n] ?? [],
        finish: r.finish[n] ?? 'length',
      });
    });
  }
  return out;
}
