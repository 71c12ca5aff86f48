/**
 * CartPole-v1 to Gymnasium's specification (classic_control/cartpole.py, registered with max_episode_steps=500 and
 * reward_threshold=475), with the TimeLimit and RecordEpisodeStatistics wrappers folded in, and a vectorised
 * version that auto-resets like gymnasium.vector.SyncVectorEnv (≤ 0.29, what CleanRL uses): when an episode ends,
 * the returned observation is already the first of the next episode.
 *
 * Precision matches Gymnasium: the physical state is float64 (numpy), observations are handed out as float32.
 */
import { SealError } from '../../errors.js';
import { Rng } from '../../util/rng.js';
import type { EpisodeStat, VecStepResult, VectorEnv } from '../ppo.js';

export const CARTPOLE = {
  gravity: 9.8,
  masscart: 1.0,
  masspole: 0.1,
  /** Half the pole's length (Gymnasium's naming). */
  length: 0.5,
  forceMag: 10.0,
  tau: 0.02,
  thetaThresholdRadians: (12 * 2 * Math.PI) / 360,
  xThreshold: 2.4,
  maxEpisodeSteps: 500,
} as const;

const totalMass = CARTPOLE.masspole + CARTPOLE.masscart;
const polemassLength = CARTPOLE.masspole * CARTPOLE.length;

export interface CartPoleStep {
  readonly obs: Float32Array;
  readonly reward: number;
  readonly terminated: boolean;
  readonly truncated: boolean;
}

/**
 * One physics step with the Euler integrator; returns the new float64 state. Exported so tests can check the
 * equations on chosen states.
 */
export function cartPoleDynamics(state: ArrayLike<number>, action: number): Float64Array {
  const { gravity, masspole, length, forceMag, tau } = CARTPOLE;
  const x = state[0]!;
  const xDot = state[1]!;
  const theta = state[2]!;
  const thetaDot = state[3]!;
  const force = action === 1 ? forceMag : -forceMag;
  const costheta = Math.cos(theta);
  const sintheta = Math.sin(theta);
  const temp = (force + polemassLength * thetaDot * thetaDot * sintheta) / totalMass;
  const thetaacc =
    (gravity * sintheta - costheta * temp) /
    (length * (4.0 / 3.0 - (masspole * costheta * costheta) / totalMass));
  const xacc = temp - (polemassLength * thetaacc * costheta) / totalMass;
  return Float64Array.of(
    x + tau * xDot,
    xDot + tau * xacc,
    theta + tau * thetaDot,
    thetaDot + tau * thetaacc,
  );
}

/** A single CartPole-v1 episode stream: the env, TimeLimit(500) and RecordEpisodeStatistics. */
export class CartPole {
  readonly state = new Float64Array(4);
  private readonly rng: Rng;
  private elapsedSteps = 0;
  private needsReset = true;
  episodeReturn = 0;
  episodeLength = 0;

  constructor(seed: number) {
    this.rng = new Rng(seed);
  }

  /** Uniform in [-0.05, 0.05) per state component, as `np_random.uniform(-0.05, 0.05, size=4)`. */
  reset(): Float32Array {
    for (let i = 0; i < 4; i++) this.state[i] = -0.05 + 0.1 * this.rng.next();
    this.elapsedSteps = 0;
    this.needsReset = false;
    this.episodeReturn = 0;
    this.episodeLength = 0;
    return Float32Array.from(this.state);
  }

  /** Sets the physical state directly (tests, debugging); starts a fresh episode at that state. */
  setState(state: ArrayLike<number>): void {
    this.reset();
    for (let i = 0; i < 4; i++) this.state[i] = state[i]!;
  }

  /**
   * Gymnasium warns and pays 0 when a terminated episode is stepped again; we throw instead, since under
   * auto-reset that can only be a bug.
   */
  step(action: number): CartPoleStep {
    if (action !== 0 && action !== 1) throw new SealError(`CartPole: action must be 0 or 1, got ${action}`);
    if (this.needsReset)
      throw new SealError('CartPole: step() called before reset() or after the episode ended');
    this.state.set(cartPoleDynamics(this.state, action));
    const x = this.state[0]!;
    const theta = this.state[2]!;
    const terminated =
      x < -CARTPOLE.xThreshold ||
      x > CARTPOLE.xThreshold ||
      theta < -CARTPOLE.thetaThresholdRadians ||
      theta > CARTPOLE.thetaThresholdRadians;
    // Every step earns 1, the terminating one included (Gymnasium's "pole just fell" branch).
    const reward = 1.0;
    this.elapsedSteps += 1;
    const truncated = this.elapsedSteps >= CARTPOLE.maxEpisodeSteps;
    this.episodeReturn += reward;
    this.episodeLength += 1;
    if (terminated || truncated) this.needsReset = true;
    return { obs: Float32Array.from(this.state), reward, terminated, truncated };
  }
}

/**
 * `numEnvs` CartPoles stepped in lockstep. Env i is seeded with seed + i, as SyncVectorEnv.reset(seed=seed) does.
 * The returned buffers are reused by the next step; copy what must outlive it.
 */
export class CartPoleVecEnv implements VectorEnv {
  readonly obsDim = 4;
  readonly numActions = 2;
  readonly envs: CartPole[];
  private readonly obs: Float32Array;
  private readonly rewards: Float32Array;
  private readonly terminations: Uint8Array;
  private readonly truncations: Uint8Array;

  constructor(
    readonly numEnvs: number,
    seed: number,
  ) {
    this.envs = Array.from({ length: numEnvs }, (_, i) => new CartPole(seed + i));
    this.obs = new Float32Array(numEnvs * 4);
    this.rewards = new Float32Array(numEnvs);
    this.terminations = new Uint8Array(numEnvs);
    this.truncations = new Uint8Array(numEnvs);
  }

  reset(): Float32Array {
    this.envs.forEach((env, i) => {
      this.obs.set(env.reset(), i * 4);
    });
    return this.obs;
  }

  step(actions: Float32Array): VecStepResult {
    if (actions.length !== this.numEnvs) {
      throw new SealError(`CartPoleVecEnv: expected ${this.numEnvs} actions, got ${actions.length}`);
    }
    const episodes: EpisodeStat[] = [];
    for (let i = 0; i < this.numEnvs; i++) {
      const env = this.envs[i]!;
      const r = env.step(actions[i]!);
      this.rewards[i] = r.reward;
      this.terminations[i] = r.terminated ? 1 : 0;
      this.truncations[i] = r.truncated ? 1 : 0;
      if (r.terminated || r.truncated) {
        episodes.push({ env: i, return: env.episodeReturn, length: env.episodeLength });
        this.obs.set(env.reset(), i * 4);
      } else {
        this.obs.set(r.obs, i * 4);
      }
    }
    return {
      obs: this.obs,
      rewards: this.rewards,
      terminations: this.terminations,
      truncations: this.truncations,
      episodes,
    };
  }
}
