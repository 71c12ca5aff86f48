/**
 * A small, explicit, seedable PRNG (xoshiro128**) so every random choice in a run — data order, sampling, init —
 * follows from one seed and can be saved/restored with a checkpoint. Math.random is never used.
 */
export interface RngState {
  readonly s: readonly [number, number, number, number];
}

function splitmix32(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number | RngState) {
    if (typeof seed === 'number') {
      const sm = splitmix32(seed);
      this.s0 = sm();
      this.s1 = sm();
      this.s2 = sm();
      this.s3 = sm();
      if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
    } else {
      [this.s0, this.s1, this.s2, this.s3] = seed.s;
    }
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    this.s0 >>>= 0;
    this.s1 >>>= 0;
    this.s2 >>>= 0;
    this.s3 >>>= 0;
    return result;
  }

  /** Uniform float in [0, 1) with 32 bits of randomness. */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    let u = this.next();
    while (u === 0) u = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Rng.pick: empty list');
    return items[this.int(items.length)] as T;
  }

  /** Fisher–Yates shuffle, in place; returns the array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const a = items[i] as T;
      items[i] = items[j] as T;
      items[j] = a;
    }
    return items;
  }

  /** A derived generator, independent of this one's future draws (for per-worker or per-context streams). */
  fork(salt: number): Rng {
    return new Rng((this.nextU32() ^ Math.imul(salt + 1, 0x9e3779b1)) >>> 0);
  }

  state(): RngState {
    return { s: [this.s0, this.s1, this.s2, this.s3] };
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * The seed of one random stream, derived from its key: a label naming the stream and integers locating it (run seed,
 * round, context, sample …). FNV-1a over the label's UTF-16 code units and each integer's four bytes, finalised by
 * splitmix32's mixer. Distinct keys give unrelated seeds — `seed * 7 + context` gave seed 0 / context 7 the stream
 * of seed 1 / context 0 — and the same key gives the same seed on every machine.
 *
 * Keys in use: `('eval-sample', seed, prompt)` the self-edits of one evaluation seed (prompt 0 = the generator's,
 * 1… the static prompts), `('eval', seed, context)` a context's inner loop in an evaluation,
 * `('cpt', seed)` and `('forgetting', seed)` the continued-pretraining and sequential-edit settings,
 * `('inner-repeat', jobSeed, repeat)` one repeat of an inner loop, `('sequential-edit', seed, i)` the i-th edit,
 * `('round', runSeed, round)` an outer-loop round's context choice and sampling, `('policy-init', runSeed, round)`
 * the generator adapter's initialisation, `('monitor', runSeed)` and `('monitor-inner', monitorSeed, context)` the
 * per-round validation monitor (the same in every round: common random numbers across rounds).
 */
export function deriveSeed(label: string, ...parts: readonly number[]): number {
  let h = 0x811c9dc5;
  const byte = (b: number) => {
    h = Math.imul(h ^ (b & 0xff), 0x01000193) >>> 0;
  };
  for (let i = 0; i < label.length; i++) {
    const c = label.charCodeAt(i);
    byte(c);
    byte(c >>> 8);
  }
  for (const p of parts) {
    if (!Number.isInteger(p)) throw new Error(`deriveSeed: ${p} is not an integer`);
    const v = p >>> 0;
    byte(v);
    byte(v >>> 8);
    byte(v >>> 16);
    byte(v >>> 24);
  }
  let z = (h + 0x9e3779b9) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}
