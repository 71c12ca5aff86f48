/**
 * The report of a tiny real run, rendered in headless Chromium (Debian's /usr/bin/chromium via playwright-core):
 * every chart draws and the page logs no console error. Skipped only where Chromium is not installed (.ci/run
 * installs it).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../src/engine/index.js';
import { PretrainConfigSchema, pretrainPeopleModel } from '../src/tasks/people/pretrain.js';
import { seal } from './helpers/cli.js';
import { tempDir } from './helpers/paths.js';

const CHROMIUM = '/usr/bin/chromium';

describe.runIf(existsSync(CHROMIUM))('run report in headless Chromium', () => {
  let runDir = '';

  beforeAll(async () => {
    await initEngine('wasm');
    const out = tempDir();
    await pretrainPeopleModel(
      PretrainConfigSchema.parse({
        world: { seed: 7, pretrainPeople: 8, rlPeople: 3, evalPeople: 3, biosPerPerson: 2 },
        copyDemos: 10,
        vocabSize: 400,
        model: { dim: 32, nLayers: 1, nHeads: 2, hiddenDim: 64, maxSeqLen: 256, seed: 1 },
        train: { steps: 3, batchSize: 4, seqLen: 64, lr: 3e-3 },
        evalPeople: 0,
      }),
      out,
      { quiet: true },
    );
    const runs = tempDir();
    const r = seal(['demo', '--model', join(out, 'model'), '--quick', '--rounds', '2', '--out', runs]);
    expect(r.code, r.stderr).toBe(0);
    runDir = join(runs, readdirSync(runs)[0] as string);
  });

  it('summary.json holds every condition; the report renders its charts with no console error', async () => {
    const summary = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as {
      results: Record<string, unknown>;
      seeds: number[];
      elapsed_s: number;
    };
    for (const k of [
      'base',
      'passage',
      'base_selfedits',
      'static_augmentation',
      'seal',
      'seal_round_1',
      'seal_round_2',
    ])
      expect(summary.results, k).toHaveProperty(k);
    const file = join(runDir, 'report.html');
    expect(existsSync(file)).toBe(true);
    const html = readFileSync(file, 'utf8');
    expect(html).not.toMatch(/<script[^>]+src=/); // self-contained: works offline
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(pathToFileURL(file).href);
      // Browser-side code as strings: the test compiles without DOM typings.
      await page.waitForFunction('window.__chartsRendered === 3', undefined, { timeout: 10_000 });
      // Each canvas has drawn pixels (not blank).
      const painted = (await page.evaluate(`[...document.querySelectorAll('canvas')].map((c) => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
        return n;
      })`)) as number[];
      expect(painted).toHaveLength(3);
      for (const p of painted) expect(p).toBeGreaterThan(100);
      expect(await page.textContent('#results')).toContain('static_augmentation');
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
