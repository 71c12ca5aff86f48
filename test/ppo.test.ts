import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine, tf } from '../src/engine/index.js';
import { SealError } from '../src/errors.js';
import { CARTPOLE, CartPole, CartPoleVecEnv, cartPoleDynamics } from '../src/rl/envs/cartpole.js';
import { CategoricalActorCritic, GaussianActorCritic, orthogonalInit } from '../src/rl/policy.js';
import {
  approxKl,
  clipFraction,
  clippedSurrogateLoss,
  computeGae,
  explainedVariance,
  normalizeAdvantages,
  oldApproxKl,
  PpoConfigSchema,
  parsePpoConfig,
  trainPpo,
  valueLoss,
} from '../src/rl/ppo.js';
import { AdamW, clipByGlobalNorm } from '../src/train/optimizer.js';
import { Rng } from '../src/util/rng.js';

const t1 = (xs: number[]) => tf.tensor1d(xs);
const scalar = (t: tf.Tensor) => {
  const v = t.dataSync()[0]!;
  t.dispose();
  return v;
};

beforeAll(async () => {
  await initEngine('wasm');
});

describe('GAE (CleanRL loop)', () => {
  it('matches a hand computation with an episode boundary and a bootstrap', () => {
    // Two envs interleaved as [step][env]. Env 0: dones[2] = 1 (step 1 ended an episode), bootstraps 0.9 at the end.
    // Env 1: zero values, terminal after the last step (nextDone = 1), so nextValue 100 must be ignored.
    const rewards = [1, 1, 1, 1, 1, 1, 1, 1];
    const values = [0.5, 0, 0.6, 0, 0.7, 0, 0.8, 0];
    const dones = [0, 0, 0, 0, 1, 0, 0, 0];
    const { advantages, returns } = computeGae(rewards, values, dones, [0.9, 100], [0, 1], 0.9, 0.8);
    // Env 0, by hand (γ=0.9, γλ=0.72):
    //   t3: δ = 1 + 0.9·0.9 − 0.8 = 1.01                      A = 1.01
    //   t2: δ = 1 + 0.9·0.8 − 0.7 = 1.02                      A = 1.02 + 0.72·1.01 = 1.7472
    //   t1: next obs starts a new episode: δ = 1 − 0.6 = 0.4   A = 0.4
    //   t0: δ = 1 + 0.9·0.6 − 0.5 = 1.04                      A = 1.04 + 0.72·0.4 = 1.328
    // Env 1: A3 = 1, A2 = 1.72, A1 = 1 + 0.72·1.72 = 2.2384, A0 = 1 + 0.72·2.2384 = 2.611648
    const expected = [1.328, 2.611648, 0.4, 2.2384, 1.7472, 1.72, 1.01, 1];
    expected.forEach((a, i) => {
      expect(advantages[i]).toBeCloseTo(a, 10);
      expect(returns[i]).toBeCloseTo(a + values[i]!, 10);
    });
  });

  it('rejects mismatched lengths', () => {
    expect(() => computeGae([1, 2, 3], [1, 2, 3], [0, 0, 0], [0, 0], [0, 0], 0.99, 0.95)).toThrow();
  });
});

describe('PPO loss terms', () => {
  it('clipped surrogate takes the pessimistic term', () => {
    // −A·r vs −A·clip(r, 0.8, 1.2): [−0.5 vs −0.8, 1 vs 1, −3 vs −2.4, 1.5 vs 1.2] → max [−0.5, 1, −2.4, 1.5]
    const loss = clippedSurrogateLoss(t1([0.5, 1.0, 1.5, 1.5]), t1([1, -1, 2, -1]), 0.2);
    expect(scalar(loss)).toBeCloseTo(-0.1, 6);
  });

  it('value loss, clipped and unclipped', () => {
    const newV = t1([1.0, 2.0, 0.0]);
    const ret = t1([1.5, 2.5, 1.0]);
    const oldV = t1([0.9, 1.5, 0.5]);
    // unclipped (V−R)²: 0.25, 0.25, 1; clipped V: 1.0, 1.7, 0.3 → (·−R)²: 0.25, 0.64, 0.49; max: 0.25, 0.64, 1
    expect(scalar(valueLoss(newV, ret, oldV, 0.2, true))).toBeCloseTo((0.5 * 1.89) / 3, 6);
    expect(scalar(valueLoss(newV, ret, oldV, 0.2, false))).toBeCloseTo((0.5 * 1.5) / 3, 6);
  });

  it('approx-KL, old approx-KL, clip fraction', () => {
    const lr = [0.1, -0.2];
    const k3 = (Math.exp(0.1) - 1 - 0.1 + Math.exp(-0.2) - 1 + 0.2) / 2;
    expect(scalar(approxKl(t1(lr)))).toBeCloseTo(k3, 6);
    expect(scalar(oldApproxKl(t1(lr)))).toBeCloseTo(0.05, 6);
    expect(scalar(clipFraction(t1([0.5, 1.0, 1.1, 1.25]), 0.2))).toBeCloseTo(0.5, 6);
  });

  it('advantage normalisation uses the unbiased std, like torch', () => {
    const out = normalizeAdvantages(t1([1, 2, 3, 4])).dataSync();
    const std = Math.sqrt(5 / 3);
    [1, 2, 3, 4].forEach((a, i) => {
      expect(out[i]).toBeCloseTo((a - 2.5) / (std + 1e-8), 5);
    });
  });

  it('explained variance with population variances; NaN for constant returns', () => {
    // Var([1,2,4]) = 42/27, Var([0,0,1]) = 2/9
    expect(explainedVariance([1, 2, 3], [1, 2, 4])).toBeCloseTo(1 - 2 / 9 / (42 / 27), 12);
    expect(explainedVariance([1, 2, 3], [5, 5, 5])).toBeNaN();
  });
});

describe('the optimizer PPO uses (AdamW with weight decay 0 = torch Adam) and gradient clipping', () => {
  it('matches torch.optim.Adam on two hand-computed steps, also inside tf.tidy', () => {
    const p = tf.variable(tf.tensor1d([1.0]));
    const opt = new AdamW(new Map([['p', p]]), { beta1: 0.9, beta2: 0.999, eps: 1e-5, weightDecay: 0 });
    const g = tf.tensor1d([0.5]);
    tf.tidy(() => opt.update(new Map([['p', g]]), 0.1));
    // m̂ = 0.5, v̂ = 0.25
    let expected = 1 - (0.1 * 0.5) / (0.5 + 1e-5);
    expect(p.dataSync()[0]).toBeCloseTo(expected, 6);
    tf.tidy(() => opt.update(new Map([['p', g]]), 0.05));
    // Constant gradient: m̂ = 0.5 and v̂ = 0.25 again after bias correction (the state survived the tidy).
    expected -= (0.05 * 0.5) / (0.5 + 1e-5);
    expect(p.dataSync()[0]).toBeCloseTo(expected, 6);
    opt.dispose();
    p.dispose();
    g.dispose();
  });

  it('clipByGlobalNorm scales by maxNorm / (norm + 1e-6) only when above the limit', () => {
    const grads = new Map<string, tf.Tensor>([
      ['a', tf.tensor1d([3])],
      ['b', tf.tensor2d([[4]])],
    ]);
    expect(clipByGlobalNorm(grads, 0.5)).toBeCloseTo(5, 6);
    expect(grads.get('a')!.dataSync()[0]).toBeCloseTo((3 * 0.5) / (5 + 1e-6), 6);
    expect(grads.get('b')!.dataSync()[0]).toBeCloseTo((4 * 0.5) / (5 + 1e-6), 6);
    const loose = new Map<string, tf.Tensor>([['b', tf.tensor2d([[4]])]]);
    clipByGlobalNorm(loose, 10);
    expect(loose.get('b')!.dataSync()[0]).toBeCloseTo(4, 6);
    for (const t of [...grads.values(), ...loose.values()]) t.dispose();
  });
});

describe('networks', () => {
  it('orthogonal init gives orthonormal rows/columns times the gain', () => {
    const rng = new Rng(3);
    for (const [out, inp, gain] of [
      [64, 4, Math.SQRT2],
      [64, 64, Math.SQRT2],
      [2, 64, 0.01],
    ] as const) {
      const w = orthogonalInit(out, inp, gain, rng); // [inp, out]
      // The smaller dimension's vectors are orthonormal: Gram matrix = gain² I.
      const k = Math.min(out, inp);
      for (let a = 0; a < k; a++) {
        for (let b = 0; b < k; b++) {
          let dot = 0;
          if (out >= inp) for (let o = 0; o < out; o++) dot += w[a * out + o]! * w[b * out + o]!;
          else for (let i = 0; i < inp; i++) dot += w[i * out + a]! * w[i * out + b]!;
          expect(dot).toBeCloseTo(a === b ? gain * gain : 0, 5);
        }
      }
    }
  });

  it('categorical: rollout snapshot and tfjs evaluate agree; init is near-uniform', () => {
    const agent = new CategoricalActorCritic(4, 2, new Rng(1));
    const obs = Float32Array.from([0.01, -0.02, 0.03, 0.04, 1, -1, 0.5, 0.2, -2, 0.3, 0.1, -0.4]);
    const out = { actions: new Float32Array(3), logProb: new Float32Array(3), value: new Float32Array(3) };
    agent.snapshot().act(obs, 3, new Rng(9), out);
    tf.tidy(() => {
      const ev = agent.evaluate(tf.tensor2d(obs, [3, 4]), tf.tensor2d(out.actions, [3, 1]));
      const lp = ev.logProb.dataSync();
      const v = ev.value.dataSync();
      const h = ev.entropy.dataSync();
      for (let i = 0; i < 3; i++) {
        expect(lp[i]).toBeCloseTo(out.logProb[i]!, 5);
        expect(v[i]).toBeCloseTo(out.value[i]!, 5);
        expect(h[i]).toBeCloseTo(Math.log(2), 3);
      }
    });
    agent.dispose();
  });

  it('gaussian: log-prob and entropy match the density, numerically', () => {
    const k = 2;
    const agent = new GaussianActorCritic(3, k, new Rng(2), [8]);
    tf.tidy(() => agent.logStd.assign(tf.tensor2d([[0.3, -0.5]])));
    const obs = Float32Array.from([0.2, -0.1, 0.4, 1.0, 0.5, -0.7]);
    const actions = Float32Array.from([0.1, -0.3, 1.2, 0.4]);
    const sigma = [Math.exp(0.3), Math.exp(-0.5)];
    tf.tidy(() => {
      const o = tf.tensor2d(obs, [2, 3]);
      const mean = agent.actor.apply(o).dataSync();
      const ev = agent.evaluate(o, tf.tensor2d(actions, [2, k]));
      const lp = ev.logProb.dataSync();
      const h = ev.entropy.dataSync();
      const density = (x: number, mu: number, s: number) =>
        Math.exp(-((x - mu) ** 2) / (2 * s * s)) / (s * Math.sqrt(2 * Math.PI));
      // Differential entropy per dimension by quadrature of −∫ p log p over ±12σ.
      let hNumeric = 0;
      for (const s of sigma) {
        const steps = 20000;
        const dx = (24 * s) / steps;
        for (let j = 0; j <= steps; j++) {
          const p = density(-12 * s + j * dx, 0, s);
          if (p > 0) hNumeric -= p * Math.log(p) * dx * (j === 0 || j === steps ? 0.5 : 1);
        }
      }
      for (let r = 0; r < 2; r++) {
        let logDensity = 0;
        for (let j = 0; j < k; j++)
          logDensity += Math.log(density(actions[r * k + j]!, mean[r * k + j]!, sigma[j]!));
        expect(lp[r]).toBeCloseTo(logDensity, 4);
        expect(h[r]).toBeCloseTo(hNumeric, 4);
      }
    });
    // Rollout samples: stored log-prob agrees with evaluate, and the empirical std is exp(logStd).
    const n = 4000;
    const many = new Float32Array(n * 3);
    for (let i = 0; i < many.length; i++) many[i] = obs[i % 3]!;
    const out = {
      actions: new Float32Array(n * k),
      logProb: new Float32Array(n),
      value: new Float32Array(n),
    };
    agent.snapshot().act(many, n, new Rng(5), out);
    tf.tidy(() => {
      const ev = agent.evaluate(tf.tensor2d(many, [n, 3]), tf.tensor2d(out.actions, [n, k]));
      const lp = ev.logProb.dataSync();
      for (let i = 0; i < 10; i++) expect(lp[i]).toBeCloseTo(out.logProb[i]!, 4);
      const mean = agent.actor.apply(tf.tensor2d(obs.slice(0, 3), [1, 3])).dataSync();
      for (let j = 0; j < k; j++) {
        let s2 = 0;
        for (let i = 0; i < n; i++) s2 += (out.actions[i * k + j]! - mean[j]!) ** 2;
        expect(Math.sqrt(s2 / n)).toBeCloseTo(sigma[j]!, 1);
      }
    });
    agent.dispose();
  });
});

describe('CartPole-v1', () => {
  it('dynamics match hand-derived transitions', () => {
    // From rest, push right: temp = 100/11, θ̈ = −600/41, ẍ = 4400/451 (exact rationals of Gymnasium's equations).
    const s1 = cartPoleDynamics([0, 0, 0, 0], 1);
    expect(Array.from(s1)).toEqual([
      0,
      expect.closeTo((0.02 * 4400) / 451, 12),
      0,
      expect.closeTo((-0.02 * 600) / 41, 12),
    ]);
    // A tilted, moving state, checked against Barto et al.'s equations written in their own form.
    const [x, xd, th, thd] = [0.1, -0.2, 0.05, 0.3];
    for (const action of [0, 1]) {
      const F = action === 1 ? 10 : -10;
      const [g, mc, mp, l] = [9.8, 1.0, 0.1, 0.5];
      const thdd =
        (g * Math.sin(th) + Math.cos(th) * ((-F - mp * l * thd * thd * Math.sin(th)) / (mc + mp))) /
        (l * (4 / 3 - (mp * Math.cos(th) ** 2) / (mc + mp)));
      const xdd = (F + mp * l * (thd * thd * Math.sin(th) - thdd * Math.cos(th))) / (mc + mp);
      const s = cartPoleDynamics([x, xd, th, thd], action);
      const expected = [x + 0.02 * xd, xd + 0.02 * xdd, th + 0.02 * thd, thd + 0.02 * thdd];
      expected.forEach((e, i) => {
        expect(s[i]).toBeCloseTo(e, 12);
      });
    }
    expect(CARTPOLE.thetaThresholdRadians).toBeCloseTo(0.20943951, 8);
  });

  it('resets uniformly in [-0.05, 0.05], seeded; observations are float32', () => {
    const a = new CartPole(7).reset();
    expect(Array.from(a)).toEqual(Array.from(new CartPole(7).reset()));
    expect(Array.from(a)).not.toEqual(Array.from(new CartPole(8).reset()));
    const env = new CartPole(1);
    for (let i = 0; i < 200; i++) for (const v of env.reset()) expect(Math.abs(v)).toBeLessThanOrEqual(0.05);
    const step = env.step(1);
    expect(step.obs[1]).toBe(Math.fround(env.state[1]!));
  });

  it('terminates on the angle and position thresholds, rewarding the terminating step', () => {
    const env = new CartPole(1);
    env.setState([0, 0, 0.2, 1]); // θ → 0.22 > 12°
    let r = env.step(1);
    expect([r.reward, r.terminated, r.truncated]).toEqual([1, true, false]);
    expect(() => env.step(0)).toThrow(SealError);
    env.setState([2.39, 1, 0, 0]); // x → 2.41 > 2.4
    r = env.step(1);
    expect(r.terminated).toBe(true);
    env.setState([2.3, 1, 0, 0]);
    expect(env.step(1).terminated).toBe(false);
    expect(() => env.step(2)).toThrow(SealError);
  });

  it('truncates at 500 steps; the vector env records the episode and auto-resets', () => {
    const vec = new CartPoleVecEnv(1, 3);
    let obs = Float32Array.from(vec.reset());
    // A PD controller on the pole keeps CartPole up for the whole episode.
    for (let t = 1; t <= 500; t++) {
      const a = obs[2]! + 0.5 * obs[3]! + 0.01 * obs[0]! + 0.05 * obs[1]! > 0 ? 1 : 0;
      const res = vec.step(Float32Array.of(a));
      obs = Float32Array.from(res.obs);
      if (t < 500) {
        expect(res.terminations[0]).toBe(0);
        expect(res.truncations[0]).toBe(0);
        expect(res.episodes).toEqual([]);
      } else {
        expect(res.truncations[0]).toBe(1);
        expect(res.terminations[0]).toBe(0);
        expect(res.episodes).toEqual([{ env: 0, return: 500, length: 500 }]);
        for (const v of obs) expect(Math.abs(v)).toBeLessThanOrEqual(0.05); // the next episode's first obs
      }
    }
  });
});

describe('PPO config', () => {
  it('defaults are CleanRL ppo.py defaults, and every field is described', () => {
    const c = parsePpoConfig({});
    expect(c).toEqual({
      seed: 1,
      totalTimesteps: 500000,
      learningRate: 2.5e-4,
      annealLr: true,
      numEnvs: 4,
      numSteps: 128,
      gamma: 0.99,
      gaeLambda: 0.95,
      numMinibatches: 4,
      updateEpochs: 4,
      normAdv: true,
      clipCoef: 0.2,
      clipVloss: true,
      entCoef: 0.01,
      vfCoef: 0.5,
      maxGradNorm: 0.5,
      targetKl: null,
      adamEps: 1e-5,
    });
    for (const [name, field] of Object.entries(PpoConfigSchema.shape)) {
      expect(field.description, name).toMatch(/\w/);
    }
  });

  it('rejects bad configs with a SealError naming the field', () => {
    expect(() => parsePpoConfig({ numMinibatches: 3 })).toThrow(/numMinibatches/);
    expect(() => parsePpoConfig({ clipCoef: -1 })).toThrow(SealError);
    expect(() => parsePpoConfig({ learningrate: 1 })).toThrow(SealError);
  });
});

describe('PPO on CartPole', () => {
  const setup = {
    makeEnvs: (numEnvs: number, seed: number) => new CartPoleVecEnv(numEnvs, seed),
    makeAgent: (envs: { obsDim: number }, rng: Rng) => new CategoricalActorCritic(envs.obsDim, 2, rng),
  };

  it('keeps the tensor count flat across updates', async () => {
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    const result = await trainPpo(
      { seed: 4, numSteps: 32, totalTimesteps: 4 * 32 * 5 },
      { ...setup, onUpdate: () => counts.push(tf.memory().numTensors) },
    );
    expect(counts).toHaveLength(5);
    expect(new Set(counts).size).toBe(1);
    result.agent.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('learns: mean episodic return rises well above random (~22) within 20k steps', async () => {
    const result = await trainPpo({ seed: 1, totalTimesteps: 20480 }, setup);
    result.agent.dispose();
    const returns = result.episodes.map((e) => e.return);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const first = mean(returns.slice(0, 20));
    const last = mean(returns.slice(-20));
    expect(result.globalStep).toBe(20480);
    // Seeds 1–5 give first-20 means of 19–21 and last-20 means of 63–80 (the lr anneals to 0 over these 40 updates).
    expect(first).toBeLessThan(30);
    expect(last).toBeGreaterThan(50);
    expect(last).toBeGreaterThan(2.5 * first);
    // Sanity of the logged diagnostics.
    const u = result.updates.at(-1)!;
    expect(u.update).toBe(40);
    expect(u.learningRate).toBeCloseTo(2.5e-4 / 40, 12);
    expect(Number.isFinite(u.approxKl) && Number.isFinite(u.explainedVariance)).toBe(true);
  });

  it('is reproducible from its seed', async () => {
    const run = async () => {
      const r = await trainPpo({ seed: 11, numSteps: 16, totalTimesteps: 4 * 16 * 3 }, setup);
      const w = Array.from(r.agent.actor.weights[0]!.dataSync());
      r.agent.dispose();
      return { w, eps: r.episodes };
    };
    expect(await run()).toEqual(await run());
  });
});
