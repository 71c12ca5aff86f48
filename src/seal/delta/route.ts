/**
 * Routing stacked edits by scope (GRACE, Hartvigsen et al. 2023; MELO, Yu et al. 2024): n edits kept side by side,
 * each with a scope read from its passage, and every input answered under the one edit whose scope it falls in.
 * Summed generated edits do not stack (measured on val: 8 summed edits, 0% edit success), because whatever their
 * fast-weight keys share is written n times; routed, no input ever sees more than one edit.
 *
 * ## The score
 * Token states: the base's hidden states after block `layer`, RMS-normalised, centred on the background mean μ and
 * scaled to unit length. For a query q (T_q tokens), a scope K_i (the tokens of edit i's passage) and the background
 * B (the tokens of ordinary documents of the same world, none of them edited or measured):
 *
 *     s_i(q) = max_t [ max_{k ∈ K_i} q_t·k  −  max_{b ∈ B} q_t·b ]
 *
 * A query token counts toward scope i only as far as passage i explains it better than any ordinary document does:
 * template words ("was born in") are explained by the background as well as by any passage and count for nothing;
 * the tokens of the passage's own subject do not. The query goes to argmax_i s_i (ties: the lowest index).
 * Chosen on val (16 val people, `experiments/results/session15/delta/route-probe.mjs`): block 0, top-1 on the people's
 * own questions 100%, on held-out wordings 99.5%; the same without the background term 92%; pooled embeddings 46%.
 *
 * No threshold: a question about nobody edited still gets the nearest edit — what the single-edit table does to every
 * known person's question — so retention and drawdown under routing are the single edit's, whatever the stack size.
 */
import { type Tensor1D, type Tensor2D, tf } from '../../engine/tf.js';
import type { LinearDelta } from '../../model/linear.js';
import type { Transformer } from '../../model/model.js';
import type { Tokenizer } from '../../tokenizer/types.js';
import type { EditApplication } from './apply.js';
import { blockStates } from './embedding.js';

/** The block the router reads by default (chosen on val, see above). */
export const ROUTER_LAYER = 0;

export class ScopeRouter {
  private constructor(
    private readonly model: Transformer,
    readonly layer: number,
    /** (C) background mean of the RMS-normalised states. */
    private readonly mu: Tensor1D,
    /** (N, C) background token states, centred and unit length. */
    private readonly background: Tensor2D,
  ) {}

  /** A router over `background` documents (at least one; token states after block `layer`). */
  static build(
    model: Transformer,
    tok: Tokenizer,
    background: readonly string[],
    layer = ROUTER_LAYER,
  ): ScopeRouter {
    if (background.length === 0) throw new Error('ScopeRouter: needs at least one background document');
    const [mu, bg] = tf.tidy(() => {
      const rows = tf.concat(
        background.map((t) => rmsNormalised(blockStates(model, tok.encode(t, { addBos: true }), layer))),
        0,
      ) as Tensor2D; // (N, C)
      const mean = tf.mean(rows, 0) as Tensor1D; // (C)
      return [mean, unitRows(tf.sub(rows, mean) as Tensor2D)];
    });
    return new ScopeRouter(model, layer, mu, bg);
  }

  /** (T, C) centred unit token states of `ids`; owned by the caller. */
  states(ids: readonly number[]): Tensor2D {
    if (ids.length === 0) throw new Error('ScopeRouter: an empty input has no scope');
    return tf.tidy(() =>
      unitRows(tf.sub(rmsNormalised(blockStates(this.model, ids, this.layer)), this.mu) as Tensor2D),
    );
  }

  /** s_i(q) of the query `ids` for every scope (see the module comment). */
  scores(scopes: readonly Tensor2D[], ids: readonly number[]): number[] {
    if (scopes.length === 0) return [];
    const s = tf.tidy(() => {
      const q = this.states(ids); // (Tq, C)
      const bgMax = tf.max(tf.matMul(q, this.background, false, true), 1); // (Tq)
      return tf.stack(scopes.map((k) => tf.max(tf.sub(tf.max(tf.matMul(q, k, false, true), 1), bgMax))));
    });
    const out = Array.from(s.dataSync());
    s.dispose();
    return out;
  }

  /** The index of the best-scoring scope (ties: the lowest). */
  route(scopes: readonly Tensor2D[], ids: readonly number[]): number {
    const s = this.scores(scopes, ids);
    let best = 0;
    for (let i = 1; i < s.length; i++) if (s[i]! > s[best]!) best = i;
    return best;
  }

  dispose(): void {
    this.mu.dispose();
    this.background.dispose();
  }
}

function rmsNormalised(x: Tensor2D): Tensor2D {
  return tf.tidy(() => tf.div(x, tf.sqrt(tf.add(tf.mean(tf.square(x), -1, true), 1e-5))) as Tensor2D);
}

function unitRows(x: Tensor2D): Tensor2D {
  return tf.tidy(() => tf.div(x, tf.add(tf.norm(x, 'euclidean', -1, true), 1e-8)) as Tensor2D);
}

/**
 * `edits` routed by the scopes of their passages (`scopeIds[i]`: edit i's passage as token ids, BOS first). The
 * scopes are read once here; `dispose` frees them (not the edits).
 */
export function routedEdits(
  router: ScopeRouter,
  edits: readonly LinearDelta[],
  scopeIds: readonly (readonly number[])[],
): { apply: EditApplication; dispose: () => void } {
  if (scopeIds.length !== edits.length)
    throw new Error(`routedEdits: ${edits.length} edits but ${scopeIds.length} scopes`);
  const scopes = scopeIds.map((ids) => router.states(ids));
  return {
    apply: { kind: 'routed', edits, route: (ids) => router.route(scopes, ids) },
    dispose: () => {
      for (const s of scopes) s.dispose();
    },
  };
}
