/**
 * experiment:headline's command line: options that the chosen score or outer loop would silently ignore, and values
 * out of range, are refused with a usage error before anything is written; `--help` documents every option of the
 * options schema; a directory holding results of another setting is refused, naming the field, and left as it was.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HeadlineOptionsSchema } from '../src/app/experiments/headline.js';
import { ROOT, tempDir } from './helpers/paths.js';

const SCRIPT = join(ROOT, 'dist', 'app', 'experiments', 'headline.js');
const headline = (args: string[]) =>
  spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8', timeout: 120_000 });

describe('experiment:headline arguments', () => {
  it.each([
    [['--score', 'reward', '--length-weight', '0.5'], /--length-weight: --score length-neutral only/],
    [['--score', 'length-neutral', '--length-weight', '2'], /--length-weight: .*1/],
    [['--score', 'length-neutral', '--length-weight', ''], /--length-weight: /],
    [['--outer', 'grpo', '--keep', '2'], /--keep: ReST-EM only/],
    [['--runs', '0'], /--runs: /],
    [['--select', 'best'], /--select: /],
    [['--rl-context', '4'], /rl-context/],
  ])('%j is refused', (flags, message) => {
    const out = join(tempDir(), 'table');
    const r = headline([...flags, '--out', out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(existsSync(out)).toBe(false);
  });

  it('--help lists every option with its description', () => {
    const r = headline(['--help']);
    expect(r.status).toBe(0);
    for (const [k, v] of Object.entries(HeadlineOptionsSchema.shape)) {
      const flag = `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
      expect(r.stdout).toContain(`${flag}: ${v.description ?? 'MISSING'}`);
    }
  });

  it('refuses to resume a directory holding another setting, naming the field, and writes nothing', () => {
    const out = join(tempDir(), 'table');
    mkdirSync(join(out, 'baselines'), { recursive: true });
    const saved = `${JSON.stringify({
      version: '0.0.0',
      config: { headline: { model: 'default', split: 'test', people: 40 }, settings: {} },
    })}\n`;
    writeFileSync(join(out, 'baselines', 'config.json'), saved);
    const r = headline(['--out', out, '--people', '2', '--seeds', '1']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/baselines: holds results of another setting \(people: 40 there, 2 now\)/);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // a message, not a stack trace
    expect(readdirSync(join(out, 'baselines'))).toEqual(['config.json']);
    expect(readFileSync(join(out, 'baselines', 'config.json'), 'utf8')).toBe(saved);
    expect(readdirSync(out)).toEqual(['baselines']);
  });
});
