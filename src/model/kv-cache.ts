/** Per-layer key/value cache for incremental decoding. Tensors are kept out of tidy scopes and owned here. */
import { type Tensor, tf } from '../engine/tf.js';

export class KVCache {
  private readonly keys: Array<Tensor | undefined>;
  private readonly values: Array<Tensor | undefined>;
  /** Positions already cached (the time axis length). */
  length = 0;

  constructor(nLayers: number) {
    this.keys = new Array(nLayers).fill(undefined);
    this.values = new Array(nLayers).fill(undefined);
  }

  /** Appends k, v (B, Hkv, T, D) for `layer`; returns the full cached (B, Hkv, Tpast + T, D) tensors. */
  append(layer: number, k: Tensor, v: Tensor): { k: Tensor; v: Tensor } {
    const oldK = this.keys[layer];
    const oldV = this.values[layer];
    const fullK = tf.keep(oldK === undefined ? tf.clone(k) : tf.concat([oldK, k], 2));
    const fullV = tf.keep(oldV === undefined ? tf.clone(v) : tf.concat([oldV, v], 2));
    oldK?.dispose();
    oldV?.dispose();
    this.keys[layer] = fullK;
    this.values[layer] = fullV;
    return { k: fullK, v: fullV };
  }

  /** Called once per forward step after every layer appended. */
  advance(t: number): void {
    this.length += t;
  }

  dispose(): void {
    for (const t of [...this.keys, ...this.values]) t?.dispose();
    this.keys.fill(undefined);
    this.values.fill(undefined);
    this.length = 0;
  }
}
