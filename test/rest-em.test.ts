import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../src/engine/index.js';
import { checksum } from '../src/model/params.js';
import { RestEmConfigSchema, restEm, selectBest } from '../src/seal/outer/rest-em.js';
import { rewardHackingAlarm } from '../src/seal/outer/rollout.js';
import { RunDir } from '../src/util/run-dir.js';
import { tempDir } from './helpers/paths.js';
import { tinySealProblem } from './helpers/seal.js';

describe('ReST-EM pieces', () => {
  it('selectBest keeps the highest reward, first on ties, and respects onlyPositiveGain', () => {
    const s = [
      { reward: 0.5, id: 'a' },
      { reward: 0.8, id: 'b' },
      { reward: 0.8, id: 'c' },
    ];
    expect(selectBest(s, 0, true)?.id).toBe('b');
    expect(selectBest(s, 0.8, true)).toBeUndefined();
    expect(selectBest(s, 0.8, false)?.id).toBe('b');
    expect(selectBest([], 0, false)).toBeUndefined();
  });

  it('reward-hacking alarm: reward up while held-out down', () => {
    const prev = {
      round: 1,
      meanReward: 0.5,
      meanBaseline: 0,
      kept: 1,
      heldOutAccuracy: 0.6,
      meanSelfEditTokens: 10,
      rewardHackingAlarm: false,
    };
    expect(rewardHackingAlarm(prev, 0.7, 0.5)).toBe(true);
    expect(rewardHackingAlarm(prev, 0.7, 0.65)).toBe(false);
    expect(rewardHackingAlarm(prev, 0.4, 0.5)).toBe(false);
    expect(rewardHackingAlarm(undefined, 0.9, 0.1)).toBe(false);
  });
});

describe('ReST-EM end to end (tiny model)', () => {
  beforeAll(async () => {
    await initEngine('wasm');
  });

  it('runs rounds, logs every self-edit, trains the policy and never touches the base', async () => {
    const problem = tinySealProblem();
    const model = problem.env.model;
    const before = checksum(model.params);
    const run = RunDir.create(tempDir(), 'test-run', {});
    const cfg = RestEmConfigSchema.parse({
      rounds: 2,
      contextsPerRound: 2,
      samplesPerContext: 2,
      maxNewTokens: 12,
      onlyPositiveGain: false,
      heldOutContexts: 1,
      sftEpochs: 1,
      inner: { epochs: 1, lora: { r: 2, alpha: 4 } },
      policyLora: { r: 2, alpha: 4 },
    });
    const result = await restEm(problem, cfg, run, { quiet: true });
    expect(result.rounds).toHaveLength(2);
    const recs = run.records();
    expect(recs.filter((r) => r['kind'] === 'selfedit')).toHaveLength(8);
    expect(recs.filter((r) => r['kind'] === 'round')).toHaveLength(2);
    expect(checksum(model.params)).toBe(before);
    // onlyPositiveGain false → something was kept and the policy adapter moved away from zero.
    expect(result.policy.deltaNormSq()).toBeGreaterThan(0);
  });
});
