import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Progress } from '../src/util/progress.js';

/** A non-TTY stream that keeps what is written. */
function sink(): { stream: NodeJS.WriteStream; text: () => string } {
  const chunks: string[] = [];
  const w = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { stream: w as unknown as NodeJS.WriteStream, text: () => chunks.join('') };
}

describe('Progress', () => {
  it("a resumed loop's earlier work counts in the bar, not in the rate or the ETA", async () => {
    const s = sink();
    const p = new Progress({ total: 1000, label: 'train', initial: 900, stream: s.stream });
    await new Promise((r) => setTimeout(r, 50));
    p.tick(1);
    p.finish();
    const line = s.text().trim();
    expect(line).toContain('901/1000');
    // One step in ~50 ms: ~20 steps/s. Counting the 900 resumed steps would claim ~18,000 per second.
    const rate = Number(/ ([\d.]+)\/s/.exec(line)?.[1]);
    expect(rate).toBeGreaterThan(0);
    expect(rate).toBeLessThan(100);
    // 99 steps left at that rate: ~5 s, where the resumed count would promise well under a second.
    const eta = /<(\d+):(\d+)/.exec(line);
    expect(Number(eta?.[1]) * 60 + Number(eta?.[2])).toBeGreaterThanOrEqual(1);
  });

  it('a fresh loop counts from zero', () => {
    const s = sink();
    const p = new Progress({ total: 10, label: 'x', stream: s.stream });
    p.tick(3);
    p.finish('done');
    expect(s.text()).toContain('3/10');
    expect(s.text()).toContain('done');
  });
});
