/**
 * A self-contained HTML file opened in headless Chromium (Debian's /usr/bin/chromium via playwright-core), with
 * every console error and page error collected. Tests skip themselves where `hasChromium` is false.
 */
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);

/** Runs `check` on `file` opened in a fresh browser; the browser is closed afterwards whatever happens. */
export async function inChromium(file: string, check: (page: Page, errors: string[]) => Promise<void>) {
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
    await check(page, errors);
  } finally {
    await browser.close();
  }
}
