import { spawnSync } from 'node:child_process';
import { CLI } from './paths.js';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
}

/** Runs the built `seal` CLI (npm test builds dist/ first) in a child process. */
export function seal(args: readonly string[], timeoutMs = 120_000, opts: CliOptions = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    timeout: timeoutMs,
    ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
    ...(opts.env === undefined ? {} : { env: { ...process.env, ...opts.env } }),
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
