/**
 * The report of a tiny real run, rendered in headless Chromium (Debian's /usr/bin/chromium via playwright-core):
 * every chart draws and the page logs no console error. Skipped only where Chromium is not installed (.ci/run
 * installs it).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, inChromium } from './helpers/chromium.js';
import { seal } from './helpers/cli.js';
import { CLI, tempDir } from './helpers/paths.js';

describe('seal demo --quick and its report', () => {
  let runDir = '';

  beforeAll(() => {
    // `seal demo --quick` on the bundled default model: the run the test suite owes the demo (≤ 2 minutes).
    const runs = tempDir();
    const r = seal(['demo', '--quick', '--rounds', '2', '--out', runs], 240_000);
    expect(r.code, r.stderr).toBe(0);
    runDir = join(runs, readdirSync(runs)[0] as string);
  }, 300_000); // the demo's own limit (240 s) plus margin, not the 120 s default

  it('finishes with every condition in summary.json', () => {
    const summary = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as {
      results: Record<string, unknown>;
      forgetting: { matrix: number[][] };
    };
    expect(summary.forgetting.matrix).toHaveLength(2);
    for (const k of [
      'base',
      'passage',
      'base_selfedits',
      'static_augmentation',
      'rule_based_qa',
      'rule_based_qa_one',
      'seal',
      'seal_round_1',
      'seal_round_2',
      'cpt_passage',
      'cpt_base_selfedits',
      'cpt_seal',
      'delta_direct',
      'delta_direct_shuffled',
    ])
      expect(summary.results, k).toHaveProperty(k);
  });

  it.runIf(hasChromium)(
    'the report renders its charts in headless Chromium with no console error',
    async () => {
      const file = join(runDir, 'report.html');
      expect(existsSync(file)).toBe(true);
      const html = readFileSync(file, 'utf8');
      expect(html).not.toMatch(/<script[^>]+src=/); // self-contained: works offline
      await inChromium(file, async (page, errors) => {
        // Browser-side code as strings: the test compiles without DOM typings.
        await page.waitForFunction('window.__chartsRendered === 5', undefined, { timeout: 10_000 });
        // Each canvas has drawn pixels (not blank).
        const painted = (await page.evaluate(`[...document.querySelectorAll('canvas')].map((c) => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
        return n;
      })`)) as number[];
        expect(painted).toHaveLength(5);
        for (const p of painted) expect(p).toBeGreaterThan(100);
        expect(await page.textContent('#results')).toContain('static_augmentation');
        expect(await page.textContent('#delta')).toContain('delta_direct_shuffled');
        expect(errors).toEqual([]);
      });
    },
  );

  it("seal adapt --mode delta turns the demo's EditGenerator into a PEFT adapter that seal ask uses", () => {
    const dir = tempDir();
    const passage = join(dir, 'bio.txt');
    writeFileSync(
      passage,
      'Ann Lee Smith was born on May 1, 1990. She studied Biology at Tufts University.\n',
    );
    const out = join(dir, 'adapter');
    const r = seal([
      'adapt',
      '--model',
      'default',
      '--passage',
      passage,
      '--title',
      'Ann Lee Smith',
      '--mode',
      'delta',
      '--generator',
      join(runDir, 'edit-generator'),
      '--out',
      out,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/one EditGenerator forward pass \(\d+\.\d ms\)/);
    expect(existsSync(join(out, 'adapter_config.json'))).toBe(true);
    const ask = seal([
      'ask',
      '--model',
      'default',
      '--adapter',
      out,
      '--question',
      'Where was Ann Lee Smith born?',
    ]);
    expect(ask.code, ask.stderr).toBe(0);
    expect(ask.stdout.trim().length).toBeGreaterThan(0);
    const missing = seal([
      'adapt',
      '--model',
      'default',
      '--passage',
      passage,
      '--mode',
      'delta',
      '--out',
      join(dir, 'x'),
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--generator');
  });

  it('seal runs lists the finished demo and an interrupted run with their headline numbers', () => {
    const root = join(runDir, '..');
    const broken = join(root, 'people-rest-em-3-20261125T000000Z');
    mkdirSync(broken);
    writeFileSync(join(broken, 'config.json'), '{"version":"0.1.0","config":{}}\n');
    writeFileSync(
      join(broken, 'results.jsonl'),
      `${JSON.stringify({ kind: 'round', round: 1, meanReward: 0.25, heldOutAccuracy: 0.5 })}\n{"torn`,
    );
    const table = seal(['runs', root]);
    expect(table.code, table.stderr).toBe(0);
    const demoLine = table.stdout.split('\n').find((l) => l.startsWith(basename(runDir)));
    expect(demoLine).toMatch(/finished .*seal \d+\.\d%.* vs passage \d+\.\d%/);
    expect(table.stdout).toMatch(
      /people-rest-em-3-\S+\s+incomplete\s+1\s+round 1: held-out 50\.0%, reward 25\.0%/,
    );
    const json = JSON.parse(seal(['runs', root, '--json']).stdout) as {
      name: string;
      status: string;
      score: number;
    }[];
    expect(json.map((r) => r.status).sort()).toEqual(['finished', 'incomplete']);
    expect(json.find((r) => r.status === 'incomplete')?.score).toBe(0.5);
  });

  it('Ctrl-C stops the demo with a resume hint; --resume finishes it with the uninterrupted results', async () => {
    const parent = tempDir();
    const child = spawn(process.execPath, [CLI, 'demo', '--quick', '--rounds', '2', '--out', parent], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    // Interrupt once round 1 is checkpointed (mid-run: round 2 and the evaluations are still to come).
    const code = await new Promise<number | null>((resolve) => {
      let sent = false;
      const timer = setInterval(() => {
        const dirs = existsSync(parent) ? readdirSync(parent) : [];
        const dir = dirs[0] === undefined ? '' : join(parent, dirs[0]);
        if (!sent && dir !== '' && existsSync(join(dir, 'checkpoints', 'round-001', 'state.json'))) {
          sent = true;
          child.kill('SIGINT');
        }
      }, 20);
      child.on('exit', (c) => {
        clearInterval(timer);
        resolve(c);
      });
    });
    expect(code).toBe(130);
    expect(stderr).toContain('seal demo --resume');
    const dir = join(parent, readdirSync(parent)[0]!);
    expect(existsSync(join(dir, 'summary.json'))).toBe(false);
    const resumed = seal(['demo', '--resume', dir], 240_000);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain('resuming');
    const results = (d: string) =>
      (JSON.parse(readFileSync(join(d, 'summary.json'), 'utf8')) as { results: unknown }).results;
    expect(results(dir)).toEqual(results(runDir));
  });
});
