/**
 * Autoregressive generation for a batch of prompts, with or without the KV cache. Prompts of different lengths
 * are left-padded: padding keys are masked and positions restart at 0 after each row's padding, so every row
 * decodes exactly as it would alone.
 */
import { type Tensor2D, tf } from '../engine/tf.js';
import type { Tokenizer } from '../tokenizer/types.js';
import { Rng } from '../util/rng.js';
import { KVCache } from './kv-cache.js';
import type { LinearDelta } from './linear.js';
import type { Transformer } from './model.js';
import { type SamplingOptions, sampleToken } from './sampling.js';

export interface GenerateOptions extends SamplingOptions {
  readonly maxNewTokens: number;
  /** Seed for sampling (ignored when `rng` is given or temperature is 0). */
  readonly seed?: number;
  readonly rng?: Rng;
  /** Stop when this id is produced (it is not included in the output). Default: the model config's eosId. */
  readonly eosId?: number | undefined;
  /** Stop strings; needs `tokenizer`. The returned text is cut before the stop string. */
  readonly stop?: readonly string[];
  readonly tokenizer?: Tokenizer;
  /** Default true. Without the cache every step re-runs the whole sequence (for testing and reference). */
  readonly useCache?: boolean;
  readonly deltas?: readonly LinearDelta[];
  /** Called after each step with the row index and new token. */
  readonly onToken?: (row: number, token: number) => void;
}

export type FinishReason = 'eos' | 'stop' | 'length';

export interface GenerateResult {
  /** New tokens per row (EOS excluded). */
  readonly tokens: number[][];
  readonly finish: FinishReason[];
  /** Decoded new text per row (only with a tokenizer), cut at a stop string. */
  readonly text?: string[];
}

export function generate(
  model: Transformer,
  prompts: readonly (readonly number[])[],
  opts: GenerateOptions,
): GenerateResult {
  const b = prompts.length;
  if (b === 0) return { tokens: [], finish: [] };
  if (prompts.some((p) => p.length === 0))
    throw new Error('generate: every prompt needs at least one token (e.g. BOS)');
  if ((opts.stop?.length ?? 0) > 0 && opts.tokenizer === undefined)
    throw new Error('generate: stop strings need a tokenizer');
  const rng = opts.rng ?? new Rng(opts.seed ?? 0);
  const eos = opts.eosId ?? model.config.eosId;
  const useCache = opts.useCache ?? true;
  const maxLen = Math.max(...prompts.map((p) => p.length));
  const pads = prompts.map((p) => maxLen - p.length);
  const seqs = prompts.map((p, r) => [...new Array<number>(pads[r] as number).fill(0), ...p]);
  const keyMask = prompts.map((_, r) => seqs[r]!.map((_, i) => (i < (pads[r] as number) ? 0 : 1)));
  const tokens: number[][] = prompts.map(() => []);
  const finish: (FinishReason | undefined)[] = prompts.map(() => undefined);
  const text: string[] = prompts.map(() => '');
  const budget = Math.min(opts.maxNewTokens, model.config.maxSeqLen - maxLen);
  const cache = useCache ? new KVCache(model.config.nLayers) : undefined;
  const pos = (r: number, i: number) => Math.max(0, i - (pads[r] as number));
  try {
    for (let step = 0; step < budget && finish.some((f) => f === undefined); step++) {
      const len = seqs[0]!.length;
      const start = cache !== undefined && step > 0 ? len - 1 : 0;
      const logits = tf.tidy(() => {
        const ids = tf.tensor2d(
          seqs.flatMap((s) => s.slice(start)),
          [b, len - start],
          'int32',
        ) as Tensor2D;
        const positions = seqs.map((_, r) =>
          Array.from({ length: len - start }, (_, i) => pos(r, start + i)),
        );
        return model.forward(ids, {
          ...(cache === undefined ? {} : { cache }),
          positions,
          keyMask,
          ...(opts.deltas === undefined ? {} : { deltas: opts.deltas }),
          lastOnly: true,
        });
      });
      const data = logits.dataSync() as Float32Array;
      logits.dispose();
      const v = model.config.vocabSize;
      for (let r = 0; r < b; r++) {
        let next = 0;
        if (finish[r] === undefined) {
          next = sampleToken(data.subarray(r * v, (r + 1) * v), opts, rng);
          if (next === eos) finish[r] = 'eos';
          else {
            tokens[r]!.push(next);
            opts.onToken?.(r, next);
            if (opts.tokenizer !== undefined && (opts.stop?.length ?? 0) > 0) {
              const t = opts.tokenizer.decode(tokens[r]!);
              const hit = firstStop(t, opts.stop ?? []);
              if (hit !== undefined) {
                text[r] = t.slice(0, hit);
                finish[r] = 'stop';
              }
            }
          }
        }
        seqs[r]!.push(next);
        keyMask[r]!.push(1);
      }
    }
  } finally {
    cache?.dispose();
  }
  const done = finish.map((f) => f ?? 'length');
  if (opts.tokenizer === undefined) return { tokens, finish: done };
  const tok = opts.tokenizer;
  return {
    tokens,
    finish: done,
    text: tokens.map((t, r) => (done[r] === 'stop' ? (text[r] as string) : tok.decode(t))),
  };
}

function firstStop(text: string, stops: readonly string[]): number | undefined {
  let best: number | undefined;
  for (const s of stops) {
    const i = text.indexOf(s);
    if (i >= 0 && (best === undefined || i < best)) best = i;
  }
  return best;
}
