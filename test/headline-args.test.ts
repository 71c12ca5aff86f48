/**
 * experiment:headline's command line: options that the chosen score or outer loop would silently ignore, and values
 * out of range, are refused with a usage error before anything is written (nothing is computed here).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, tempDir } from './helpers/paths.js';

const SCRIPT = join(ROOT, 'dist', 'app', 'experiments', 'headline.js');

describe('experiment:headline arguments', () => {
  it.each([
    [['--score', 'reward', '--length-weight', '0.5'], /--length-weight: --score length-neutral only/],
    [['--score', 'length-neutral', '--length-weight', '2'], /--length-weight: expected 0 … 1, got 2/],
    [['--score', 'length-neutral', '--length-weight', ''], /--length-weight: expected 0 … 1/],
    [['--outer', 'grpo', '--keep', '2'], /--keep: ReST-EM only/],
  ])('%j is refused', (flags, message) => {
    const out = join(tempDir(), 'table');
    const r = spawnSync(process.execPath, [SCRIPT, ...flags, '--out', out], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(existsSync(out)).toBe(false);
  });
});
