import { describe, expect, it } from 'vitest';
import { formatTable } from '../src/seal/eval/evaluate.js';
import { meanCi, tQuantile975 } from '../src/seal/eval/stats.js';

describe('statistics', () => {
  it('mean and t-based 95% CI', () => {
    const r = meanCi([1, 2, 3, 4]);
    expect(r.mean).toBe(2.5);
    // sd = 1.29099, se = 0.645497, t(3) = 3.182
    expect(r.ci95[0]).toBeCloseTo(2.5 - 3.182 * 0.645497, 4);
    expect(r.ci95[1]).toBeCloseTo(2.5 + 3.182 * 0.645497, 4);
    expect(meanCi([0.5]).ci95).toEqual([0.5, 0.5]);
    expect(meanCi([]).n).toBe(0);
    expect(tQuantile975(1000)).toBe(1.96);
  });

  it('formats a results table', () => {
    const t = formatTable({ base: meanCi([0, 0]), seal: meanCi([0.5, 1]) });
    expect(t.split('\n')).toEqual([
      'condition  accuracy %           95% CI  n',
      '---------  ----------  ---------------  -',
      'base              0.0       [0.0, 0.0]  2',
      'seal             75.0  [-242.6, 392.6]  2',
    ]);
  });
});
