/**
 * The direct (MEND-style) gradient: backpropagate the differentiable −CE reward, the edit-magnitude penalty and the
 * locality term (cross-entropy to the base's own answers on other people's questions, or the KL to the base's
 * distribution there) through the generated edit
 * into the encoder, decoder and fast-weight maps; no sampling. Also what every optimiser reads of a context,
 * prepared once before training.
 */
import type { z } from 'zod';
import { type Tensor, type Tensor2D, tf, type Variable } from '../../engine/tf.js';
import { type LinearDelta, RowGroupedDelta, SummedDelta } from '../../model/linear.js';
import type { Context } from '../../tasks/types.js';
import { type Batch, stackBatches, weightSum } from '../../train/data.js';
import { AdamW, clipByGlobalNorm } from '../../train/optimizer.js';
import { lmLoss } from '../../train/step.js';
import { Progress } from '../../util/progress.js';
import { Rng } from '../../util/rng.js';
import type { DeltaDirectSchema, DeltaTrainConfig, DeltaTrainLog } from './config.js';
import { editText, readContext } from './embedding.js';
import type { EditGenerator } from './generator.js';
import { answerBatch, baseTargets, localityKl, type RewardEnv, textBatch } from './reward.js';

export interface Prepared {
  readonly context: Context;
  readonly embedding: Float32Array;
  /** (T, C), disposed by `trainEditGenerator` when training ends. */
  readonly hidden: Tensor2D;
  readonly answers: Batch;
}

/** What the generator reads of each context, and its answer batch: computed once, before training. */
export function prepareContexts(
  env: RewardEnv,
  gen: EditGenerator,
  contexts: readonly Context[],
): Prepared[] {
  return contexts.map((c) => ({
    context: c,
    ...readContext(env.model, env.tok, editText(c), gen.layer),
    answers: answerBatch(env, c),
  }));
}

/** The scale that makes a batch's weights sum to 1 (each context counts once, however many answer tokens). */
const perContext = (b: Batch) => 1 / (weightSum(b) || 1);

export type DirectConfig = z.infer<typeof DeltaDirectSchema>;

/** MEND-style meta-learning: backpropagate −CE (and the edit penalty) through the generated edit. */
export function directGradient(
  env: RewardEnv,
  gen: EditGenerator,
  items: readonly Prepared[],
  o: DirectConfig,
  cfg: DeltaTrainConfig,
  logs: DeltaTrainLog[],
  opts: {
    readonly quiet?: boolean;
    readonly locality?: readonly Context[];
    readonly onLog?: (l: DeltaTrainLog) => void;
  },
): void {
  const vars = new Map<string, Variable>();
  switch (o.learn) {
    case 'all':
      gen.encoderVariables().forEach((v, i) => {
        vars.set(`encoder.${i}`, v);
      });
      if (o.trainDecoder)
        gen.decoderVariables().forEach((v, i) => {
          vars.set(`decoder.${i}`, v);
        });
      gen.fastVariables().forEach((v, i) => {
        vars.set(`fast.${i}`, v);
      });
      break;
    case 'gate': {
      const gate = gen.gate;
      if (gate === undefined)
        throw new Error('the direct gradient with learn "gate" needs generator.fastGate');
      vars.set('gate.g', gate.g);
      vars.set('gate.b', gate.b);
      break;
    }
    default: {
      const never: never = o.learn;
      throw new Error(`unknown direct learn ${JSON.stringify(never)}`);
    }
  }
  const names = [...vars.keys()];
  const list = names.map((n) => vars.get(n)!);
  const opt = new AdamW(vars);
  const rng = new Rng(cfg.seed + 3);
  // The people whose answers each edit must keep: `locality` (people the model knows) or, without it, the other
  // training contexts.
  const pool = opts.locality ?? items.map((it) => it.context);
  // Hard: the base's greedy answers as targets; soft: the answer batches as they are (the KL reads the base itself).
  const locked =
    o.neighbourKl > 0
      ? pool.map((c, i) => {
          const b = opts.locality === undefined ? items[i]!.answers : answerBatch(env, c);
          return o.localityLoss === 'hard' ? baseTargets(env, b) : b;
        })
      : [];
  const passages = new Map<Prepared, Batch>();
  const passageText = (it: Prepared) => {
    let b = passages.get(it);
    if (b === undefined) {
      b = textBatch(env, [editText(it.context)], 96);
      passages.set(it, b);
    }
    return b;
  };
  const progress = new Progress({
    total: o.steps,
    label: 'delta direct',
    ...(opts.quiet === undefined ? {} : { quiet: opts.quiet }),
  });
  for (let step = 1; step <= o.steps; step++) {
    const chosen = Array.from({ length: o.batchContexts }, () => items[rng.int(items.length)]!);
    // Stacked training: consecutive groups of `size` drawn contexts share one summed edit (drawn only when on, so
    // runs without it keep their random stream).
    const size = o.stackTrain > 1 ? Math.min(chosen.length, 2 ** rng.int(Math.log2(o.stackTrain) + 1)) : 1;
    const groupOf = (j: number) => Math.floor(j / size);
    const members = (j: number) => chosen.filter((_, i) => groupOf(i) === groupOf(j));
    // Each edit's locality is checked on the questions of `neighboursPerEdit` other (random) people: pairs
    // (edit j, person p).
    const neighbours = chosen.map(() =>
      Array.from({ length: o.neighboursPerEdit }, () => rng.int(pool.length)),
    );
    const pairs = chosen.flatMap((_, j) =>
      locked.length === 0
        ? []
        : neighbours[j]!.filter((p) => !members(j).some((m) => m.context === pool[p])).map((p) => ({ j, p })),
    );
    const edited = new Set(pairs.map((x) => x.j)).size;
    // The text term: edit j on the biography of the next drawn person (unless that is j's own passage).
    const texts =
      o.textKl > 0
        ? chosen.flatMap((it, j) => {
            const other = chosen[(j + 1) % chosen.length]!;
            return other.context === it.context || members(j).includes(other)
              ? []
              : [{ j, batch: passageText(other) }];
          })
        : [];
    let nllValue = 0;
    let magValue = 0;
    let locValue = 0;
    let textValue = 0;
    const { value, grads } = tf.variableGrads(() => {
      const single = chosen.map((it) =>
        gen.edit(gen.meanLatent(tf.tensor2d(it.embedding, [1, it.embedding.length]) as Tensor2D), it.hidden),
      );
      // Each context's edit as applied: its own, or its group's sum.
      const edits: LinearDelta[] =
        size === 1
          ? single
          : chosen.map((_, j) => new SummedDelta(single.filter((__, i) => groupOf(i) === groupOf(j))));
      // All the edits in one forward pass: their sequences stacked, each edit on its own rows. Each context's
      // weights sum to 1, so the loss is the mean over contexts of each context's mean cross-entropy.
      const own = stackBatches(chosen.map((it) => ({ batch: it.answers, scale: perContext(it.answers) })));
      const nll = lmLoss(env.model, own.batch, [new RowGroupedDelta(edits, own.rows)]);
      const mag = tf.div(tf.addN(single.map((e) => e.normSq())), single.length);
      nllValue = nll.dataSync()[0]!;
      magValue = mag.dataSync()[0]!;
      let loss = tf.add(tf.mul(nll, cfg.reward.nll), tf.mul(mag, cfg.reward.magnitude));
      if (pairs.length > 0) {
        // Each pair's weights sum to 1: the loss is the mean over pairs, weighted by the share of edits checked.
        const loc = stackBatches(
          pairs.map(({ p }) => {
            const b = locked[p]!;
            return { batch: b, scale: perContext(b) };
          }),
        );
        const grouped = [
          new RowGroupedDelta(
            pairs.map(({ j }) => edits[j]!),
            loc.rows,
          ),
        ];
        const kl =
          o.localityLoss === 'hard'
            ? lmLoss(env.model, loc.batch, grouped)
            : localityKl(env, loc.batch, grouped);
        locValue = kl.dataSync()[0]!;
        loss = tf.add(loss, tf.mul(kl, (o.neighbourKl * edited) / chosen.length));
      }
      if (texts.length > 0) {
        const text = stackBatches(texts.map(({ batch }) => ({ batch, scale: perContext(batch) })));
        const kl = localityKl(env, text.batch, [
          new RowGroupedDelta(
            texts.map(({ j }) => edits[j]!),
            text.rows,
          ),
        ]);
        textValue = kl.dataSync()[0]!;
        loss = tf.add(loss, tf.mul(kl, (o.textKl * texts.length) / chosen.length));
      }
      return loss as tf.Scalar;
    }, list);
    const acc = new Map<string, Tensor>();
    names.forEach((n, i) => {
      const g = grads[list[i]!.name];
      if (g !== undefined) acc.set(n, g);
    });
    clipByGlobalNorm(acc, o.maxGradNorm);
    opt.update(acc, o.learningRate * (o.warmupSteps > 0 ? Math.min(1, step / o.warmupSteps) : 1));
    for (const g of acc.values()) g.dispose();
    const l: DeltaTrainLog = {
      step,
      reward: -(value.dataSync()[0] as number),
      nll: nllValue,
      magnitude: magValue,
      locality: locValue,
      ...(texts.length > 0 ? { textKl: textValue } : {}),
    };
    value.dispose();
    logs.push(l);
    opts.onLog?.(l);
    progress.tick(1, `nll ${l.nll.toFixed(3)} loc ${(l.locality ?? 0).toFixed(3)}`);
  }
  progress.finish();
  opt.dispose();
}
