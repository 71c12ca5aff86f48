import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../src/engine/index.js';
import { checksum } from '../src/model/params.js';
import { RestEmConfigSchema, restEm, selectBest } from '../src/seal/outer/rest-em.js';
import { rewardHackingAlarm, sampledCompletion } from '../src/seal/outer/rollout.js';
import { completionExample, makeBatch } from '../src/train/data.js';
import { lmLoss } from '../src/train/step.js';
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
    // What SFT was for: the kept self-edits (each round's best per context, first on ties, as sampled) are likelier
    // under the trained generator than under the base.
    const edits = recs.filter((r) => r['kind'] === 'selfedit');
    const kept = [1, 2].flatMap((round) => {
      const ofRound = edits.filter((r) => r['round'] === round);
      return [...new Set(ofRound.map((r) => r['context'] as string))].map((ctx) =>
        ofRound
          .filter((r) => r['context'] === ctx)
          .reduce((a, b) => ((b['reward'] as number) > (a['reward'] as number) ? b : a)),
      );
    });
    const { tok } = problem.env;
    const examples = kept
      .map((r) => {
        const c = problem.rlContexts.find((x) => x.id === r['context'])!;
        const completion = sampledCompletion(
          { ids: r['ids'] as number[], finish: r['finish'] as 'eos' | 'length' | 'stop' },
          tok.eosId,
        );
        return completionExample(tok.encode(problem.domain.selfEditPrompt(c), { addBos: true }), completion);
      })
      .filter((e) => e.ids.length > 1);
    expect(examples.length).toBeGreaterThan(0);
    const batch = makeBatch(examples, model.config.maxSeqLen - 1);
    const lossOf = (deltas: [] | [typeof result.policy]) => {
      const t = lmLoss(model, batch, deltas);
      const v = t.dataSync()[0]!;
      t.dispose();
      return v;
    };
    expect(lossOf([result.policy])).toBeLessThan(lossOf([]));
  });
});
