/**
 * The delta-mode experiment end to end on the bundled model with tiny budgets: every table keeps its per-context
 * rows, the magnitude sweep gives the trade-off points, the stacking rows are written, and the report renders its
 * charts in headless Chromium (skipped where Chromium is not installed; .ci/run installs it).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, inChromium } from './helpers/chromium.js';
import { ROOT, tempDir } from './helpers/paths.js';

const SCRIPT = join(ROOT, 'dist', 'app', 'experiments', 'delta-mode.js');

describe('experiment:delta with --magnitudes and --stack', () => {
  const out = join(tempDir(), 'delta');
  let stdout = '';

  beforeAll(() => {
    const r = spawnSync(
      process.execPath,
      [
        SCRIPT,
        '--people',
        '4',
        '--split',
        'val',
        '--train-people',
        '40',
        '--optimizers',
        'direct',
        '--direct-steps',
        '4',
        '--magnitudes',
        '0,0.01',
        '--stack',
        '--out',
        out,
      ],
      { encoding: 'utf8', timeout: 240_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    stdout = r.stdout;
  }, 300_000);

  it('writes every per-context row, one table per magnitude weight, and the stacking rows', () => {
    const records = readFileSync(join(out, 'results.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const evals = records.filter((r) => r['kind'] === 'delta-eval') as {
      magnitudeWeight: number;
      scores: Record<string, { perContext: { id: string; retention: number }[] }>;
    }[];
    expect(evals.map((e) => e.magnitudeWeight)).toEqual([0, 0.01]);
    // The LoRA rows are measured once (they do not depend on the generator).
    expect(Object.keys(evals[0]!.scores)).toEqual([
      'delta_direct',
      'delta_direct_shuffled',
      'passage',
      'seal',
    ]);
    expect(Object.keys(evals[1]!.scores)).toEqual(['delta_direct', 'delta_direct_shuffled']);
    for (const e of evals)
      for (const s of Object.values(e.scores)) {
        expect(s.perContext.map((r) => r.id)).toEqual(['val-0000', 'val-0001', 'val-0002', 'val-0003']);
        for (const r of s.perContext) expect(r.retention).toBeGreaterThanOrEqual(0);
      }
    // 4 people: groups of 1, 2 and 4 (8 and 16 need more people), for each weight's generator (summed and routed)
    // and, once, both LoRA conditions.
    const stack = records.filter((r) => r['kind'] === 'delta-stack') as {
      condition: string;
      size: number;
      members: unknown[];
    }[];
    // Per size, every condition's groups: summed and routed edits, then (first weight only) the LoRA conditions.
    const sizes = (conditions: number) =>
      [1, 2, 4].flatMap((size) => Array<number>(conditions * (4 / size)).fill(size));
    expect(stack.map((r) => r.size)).toEqual([...sizes(4), ...sizes(2)]);
    expect([...new Set(stack.map((r) => r.condition))]).toEqual([
      'delta_direct@0',
      'delta_direct@0_routed',
      'passage',
      'seal',
      'delta_direct@0.01',
      'delta_direct@0.01_routed',
    ]);
    for (const r of stack) expect(r.members).toHaveLength(r.size);
    expect(stdout).toContain('"optimizer":"direct@0.01"');
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'))).toHaveProperty([
      'summary',
      'direct@0',
    ]);
  });

  it('policy-gradient flags without a policy gradient (or --minibatches with REINFORCE) are usage errors, nothing written', () => {
    for (const [flags, message] of [
      [['--optimizers', 'direct', '--constant-lr'], '--constant-lr: only PPO and REINFORCE read it'],
      [
        ['--optimizers', 'direct', '--shared-neighbour'],
        '--shared-neighbour: only PPO and REINFORCE read it',
      ],
      [
        ['--optimizers', 'ppo,reinforce', '--minibatches', '4'],
        '--minibatches: REINFORCE takes the whole rollout',
      ],
    ] as const) {
      const dir = join(tempDir(), 'refused');
      const r = spawnSync(process.execPath, [SCRIPT, '--people', '1', ...flags, '--out', dir], {
        encoding: 'utf8',
        timeout: 120_000,
      });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(message);
      expect(existsSync(dir)).toBe(false);
    }
  });

  it('--skip-lora measures the generator alone (the LoRA rows come from another run of the same people)', () => {
    const dir = join(tempDir(), 'skip-lora');
    const skip = spawnSync(
      process.execPath,
      [
        ...[SCRIPT, '--people', '2', '--split', 'val', '--train-people', '8', '--optimizers', 'direct'],
        ...['--direct-steps', '2', '--skip-lora', '--save', join(dir, 'gen'), '--out', dir],
      ],
      { encoding: 'utf8', timeout: 240_000 },
    );
    expect(skip.status, skip.stderr).toBe(0);
    const evals = readFileSync(join(dir, 'results.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; scores?: Record<string, unknown> })
      .filter((x) => x.kind === 'delta-eval');
    expect(evals.map((e) => Object.keys(e.scores ?? {}))).toEqual([
      ['delta_direct', 'delta_direct_shuffled'],
    ]);
    // The saved generator's stacks (experiment:delta-stack): summed and routed by scope, no composition.
    const stackDir = join(dir, 'stack');
    const stacked = spawnSync(
      process.execPath,
      [
        join(ROOT, 'dist', 'app', 'experiments', 'delta-stack.js'),
        ...['--generator', join(dir, 'gen', 'direct'), '--people', '2', '--mus', 'none', '--out', stackDir],
      ],
      { encoding: 'utf8', timeout: 240_000 },
    );
    expect(stacked.status, stacked.stderr).toBe(0);
    const rows = readFileSync(join(stackDir, 'results.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map(
        (l) => JSON.parse(l) as { kind: string; condition: string; size: number; members: { es: number }[] },
      )
      .filter((x) => x.kind === 'delta-stack');
    expect(rows.map((r) => `${r.condition}×${r.size}`)).toEqual([
      ...['sum×1', 'sum×1', 'routed×1', 'routed×1', 'sum×2', 'routed×2'],
    ]);
    // A stack of one is the edit alone, summed or routed.
    const es = (c: string) =>
      rows.filter((r) => r.condition === c && r.size === 1).map((r) => r.members[0]!.es);
    expect(es('routed')).toEqual(es('sum'));
    expect(stacked.stdout).toMatch(/routed\s+2\s+ES/);
  }, 300_000);

  it('refuses an existing --out and a bad flag before writing anything', () => {
    const again = spawnSync(process.execPath, [SCRIPT, '--out', out], { encoding: 'utf8' });
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/--out .* exists/);
    const fresh = join(tempDir(), 'never');
    const bad = spawnSync(
      process.execPath,
      [SCRIPT, '--optimizers', 'ppo', '--action', 'tokens', '--out', fresh],
      { encoding: 'utf8' },
    );
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/optimizer\.action: .*fastCode/);
    expect(existsSync(fresh)).toBe(false);
    const pool = spawnSync(process.execPath, [SCRIPT, '--locality-people', 'everyone', '--out', fresh], {
      encoding: 'utf8',
    });
    expect(pool.status).toBe(2);
    expect(pool.stderr).toMatch(/--locality-people everyone: known or pretrain or all/);
    expect(existsSync(fresh)).toBe(false);
  });

  it.runIf(hasChromium)(
    'the report draws the trade-off and stacking charts with no console error',
    async () => {
      const file = join(out, 'report.html');
      await inChromium(file, async (page, errors) => {
        await page.waitForFunction('window.__chartsRendered === 2', undefined, { timeout: 10_000 });
        expect(await page.textContent('#tradeoff')).toMatch(/weight 0: .*weight 0\.01: /);
        expect(await page.textContent('#stack')).toContain('delta_direct@0.01');
        expect(errors).toEqual([]);
      });
    },
  );
});
