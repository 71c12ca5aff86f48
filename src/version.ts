import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** The package version, recorded in every checkpoint and results file. */
export function packageVersion(): string {
  if (cached === undefined) {
    // src/version.ts and dist/version.js both sit one level below the package root.
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    cached = pkg.version;
  }
  return cached;
}
