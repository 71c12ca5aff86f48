/**
 * Routing stacked edits by scope (GRACE, Hartvigsen et al. 2023; MELO, Yu et al. 2024): n edits kept side by side,
 * each with a scope read from its passage, and every input answered under the one edit whose scope it falls in — or
 * under none. Summed generated edits do not stack (measured on val: 8 summed edits, 0% edit success), because
 * whatever their fast-weight keys share is written n times; routed, no input ever sees more than one edit.
 *
 * ## The score
 * Token states: the base's hidden states after block `layer`, RMS-normalised, centred on the background mean μ and
 * scaled to unit length, for every position but the first (position 0 holds the same token, BOS, in every input, so
 * its state is the same everywhere and says nothing). For a query q (T_q tokens), a scope K_i (the tokens of edit
 * i's passage) and the background B (the tokens of ordinary documents of the same world, none of them edited or
 * measured):
 *
 *     s_i(q) = max_t [ max_{k ∈ K_i} q_t·k  −  max_{b ∈ B} q_t·b ]
 *
 * A query token counts toward scope i only as far as passage i explains it better than any ordinary document does:
 * template words ("was born in") are explained by the background as well as by any passage and count for nothing;
 * the tokens of the passage's own subject do not. The query goes to argmax_i s_i (ties: the lowest index), and to no
 * edit when no scope explains any of its tokens better than the background (max_i s_i ≤ `ROUTE_MARGIN`, float noise).
 * Chosen on val (16 val people, `experiments/results/session15/delta/route-probe.mjs`): block 0 routes 100% of the
 * people's own questions and 99.5% of their held-out wordings to the right person (the same score without the
 * background term: 92%; pooled embeddings: 46%), and no own question scores ≤ 0 while about half of the questions
 * about known (unedited) people do.
 */
import { type Tensor1D, type Tensor2D, tf } from '../../engine/tf.js';
import type { LinearDelta } from '../../model/linear.js';
import type { Transformer } from '../../model/model.js';
import type { Context, Task } from '../../tasks/types.js';
import type { Tokenizer } from '../../tokenizer/types.js';
import type { EditApplication } from './apply.js';
import { blockStates, editText, rmsNormalised } from './embedding.js';

/** The block the router reads by default (chosen on val, see above). */
export const ROUTER_LAYER = 0;

/** `route`'s answer when no scope explains the query better than the background: no edit. */
export const NO_EDIT = -1;

/**
 * How much better than the background a scope must explain a query token to count (cosine units): above float
 * noise, so that a passage the background already holds (the same states, computed in another batch) counts for
 * nothing; far below the val scores of the edited people's own questions (≥ 0.21).
 */
export const ROUTE_MARGIN = 1e-4;

export class ScopeRouter {
  private constructor(
    private readonly model: Transformer,
    readonly layer: number,
    /** (C) background mean of the RMS-normalised states. */
    private readonly mu: Tensor1D,
    /** (N, C) background token states, centred and unit length. */
    private readonly background: Tensor2D,
  ) {}

  /** A router over `background` documents (at least one, each of two tokens or more). */
  static build(
    model: Transformer,
    tok: Tokenizer,
    background: readonly string[],
    layer = ROUTER_LAYER,
  ): ScopeRouter {
    if (background.length === 0) throw new Error('ScopeRouter: needs at least one background document');
    const [mu, bg] = tf.tidy(() => {
      const rows = tf.concat(
        background.map((t) => rawStates(model, tok.encode(t, { addBos: true }), layer)),
        0,
      ) as Tensor2D; // (N, C)
      const mean = tf.mean(rows, 0) as Tensor1D; // (C)
      return [mean, unitRows(tf.sub(rows, mean) as Tensor2D)];
    });
    return new ScopeRouter(model, layer, mu, bg);
  }

  /** (T − 1, C) centred unit token states of `ids` (BOS first; its position left out); owned by the caller. */
  states(ids: readonly number[]): Tensor2D {
    return tf.tidy(() => unitRows(tf.sub(rawStates(this.model, ids, this.layer), this.mu) as Tensor2D));
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

  /** The index of the best-scoring scope (ties: the lowest), or `NO_EDIT` when no score exceeds `ROUTE_MARGIN`. */
  route(scopes: readonly Tensor2D[], ids: readonly number[]): number {
    const s = this.scores(scopes, ids);
    let best = NO_EDIT;
    for (let i = 0; i < s.length; i++) if (s[i]! > (best === NO_EDIT ? ROUTE_MARGIN : s[best]!)) best = i;
    return best;
  }

  dispose(): void {
    this.mu.dispose();
    this.background.dispose();
  }
}

/** RMS-normalised states after block `layer` of every position but the first (BOS). */
function rawStates(model: Transformer, ids: readonly number[], layer: number): Tensor2D {
  if (ids.length < 2) throw new Error('ScopeRouter: an input needs a token after BOS to be routed');
  return tf.tidy(() => {
    const x = rmsNormalised(blockStates(model, ids, layer)); // (T, C)
    return tf.slice(x, [1, 0], [x.shape[0] - 1, x.shape[1]]) as Tensor2D;
  });
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
  const scopes: Tensor2D[] = [];
  try {
    for (const ids of scopeIds) scopes.push(router.states(ids));
  } catch (e) {
    for (const s of scopes) s.dispose();
    throw e;
  }
  return {
    apply: { kind: 'routed', edits, route: (ids) => router.route(scopes, ids) },
    dispose: () => {
      for (const s of scopes) s.dispose();
    },
  };
}

/** Background documents the router reads: of the first 64 of the people given. */
export const ROUTER_BACKGROUND_PEOPLE = 64;

/**
 * The scope router's background: the biographies and the first two question prompts of the first 64 of `people` —
 * ordinary documents of the world (in delta mode, the generator's training people: never edited, never measured).
 */
export function routerBackground(task: Pick<Task, 'answerPrompt'>, people: readonly Context[]): string[] {
  return people
    .slice(0, ROUTER_BACKGROUND_PEOPLE)
    .flatMap((c) => [editText(c), ...c.questions.slice(0, 2).map((q) => task.answerPrompt(c, q))]);
}
