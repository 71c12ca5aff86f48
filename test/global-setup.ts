/**
 * Builds dist/ before any test runs when it is missing or older than a source file: several tests spawn the built
 * CLI and worker threads, so `npx vitest run test/x.test.ts` alone must not test a stale build. (`npm test`
 * builds first anyway; then this finds dist/ current and does nothing.)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');

function newest(dir: string): number {
  let t = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    t = Math.max(t, st.isDirectory() ? newest(p) : st.mtimeMs);
  }
  return t;
}

export default function setup(): void {
  const cli = join(ROOT, 'dist', 'app', 'cli', 'main.js');
  if (existsSync(cli) && statSync(cli).mtimeMs >= newest(join(ROOT, 'src'))) return;
  const r = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: ROOT,
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`building dist/ for the tests failed:\n${r.stdout}${r.stderr}`);
}
