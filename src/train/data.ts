/**
 * Turning token sequences into training batches. A batch is flat (B·T) inputs, next-token targets and per-token
 * loss weights; weight 0 marks padding and tokens we do not train on (prompts, in completion-only training).
 */
import type { Rng } from '../util/rng.js';

export interface Batch {
  readonly b: number;
  readonly t: number;
  readonly ids: Int32Array; // (B·T)
  readonly targets: Int32Array; // (B·T)
  readonly weights: Float32Array; // (B·T)
}

/** A sequence and, optionally, which of its tokens are trained on as targets (1) or not (0). */
export interface Example {
  readonly ids: readonly number[];
  /** Per-token: 1 if the token is a training target. Default: every token after the first. */
  readonly targetMask?: readonly number[];
}

/** A prompt/completion pair as an Example that trains only on the completion (and the closing EOS if given). */
export function completionExample(prompt: readonly number[], completion: readonly number[]): Example {
  return {
    ids: [...prompt, ...completion],
    targetMask: [...prompt.map(() => 0), ...completion.map(() => 1)],
  };
}

/**
 * Right-pads examples to a common length (capped at `maxLen + 1` tokens, longer ones truncated) and shifts targets.
 * Position i predicts token i+1, weighted by that token's target mask.
 */
export function makeBatch(examples: readonly Example[], maxLen: number, padId = 0): Batch {
  const b = examples.length;
  const t = Math.max(1, Math.min(maxLen, Math.max(...examples.map((e) => e.ids.length - 1))));
  const ids = new Int32Array(b * t).fill(padId);
  const targets = new Int32Array(b * t).fill(padId);
  const weights = new Float32Array(b * t);
  examples.forEach((e, r) => {
    const n = Math.min(e.ids.length, t + 1);
    for (let i = 0; i < n - 1; i++) {
      ids[r * t + i] = e.ids[i] as number;
      targets[r * t + i] = e.ids[i + 1] as number;
      weights[r * t + i] = e.targetMask === undefined ? 1 : (e.targetMask[i + 1] ?? 0);
    }
  });
  return { b, t, ids, targets, weights };
}

/**
 * Concatenates documents (each followed by `sepId`) and cuts the stream into windows of `seqLen + 1` tokens — the
 * usual pretraining layout, no padding. The stream order is the document order given.
 */
export function packDocuments(
  docs: readonly (readonly number[])[],
  seqLen: number,
  sepId: number,
): Example[] {
  const stream: number[] = [];
  for (const d of docs) {
    for (const x of d) stream.push(x);
    stream.push(sepId);
  }
  const out: Example[] = [];
  for (let i = 0; i + seqLen + 1 <= stream.length; i += seqLen)
    out.push({ ids: stream.slice(i, i + seqLen + 1) });
  return out;
}

export interface AlignedPackingOptions {
  /** Padding token (target mask 0); default `sepId`. */
  readonly padId?: number;
  /** Documents that do not fit may be skipped over, up to this many, for later ones that do (0 = strictly in order). */
  readonly lookahead?: number;
  /**
   * Start every window with `sepId`, so each document follows a separator exactly as a prompt follows BOS at
   * inference (the separator doubles as BOS in our tokenizers). Default false.
   */
  readonly bos?: boolean;
  /** Shuffle the documents within each window (seeded), so short ones do not always sit at the end. */
  readonly rng?: Rng;
}

/**
 * Packs whole documents (each followed by `sepId`) into windows of `seqLen + 1` tokens without cutting any document
 * that fits in one window; the rest of a window is padding (target mask 0). A window is filled from the front of
 * the remaining documents in order, skipping over up to `lookahead` that do not fit for later ones that do (little
 * padding, order close to the one given). Documents longer than a window are cut into window-sized pieces. Use it
 * when a document's end depends on its start: a self-edit demonstration cut from its passage teaches the model to
 * recite instead of copy.
 */
export function packDocumentsAligned(
  docs: readonly (readonly number[])[],
  seqLen: number,
  sepId: number,
  opts: AlignedPackingOptions = {},
): Example[] {
  const padId = opts.padId ?? sepId;
  const lookahead = opts.lookahead ?? 64;
  const lead = opts.bos === true ? [sepId] : [];
  const width = seqLen + 1;
  const room = width - lead.length;
  const out: Example[] = [];
  const queue: number[][] = [];
  for (const d of docs) {
    const doc = [...d, sepId];
    for (let i = 0; i < doc.length; i += room) {
      const piece = doc.slice(i, i + room);
      if (piece.length === room) out.push({ ids: [...lead, ...piece] });
      else queue.push(piece);
    }
  }
  let head = 0;
  const used = new Uint8Array(queue.length);
  while (head < queue.length) {
    const chosen: number[][] = [];
    let len = 0;
    let skipped = 0;
    for (let j = head; j < queue.length && skipped <= lookahead; j++) {
      if (used[j] === 1) continue;
      if (len + queue[j]!.length > room) {
        skipped++;
        continue;
      }
      chosen.push(queue[j]!);
      len += queue[j]!.length;
      used[j] = 1;
      if (len === room) break;
    }
    while (head < queue.length && used[head] === 1) head++;
    if (opts.rng !== undefined) opts.rng.shuffle(chosen);
    const ids = [...lead, ...chosen.flat()];
    if (ids.length < 2) continue;
    const targetMask = ids.map((_, i) => (i === 0 ? 0 : 1));
    const n = ids.length;
    while (ids.length < width) {
      ids.push(padId);
      targetMask.push(0);
    }
    out.push(n === width ? { ids } : { ids, targetMask });
  }
  return out;
}

/** Seeded epochs of shuffled mini-batches; the last partial batch of an epoch is kept. */
export function* batches<T>(items: readonly T[], batchSize: number, rng: Rng): Generator<T[]> {
  if (items.length === 0) return;
  for (;;) {
    const order = rng.shuffle(items.map((_, i) => i));
    for (let i = 0; i < order.length; i += batchSize)
      yield order.slice(i, i + batchSize).map((j) => items[j] as T);
  }
}

/** Splits a batch's rows into `n` micro-batches (for gradient accumulation). */
export function splitBatch(batch: Batch, n: number): Batch[] {
  if (batch.b % n !== 0) throw new Error(`batch of ${batch.b} rows does not split into ${n} micro-batches`);
  const rows = batch.b / n;
  const size = rows * batch.t;
  return Array.from({ length: n }, (_, k) => ({
    b: rows,
    t: batch.t,
    ids: batch.ids.slice(k * size, (k + 1) * size),
    targets: batch.targets.slice(k * size, (k + 1) * size),
    weights: batch.weights.slice(k * size, (k + 1) * size),
  }));
}

/** Σ of a batch's loss weights (its token count when every target counts once). */
export function weightSum(batch: Batch): number {
  let s = 0;
  for (const w of batch.weights) s += w;
  return s;
}

/**
 * Stacks batches row-wise, padding each to the longest T; each batch's weights are multiplied by its `scale`.
 * Returns the batch and, per input batch, its number of (B·T) rows — the row groups of a `RowGroupedDelta`.
 */
export function stackBatches(
  parts: readonly { readonly batch: Batch; readonly scale: number }[],
  padId = 0,
): { batch: Batch; rows: number[] } {
  const t = Math.max(1, ...parts.map((p) => p.batch.t));
  const b = parts.reduce((s, p) => s + p.batch.b, 0);
  const ids = new Int32Array(b * t).fill(padId);
  const targets = new Int32Array(b * t).fill(padId);
  const weights = new Float32Array(b * t);
  let row = 0;
  for (const { batch: p, scale } of parts) {
    for (let r = 0; r < p.b; r++, row++) {
      ids.set(p.ids.subarray(r * p.t, (r + 1) * p.t), row * t);
      targets.set(p.targets.subarray(r * p.t, (r + 1) * p.t), row * t);
      for (let i = 0; i < p.t; i++) weights[row * t + i] = (p.weights[r * p.t + i] as number) * scale;
    }
  }
  return { batch: { b, t, ids, targets, weights }, rows: parts.map((p) => p.batch.b * t) };
}

/**
 * Packs documents that carry their own target masks (each ends with its separator, e.g. EOS, and has no leading
 * BOS) into windows of `seqLen + 1` tokens: every window starts with `sepId` (not a target, as BOS at inference;
 * the separator doubles as BOS), documents follow in the order given and one that does not fit starts the next
 * window, so no document is cut; the rest of a window is `sepId` padding with mask 0. A document longer than a
 * window is dropped and counted.
 */
export function packMaskedDocuments(
  docs: readonly Example[],
  seqLen: number,
  sepId: number,
): { examples: Example[]; dropped: number } {
  const width = seqLen + 1;
  const examples: Example[] = [];
  let ids: number[] = [sepId];
  let mask: number[] = [0];
  let dropped = 0;
  const flush = () => {
    if (ids.length < 2) return;
    while (ids.length < width) {
      ids.push(sepId);
      mask.push(0);
    }
    examples.push({ ids, targetMask: mask });
    ids = [sepId];
    mask = [0];
  };
  for (const d of docs) {
    if (d.ids.length + 1 > width) {
      dropped++;
      continue;
    }
    if (ids.length + d.ids.length > width) flush();
    d.ids.forEach((id, i) => {
      ids.push(id);
      mask.push(d.targetMask === undefined ? 1 : (d.targetMask[i] ?? 0));
    });
  }
  flush();
  return { examples, dropped };
}
