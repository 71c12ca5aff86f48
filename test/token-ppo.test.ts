import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine, tf } from '../src/engine/index.js';
import type { Tensor2D } from '../src/engine/tf.js';
import {
  bernoulliLogProb,
  gaussianLogProb,
  groupAdvantages,
  sampleTokenActions,
  type TokenBernoulli,
  type TokenEpisode,
  type TokenGaussian,
  TokenPpo,
  TokenPpoConfigSchema,
} from '../src/rl/token-ppo.js';
import { Rng } from '../src/util/rng.js';

beforeAll(async () => {
  await initEngine('wasm');
});

/** A linear per-token policy μ(h) = h·M with a learned log-std. */
function linearPolicy(c: number, d: number, logStd: number): TokenGaussian & { m: tf.Variable } {
  const m = tf.variable(tf.zeros([c, d]), true);
  return {
    kind: 'gaussian',
    m,
    mean: (obs) => tf.matMul(obs, m) as Tensor2D,
    logStd: tf.variable(tf.fill([d], logStd), true),
    variables: [m],
  };
}

describe('token-level PPO (per-token Gaussian actions, one reward per episode)', () => {
  it('groupAdvantages: leave-one-out mean within a group, the fallback baseline for an episode alone', () => {
    const adv = groupAdvantages([1, 2, 3, 10, 5], [0, 0, 0, 1, undefined], [0, 0, 0, 4, 2]);
    expect(Array.from(adv)).toEqual([1 - 2.5, 2 - 2, 3 - 1.5, 10 - 4, 5 - 2]);
  });

  it('gaussianLogProb is the diagonal Gaussian density, summed over dimensions', () => {
    const lp = tf.tidy(() =>
      gaussianLogProb(
        tf.tensor2d([[0, 1]]) as Tensor2D,
        tf.tensor1d([0, Math.log(2)]),
        tf.tensor2d([[1, 1]]) as Tensor2D,
      ).dataSync(),
    );
    const want = -0.5 * 1 - 0.5 * Math.log(2 * Math.PI) + (0 - Math.log(2) - 0.5 * Math.log(2 * Math.PI));
    expect(lp[0]).toBeCloseTo(want, 5);
  });

  it('learns the right value of every token when only the episode reward tells it (toy problem)', () => {
    // Each token's right action is h_t·M* (unknown to the learner); the reward of an episode is minus the mean
    // squared error of its tokens' actions. The deterministic policy's error must fall far below its start.
    const [c, d, t] = [6, 2, 5];
    const rng = new Rng(7);
    const target = Float32Array.from({ length: c * d }, () => rng.normal());
    const mStar = tf.tensor2d(target, [c, d]);
    const policy = linearPolicy(c, d, -0.5);
    const ppo = new TokenPpo(policy, c, TokenPpoConfigSchema.parse({ learningRate: 0.05, updateEpochs: 4 }));
    const contexts = Array.from({ length: 16 }, () =>
      tf.tensor2d(
        Float32Array.from({ length: t * c }, () => rng.normal()),
        [t, c],
      ),
    );
    const errorOf = (obs: Tensor2D, actions: Tensor2D) =>
      tf.tidy(() => tf.mean(tf.sum(tf.square(tf.sub(actions, tf.matMul(obs, mStar))), 1)).dataSync()[0]!);
    const greedyError = () =>
      contexts.reduce((s, obs) => s + tf.tidy(() => errorOf(obs, policy.mean(obs))), 0) / contexts.length;
    const before = greedyError();
    const logs = [];
    for (let update = 0; update < 60; update++) {
      const episodes: TokenEpisode[] = [];
      for (let i = 0; i < 32; i++) {
        const obs = contexts[rng.int(contexts.length)]!;
        const { actions, logProb } = sampleTokenActions(policy, obs, rng);
        const reward = -tf.tidy(() => errorOf(obs, tf.tensor2d(actions, [t, d]) as Tensor2D));
        const state = Float32Array.from(tf.tidy(() => tf.mean(obs, 0).dataSync()));
        episodes.push({ obs, state, actions, logProb, reward });
      }
      logs.push(ppo.update(episodes));
    }
    const after = greedyError();
    expect(after).toBeLessThan(0.25 * before);
    expect(logs[logs.length - 1]!.meanReward).toBeGreaterThan(logs[0]!.meanReward);
    for (const l of logs) expect(Number.isFinite(l.policyLoss) && Number.isFinite(l.approxKl)).toBe(true);
    // One epoch is REINFORCE: the ratio is exactly 1, nothing is clipped.
    const reinforce = new TokenPpo(linearPolicy(c, d, 0), c, TokenPpoConfigSchema.parse({ updateEpochs: 1 }));
    const obs = contexts[0]!;
    const { actions, logProb } = sampleTokenActions(reinforce.policy, obs, rng);
    const one = reinforce.update([
      { obs, state: new Float32Array(c), actions, logProb, reward: 1 },
      { obs, state: new Float32Array(c), actions, logProb, reward: 0 },
    ]);
    expect(one.epochs).toBe(1);
    expect(one.clipfrac).toBe(0);
    expect(Math.abs(one.approxKl)).toBeLessThan(1e-6);
    ppo.dispose();
    reinforce.dispose();
    tf.dispose([mStar, ...contexts]);
  });

  it('bernoulliLogProb is log σ(ℓ) for a 1 and log(1 − σ(ℓ)) for a 0, summed over dimensions', () => {
    const lp = tf.tidy(() =>
      bernoulliLogProb(tf.tensor2d([[0, 2]]) as Tensor2D, tf.tensor2d([[1, 0]]) as Tensor2D).dataSync(),
    );
    const sig = (x: number) => 1 / (1 + Math.exp(-x));
    expect(lp[0]).toBeCloseTo(Math.log(sig(0)) + Math.log(1 - sig(2)), 5);
  });

  it('learns which tokens to write when only the episode reward tells it (Bernoulli gates, toy problem)', () => {
    // Each token should write (a_t = 1) exactly when its first feature is positive (unknown to the learner); the
    // reward is the fraction of tokens whose write is right. From every gate at 0.5, the greedy gates' accuracy must
    // rise from ~50% to ≥ 90%, for PPO (one minibatch, and 4 minibatches a step each) and for REINFORCE (one epoch).
    const [c, t] = [4, 8];
    const rng = new Rng(3);
    const contexts = Array.from({ length: 16 }, () =>
      tf.tensor2d(
        Float32Array.from({ length: t * c }, () => rng.normal()),
        [t, c],
      ),
    );
    const right = contexts.map((obs) =>
      Array.from(obs.dataSync())
        .filter((_, i) => i % c === 0)
        .map((x) => (x > 0 ? 1 : 0)),
    );
    const learn = (updateEpochs: number, numMinibatches: number) => {
      const g = tf.variable(tf.zeros([c, 1]), true);
      const b = tf.variable(tf.zeros([1]), true);
      const policy: TokenBernoulli = {
        kind: 'bernoulli',
        logits: (obs) => tf.add(tf.matMul(obs, g), b) as Tensor2D,
        variables: [g, b],
      };
      const greedy = () =>
        contexts.reduce((s, obs, i) => {
          const p = tf.tidy(() => tf.sigmoid(policy.logits(obs)).dataSync());
          return s + right[i]!.filter((r, j) => (p[j]! > 0.5 ? 1 : 0) === r).length / t;
        }, 0) / contexts.length;
      const before = greedy();
      const ppo = new TokenPpo(
        policy,
        c,
        TokenPpoConfigSchema.parse({ learningRate: 0.05, updateEpochs, numMinibatches }),
      );
      const logs = [];
      for (let update = 0; update < 80; update++) {
        const episodes: TokenEpisode[] = [];
        for (let i = 0; i < 32; i++) {
          const k = rng.int(contexts.length);
          const { actions, logProb } = sampleTokenActions(policy, contexts[k]!, rng);
          for (const a of actions) expect(a === 0 || a === 1).toBe(true);
          const reward = right[k]!.filter((r, j) => actions[j] === r).length / t;
          const state = Float32Array.from(tf.tidy(() => tf.mean(contexts[k]!, 0).dataSync()));
          episodes.push({ obs: contexts[k]!, state, actions, logProb, reward, group: Math.floor(i / 4) });
        }
        logs.push(ppo.update(episodes));
      }
      const after = greedy();
      ppo.dispose();
      tf.dispose([g, b]);
      return { before, after, logs };
    };
    for (const [epochs, minibatches] of [
      [4, 1],
      [4, 4],
      [1, 1],
    ] as const) {
      const { before, after, logs } = learn(epochs, minibatches);
      expect(before).toBeLessThan(0.7);
      expect(
        after,
        `epochs ${epochs} × ${minibatches} minibatches: greedy accuracy ${before} → ${after}`,
      ).toBeGreaterThanOrEqual(0.9);
      const [first, last] = [logs[0]!, logs[logs.length - 1]!];
      expect(last.meanReward).toBeGreaterThan(first.meanReward);
      expect(first.spread.kind).toBe('bernoulli');
      // The policy grows surer: the entropy per token falls from its start (ln 2 ≈ 0.69 at every gate 0.5).
      expect(last.spread.entropy).toBeLessThan(first.spread.entropy);
    }
    tf.dispose(contexts);
  });
});
