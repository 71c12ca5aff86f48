/**
 * The experiment scripts' command lines (one parser, `schemaArgs`, over each script's strict options schema):
 * `--help` documents every option with its description, and a bad value, an unknown flag or a missing required
 * option is a usage error (exit 2) naming the flag, before anything is loaded or written.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, tempDir } from './helpers/paths.js';

const script = (name: string) => join(ROOT, 'dist', 'app', 'experiments', `${name}.js`);
const run = (name: string, args: string[]) =>
  spawnSync(process.execPath, [script(name), ...args], { encoding: 'utf8', timeout: 60_000 });

describe('experiment scripts: options', () => {
  it.each([
    ['alarm', ['--policy: ', '--people: ', '--repeats: ', '--workers: ', '--out: ']],
    ['inner-sweep', ['--model: ', '--lrs: ', '--epochs: ', '--rank: ', '--split: ']],
    ['selfedit-usefulness', ['--people: ', '--k: ', '--policy: ', '--seed: ', '--style: ']],
    ['grids-feasibility', ['--model: ', '--out: ', '--val: ', '--pretrain: ', '--recipes: ', '--rank: ']],
    ['grids-table', ['--model: ', '--out: ', '--runs: ', '--sft-lr: ', '--eval-temperature: ']],
  ])('%s --help describes every option', (name, flags) => {
    const r = run(name, ['--help']);
    expect(r.status).toBe(0);
    for (const f of flags) expect(r.stdout).toMatch(new RegExp(`${f}\\S`)); // a description follows
  });

  it.each([
    ['alarm', ['--repeats', '1'], '--repeats: '],
    ['alarm', ['--people', 'many'], '--people: '],
    ['inner-sweep', ['--model', 'm', '--lrs', '1e-3,x'], '--lrs: expected numbers > 0 separated by commas'],
    ['inner-sweep', ['--model', 'm', '--split', 'test'], '--split: '],
    ['inner-sweep', [], '--model: '],
    ['selfedit-usefulness', ['--style', 'poems'], '--style: '],
    ['grids-feasibility', ['--model', 'm', '--recipes', 'nope'], '--recipes: unknown recipe nope'],
    ['grids-table', ['--tasks', '0'], '--tasks: '],
    ['grids-table', ['--bogus', '1'], "Unknown option '--bogus'"],
  ])('%s %j is a usage error naming the flag', (name, args, message) => {
    const out = join(tempDir(), 'out');
    // --out only where the script has it (a usage error must come before anything is written there)
    const withOut = ['alarm', 'grids-feasibility', 'grids-table'].includes(name) ? ['--out', out] : [];
    const r = run(name, [...args, ...withOut]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(message);
    expect(existsSync(out)).toBe(false);
  });
});
