/**
 * Validates our PPO against CleanRL's published CartPole-v1 result (ppo.py, default hyperparameters, 500k steps).
 *
 *   node dist/app/experiments/cartpole.js [--seeds 1,2,3] [--steps 500000] [--workers 2]
 *
 * Seeds run in child processes (tfjs-wasm is single-threaded in Node, so one seed per core). Not worker threads:
 * the engine's native addon segfaults when two worker threads use it at once. Progress goes to
 * stderr, full results to experiments/results/cartpole-<timestamp>.json, and the last stdout line is a JSON summary.
 */

import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type EngineInfo, initEngine } from '../../engine/index.js';
import { SealError } from '../../errors.js';
import { CartPoleVecEnv } from '../../rl/envs/cartpole.js';
import { CategoricalActorCritic } from '../../rl/policy.js';
import { type PpoConfigInput, trainPpo } from '../../rl/ppo.js';

export interface SeedResult {
  readonly seed: number;
  readonly globalStep: number;
  readonly meanReturnLast100: number;
  readonly wallS: number;
  readonly episodes: number;
  /** Mean return of the last 100 episodes, sampled every `curveEvery` updates (learning curve). */
  readonly curve: ReadonlyArray<{ readonly globalStep: number; readonly meanReturnLast100: number }>;
  readonly lastUpdate: unknown;
  /** Backend and kernels the seed ran on (other engineers swap kernels; results must say which). */
  readonly engine: EngineInfo;
}

function meanLast(xs: readonly number[], k: number): number {
  const tail = xs.slice(-k);
  return tail.length === 0 ? Number.NaN : tail.reduce((a, b) => a + b, 0) / tail.length;
}

/** One CleanRL-default PPO run on CartPole-v1. */
export async function runCartPoleSeed(
  seed: number,
  totalTimesteps: number,
  progress: (line: string) => void = () => {},
  overrides: PpoConfigInput = {},
): Promise<SeedResult> {
  const engine = await initEngine('wasm');
  const returns: number[] = [];
  const curve: Array<{ globalStep: number; meanReturnLast100: number }> = [];
  const result = await trainPpo(
    { ...overrides, seed, totalTimesteps },
    {
      makeEnvs: (numEnvs, s) => new CartPoleVecEnv(numEnvs, s),
      makeAgent: (envs, rng) => new CategoricalActorCritic(envs.obsDim, 2, rng),
      onEpisode: (ep) => returns.push(ep.return),
      onUpdate: (log) => {
        if (log.update % 10 !== 0) return;
        const m = meanLast(returns, 100);
        curve.push({ globalStep: log.globalStep, meanReturnLast100: m });
        if (log.update % 50 === 0) {
          progress(
            `seed=${seed} update=${log.update} step=${log.globalStep} return_last100=${m.toFixed(1)} ` +
              `v_loss=${log.valueLoss.toFixed(3)} entropy=${log.entropy.toFixed(3)} approx_kl=${log.approxKl.toFixed(4)} ` +
              `clipfrac=${log.clipfrac.toFixed(3)} ev=${log.explainedVariance.toFixed(3)} sps=${log.sps}`,
          );
        }
      },
    },
  );
  result.agent.dispose();
  return {
    seed,
    globalStep: result.globalStep,
    meanReturnLast100: meanLast(returns, 100),
    wallS: result.wallS,
    episodes: returns.length,
    curve,
    lastUpdate: result.updates.at(-1),
    engine,
  };
}

const CHILD_FLAG = '--child-seed';

/** Runs one seed in a child process of this same script; the result comes back over the IPC channel. */
function runInChild(seed: number, steps: number): Promise<SeedResult> {
  return new Promise((done, failed) => {
    const child = fork(fileURLToPath(import.meta.url), [CHILD_FLAG, String(seed), '--steps', String(steps)], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    let result: SeedResult | undefined;
    child.once('message', (r) => {
      result = r as SeedResult;
    });
    child.once('error', failed);
    child.once('exit', (code, signal) => {
      if (result !== undefined) done(result);
      else
        failed(
          new Error(`seed ${seed}: child process exited with ${signal ?? `code ${code}`} and no result`),
        );
    });
  });
}

function parseArgs(argv: readonly string[]): { seeds: number[]; steps: number; workers: number } {
  let seeds = [1, 2, 3];
  let steps = 500_000;
  let workers = 2;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (value === undefined) throw new SealError(`${flag}: missing value`);
    if (flag === '--seeds') seeds = value.split(',').map(Number);
    else if (flag === '--steps') steps = Number(value);
    else if (flag === '--workers') workers = Number(value);
    else throw new SealError(`unknown option ${flag} (expected --seeds, --steps, --workers)`);
    i++;
  }
  if (seeds.some((s) => !Number.isInteger(s) || s < 0))
    throw new SealError('--seeds: expected non-negative integers');
  if (!Number.isInteger(steps) || steps < 512) throw new SealError('--steps: expected an integer ≥ 512');
  if (!Number.isInteger(workers) || workers < 1) throw new SealError('--workers: expected an integer ≥ 1');
  return { seeds, steps, workers };
}

export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  const { seeds, steps, workers } = parseArgs(argv);
  log(`CartPole-v1 PPO (CleanRL defaults): seeds ${seeds.join(',')}, ${steps} steps, ${workers} worker(s)`);
  const results: SeedResult[] = new Array(seeds.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < seeds.length) {
      const i = next++;
      const seed = seeds[i]!;
      const r = workers === 1 ? await runCartPoleSeed(seed, steps, log) : await runInChild(seed, steps);
      log(
        `seed=${seed} done: mean_return_last100=${r.meanReturnLast100.toFixed(2)} wall_s=${r.wallS.toFixed(1)}`,
      );
      results[i] = r;
    }
  };
  await Promise.all(Array.from({ length: Math.min(workers, seeds.length) }, lane));

  const summary = {
    env: 'CartPole-v1',
    steps,
    seeds,
    mean_return_last100: results.map((r) => Number(r.meanReturnLast100.toFixed(2))),
    wall_s: results.map((r) => Number(r.wallS.toFixed(1))),
  };
  const dir = fileURLToPath(new URL('../../../experiments/results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = resolve(dir, `cartpole-${stamp}.json`);
  const reference = {
    source: 'CleanRL ppo.py, CartPole-v1, 500k steps, 3 seeds',
    mean_return: 490.04,
    std: 6.12,
  };
  writeFileSync(
    file,
    `${JSON.stringify({ ...summary, reference, workers, node: process.version, results }, null, 2)}\n`,
  );
  log(`results written to ${file}`);
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

const log = (line: string) => process.stderr.write(`${line}\n`);
const invokedAs = process.argv[1] === undefined ? '' : resolve(process.argv[1]);
if (invokedAs === fileURLToPath(import.meta.url)) {
  const childAt = process.argv.indexOf(CHILD_FLAG);
  const run =
    childAt >= 0
      ? runCartPoleSeed(
          Number(process.argv[childAt + 1]),
          parseArgs(process.argv.slice(childAt + 2)).steps,
          log,
        ).then(
          // The IPC channel would keep the child alive, so exit once the result is flushed.
          (r) => new Promise<void>(() => process.send?.(r, () => process.exit(0))),
        )
      : main();
  run.catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
