import { describe, expect, it } from 'vitest';
import { initEngine } from '../src/engine/index.js';
import { evaluateConditions, formatTable, matchedStep } from '../src/seal/eval/evaluate.js';
import { meanCi, pairedAgainst, pairedDifference, tQuantile975 } from '../src/seal/eval/stats.js';
import { InnerLoopConfigSchema } from '../src/seal/inner/inner-loop.js';
import { ParseOptionsSchema } from '../src/seal/selfedit/parse.js';
import { Rng } from '../src/util/rng.js';
import { RunDir } from '../src/util/run-dir.js';
import { tempDir } from './helpers/paths.js';
import { tinySealProblem } from './helpers/seal.js';

describe('statistics', () => {
  it('mean and t-based 95% CI', () => {
    const r = meanCi([1, 2, 3, 4]);
    expect(r.mean).toBe(2.5);
    // sd = 1.29099, se = 0.6454972, t(0.975; 3) = 3.1824463 (R: qt(0.975, 3))
    expect(r.ci95[0]).toBeCloseTo(2.5 - 3.1824463 * 0.6454972, 6);
    expect(r.ci95[1]).toBeCloseTo(2.5 + 3.1824463 * 0.6454972, 6);
    expect(meanCi([0.5]).ci95).toEqual([0.5, 0.5]);
    expect(meanCi([]).n).toBe(0);
    // Exact quantiles (R: qt(0.975, df)), not a table that said 2.0 for df 31–60.
    expect(tQuantile975(1)).toBeCloseTo(12.7062047, 6);
    expect(tQuantile975(39)).toBeCloseTo(2.022691, 6);
    expect(tQuantile975(40)).toBeCloseTo(2.0210754, 6);
    expect(tQuantile975(1000)).toBeCloseTo(1.9623391, 6);
    expect(tQuantile975(0)).toBeNaN();
  });

  it('paired differences over the contexts both conditions share', () => {
    const seal = { a: 0.5, b: 1, c: 0.5, d: 1 };
    const base = { a: 0, b: 0.5, c: 0.5, x: 1 };
    const d = pairedDifference(seal, base);
    expect(d.n).toBe(3);
    expect(d.mean).toBeCloseTo(1 / 3, 12);
    // differences 0.5, 0.5, 0: sd = 0.2886751, se = 0.1666667, t(2) = 4.3026527
    expect(d.ci95[0]).toBeCloseTo(1 / 3 - 4.3026527 * 0.1666667, 6);
    const all = pairedAgainst('seal', { seal, base, other: seal });
    expect(Object.keys(all)).toEqual(['seal_vs_base', 'seal_vs_other']);
    expect(all['seal_vs_other']).toEqual({ mean: 0, ci95: [0, 0], n: 4 });
  });

  it('formats a results table', () => {
    const t = formatTable({ base: meanCi([0, 0]), seal: meanCi([0.5, 1]) });
    expect(t.split('\n')).toEqual([
      'condition  accuracy %           95% CI  n',
      '---------  ----------  ---------------  -',
      'base              0.0       [0.0, 0.0]  2',
      'seal             75.0  [-242.7, 392.7]  2',
    ]);
  });
});

describe('the length-matched baseline', () => {
  it('matchedStep takes whole samples and rounds at the target at random, so the expected total is the target', () => {
    expect(matchedStep(0, 30, 100, 0.99)).toEqual({ take: true, more: true });
    expect(matchedStep(70, 30, 100, 0.99)).toEqual({ take: true, more: false }); // exactly reaches it
    expect(matchedStep(100, 30, 100, 0)).toEqual({ take: false, more: false });
    expect(matchedStep(90, 40, 100, 0.2)).toEqual({ take: true, more: false }); // 0.2 < 10/40
    expect(matchedStep(90, 40, 100, 0.3)).toEqual({ take: false, more: false });
    // Samples of 20–79 tokens against a target of 83: the mean total over many contexts is 83 (sampling error of
    // the mean of 20,000 totals: ~0.15 tokens), where "until reached" gives ~107.
    const rng = new Rng(5);
    let sum = 0;
    let untilReached = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      let used = 0;
      let more = true;
      let reached = 0;
      for (let j = 0; j < 8; j++) {
        const t = 20 + rng.int(60);
        if (reached < 83) reached += t;
        if (!more) continue;
        const s = matchedStep(used, t, 83, rng.next());
        if (s.take) used += t;
        more = s.more;
      }
      sum += used;
      untilReached += reached;
    }
    expect(Math.abs(sum / n - 83)).toBeLessThan(0.6);
    expect(untilReached / n).toBeGreaterThan(95);
  });
});

describe('baseline conditions on a tiny model', () => {
  it('length-matched base self-edits concatenate draws to the target; rule-written self-edits are trained as given', async () => {
    await initEngine('wasm');
    const p = tinySealProblem();
    const run = RunDir.create(tempDir(), 'eval-run', {});
    const s = {
      seeds: [0],
      inner: InnerLoopConfigSchema.parse({ epochs: 1, lora: { r: 2, alpha: 4 } }),
      parse: ParseOptionsSchema.parse({}),
      temperature: 1,
      topP: 0.95,
      maxNewTokens: 8,
    };
    const contexts = p.rlContexts.slice(0, 2);
    const first = await evaluateConditions(
      p,
      contexts,
      [{ kind: 'selfedit', name: 'base_selfedits', policy: undefined }],
      s,
      run,
      { quiet: true },
    );
    const one = first['base_selfedits']!.selfEditTokens!;
    expect(one).toBeGreaterThan(0);
    const second = await evaluateConditions(
      p,
      contexts,
      [
        { kind: 'matched', name: 'matched', targetTokens: 3 * one },
        { kind: 'written', name: 'written', write: (c) => `${c.passage}\n${c.passage}` },
      ],
      s,
      run,
      { quiet: true },
    );
    const seqs = (name: string) =>
      run
        .records()
        .filter((r) => r['kind'] === 'eval' && r['condition'] === name)
        .map((r) => r['sequences'] as number);
    // Draw 0 of the matched condition is the base self-edit itself; more draws only add sequences.
    const base = seqs('base_selfedits');
    const matched = seqs('matched');
    expect(matched.reduce((a, b) => a + b, 0)).toBeGreaterThan(base.reduce((a, b) => a + b, 0));
    for (const [i, m] of matched.entries()) expect(m).toBeGreaterThanOrEqual(base[i]!);
    // The realised length is recorded: more than one sample's, and at most the target plus one sample (≤ 8 tokens).
    const realised = second['matched']!.selfEditTokens!;
    expect(realised).toBeGreaterThan(one);
    expect(realised).toBeLessThanOrEqual(3 * one + 8);
    expect(seqs('written').every((n) => n >= 1)).toBe(true);
  });
});
