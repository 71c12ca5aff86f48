import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../src/engine/index.js';
import { checksum } from '../src/model/params.js';
import { significantDrop } from '../src/seal/eval/stats.js';
import { RestEmConfigSchema, restEm, selectBest, selectTop } from '../src/seal/outer/rest-em.js';
import {
  lengthSlope,
  rankRound,
  rewardHackingAlarm,
  sampledCompletion,
  sampleScores,
} from '../src/seal/outer/rollout.js';
import { completionExample, makeBatch } from '../src/train/data.js';
import { lmLoss } from '../src/train/step.js';
import { Rng } from '../src/util/rng.js';
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
    const gain = (baseline: number) => ({ baseline, onlyPositiveGain: true });
    const any = { baseline: 0.8, onlyPositiveGain: false };
    expect(selectBest(s, gain(0))?.id).toBe('b');
    expect(selectBest(s, gain(0.8))).toBeUndefined();
    expect(selectBest(s, any)?.id).toBe('b');
    expect(selectBest([], any)).toBeUndefined();
    // Other scores choose another sample; the positive-gain filter still reads the raw reward.
    expect(selectBest(s, gain(0), [0.9, 0.1, 0.2])?.id).toBe('a');
    expect(selectBest(s, gain(0.6), [0.9, 0.1, 0.2])).toBeUndefined();
  });

  it('selectTop keeps the n best, best first, earlier first on ties, each beating the baseline', () => {
    const s = [
      { reward: 0.5, id: 'a' },
      { reward: 0.8, id: 'b' },
      { reward: 0.2, id: 'c' },
      { reward: 0.8, id: 'd' },
    ];
    const ids = (xs: { id: string }[]) => xs.map((x) => x.id);
    const gain = (baseline: number) => ({ baseline, onlyPositiveGain: true });
    expect(ids(selectTop(s, gain(0), 2))).toEqual(['b', 'd']);
    expect(ids(selectTop(s, gain(0), 3))).toEqual(['b', 'd', 'a']);
    expect(ids(selectTop(s, gain(0), 10))).toEqual(['b', 'd', 'a', 'c']);
    expect(ids(selectTop(s, gain(0.6), 3))).toEqual(['b', 'd']);
    expect(ids(selectTop(s, { baseline: 0.6, onlyPositiveGain: false }, 3))).toEqual(['b', 'd', 'a']);
    // Ranked by the given scores; the baseline filter still reads the raw reward.
    expect(ids(selectTop(s, gain(0.3), 2, [0.1, 0.2, 0.9, 0.3]))).toEqual(['d']);
    expect(selectTop([], { baseline: 0, onlyPositiveGain: false }, 2)).toEqual([]);
  });

  it("selectTop's reward floor (SEAL's ARC rule): every sample above minReward, whatever the baseline", () => {
    // Binary rewards, as on grids: a task solved in context (baseline 1) still keeps its solving recipes.
    const s = [
      { reward: 0, id: 'a' },
      { reward: 1, id: 'b' },
      { reward: 0, id: 'c' },
      { reward: 1, id: 'd' },
    ];
    const ids = (xs: { id: string }[]) => xs.map((x) => x.id);
    const solved = (baseline: number) => ({ baseline, onlyPositiveGain: false, minReward: 0 });
    expect(ids(selectTop(s, solved(1), 4))).toEqual(['b', 'd']);
    expect(ids(selectTop(s, solved(0), 1))).toEqual(['b']);
    expect(ids(selectTop(s, { baseline: 1, onlyPositiveGain: true }, 4))).toEqual([]);
    expect(ids(selectTop(s, { baseline: 0, onlyPositiveGain: false }, 4))).toEqual(['b', 'd', 'a', 'c']);
    expect(selectTop([{ reward: 0, id: 'a' }], solved(0), 4)).toEqual([]);
  });

  it('lengthSlope is the within-context slope of reward on tokens, floored at 0', () => {
    // Context 2 is easier (+0.5 everywhere) and has longer samples: pooled OLS would see a steeper slope; the
    // within-context slope is exactly 0.01 per token in both.
    const g1 = [
      { tokens: 10, reward: 0.1 },
      { tokens: 30, reward: 0.3 },
    ];
    const g2 = [
      { tokens: 50, reward: 0.9 },
      { tokens: 70, reward: 1.1 },
    ];
    expect(lengthSlope([g1, g2])).toBeCloseTo(0.01, 12);
    expect(lengthSlope([[...g1].reverse().map((x, i) => ({ ...x, reward: g1[i]!.reward }))])).toBe(0); // negative → 0
    expect(lengthSlope([[{ tokens: 5, reward: 1 }], []])).toBe(0);
  });

  it('length-neutral selection keeps the sample that is best for its length', () => {
    // Reward rises with length within each context (slope 0.0075 per token): the 80-token sample of context 0 has
    // the highest reward, the 40-token one the highest reward for its length.
    const groups = [
      [
        { tokens: 40, reward: 0.6 },
        { tokens: 80, reward: 0.8 },
        { tokens: 60, reward: 0.5 },
      ],
      [
        { tokens: 20, reward: 0.2 },
        { tokens: 60, reward: 0.6 },
      ],
    ];
    const byReward = sampleScores(groups, 'reward');
    const neutral = sampleScores(groups, 'length-neutral');
    const pick = (sc: number[]) => sc.indexOf(Math.max(...sc));
    expect(pick(byReward[0]!)).toBe(1);
    expect(pick(neutral[0]!)).toBe(0);
    const b = lengthSlope(groups);
    expect(b).toBeCloseTo(0.0075, 12);
    expect(neutral[1]![1]!).toBeCloseTo(0.6 - 60 * b, 12);
    // A fraction of the slope: half of it leaves the 80-token sample (+0.2 reward for +40 tokens, priced 0.15) first.
    const half = sampleScores(groups, 'length-neutral', 0.5);
    expect(pick(half[0]!)).toBe(1);
    expect(half[1]![1]!).toBeCloseTo(0.6 - 60 * 0.5 * b, 12);
    expect(sampleScores(groups, 'length-neutral', 0)).toEqual(byReward);
    expect(sampleScores(groups, 'length-neutral', 1)).toEqual(neutral);
    // Absent from a saved config: all of the slope (configs written before the option resume unchanged).
    const sampled = groups.map((g) =>
      g.map((x) => ({ reward: x.reward, ids: new Array<number>(x.tokens).fill(7) })),
    );
    expect(rankRound(sampled, { score: 'length-neutral' }).scores).toEqual(neutral);
    expect(rankRound(sampled, { score: 'length-neutral', lengthWeight: 0.5 }).scores).toEqual(half);
  });

  it('reward-hacking alarm: reward up while validation accuracy fell significantly (paired, one-sided)', () => {
    const before = [0.6, 0.5, 0.7, 0.4, 0.6, 0.5, 0.8, 0.6];
    const prev = { meanReward: 0.5, monitor: before };
    const dropped = before.map((x, i) => x - 0.2 - 0.01 * (i % 3));
    const noise = before.map((x, i) => x + (i % 2 === 0 ? 0.05 : -0.05));
    expect(rewardHackingAlarm(prev, 0.7, dropped)).toBe(true);
    expect(rewardHackingAlarm(prev, 0.7, noise)).toBe(false); // lower for half the people, not significant
    expect(rewardHackingAlarm(prev, 0.4, dropped)).toBe(false); // reward did not rise
    expect(rewardHackingAlarm(undefined, 0.9, dropped)).toBe(false);
  });

  it('the significance test fires at about its level when nothing changes', () => {
    // Two independent draws of the same 24 Bernoulli-ish scores per trial: the drop test should fire ≈ 5%.
    const rng = new Rng(11);
    let fired = 0;
    const trials = 4000;
    for (let t = 0; t < trials; t++) {
      const p = Array.from({ length: 24 }, () => rng.next());
      const draw = () => p.map((q) => (rng.next() < q ? 1 : 0) / 2 + (rng.next() < q ? 1 : 0) / 2);
      if (significantDrop(draw(), draw(), 0.05).drop) fired++;
    }
    expect(fired / trials).toBeGreaterThan(0.03);
    expect(fired / trials).toBeLessThan(0.07);
  });
});

describe('ReST-EM end to end (tiny model)', () => {
  beforeAll(async () => {
    await initEngine('wasm');
  });

  it('minReward is the keep floor: above every possible reward nothing is kept and the policy stays zero', async () => {
    const problem = tinySealProblem();
    const cfg = RestEmConfigSchema.parse({
      rounds: 1,
      contextsPerRound: 2,
      samplesPerContext: 2,
      maxNewTokens: 12,
      onlyPositiveGain: false,
      minReward: 1,
      keepPerContext: 2,
      heldOutContexts: 1,
      sftEpochs: 1,
      inner: { epochs: 1, lora: { r: 2, alpha: 4 } },
      policyLora: { r: 2, alpha: 4 },
    });
    const result = await restEm(problem, cfg, undefined, { quiet: true });
    expect(result.rounds[0]!.kept).toBe(0);
    expect(result.policy.deltaNormSq()).toBe(0);
    // The same run without the floor keeps each context's two samples.
    const open = await restEm(problem, { ...cfg, minReward: undefined }, undefined, { quiet: true });
    expect(open.rounds[0]!.kept).toBe(4);
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
