/**
 * Command-line options of the experiment scripts (`node dist/app/experiments/*.js`): node's parseArgs, plus `--help`
 * (the usage and every option with its default) and a usage error (exit 2) instead of a stack trace.
 */
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { RunDir } from '../../util/run-dir.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export function experimentArgs<const O extends Options>(
  argv: readonly string[],
  options: O,
  usage: string,
): ReturnType<typeof parseArgs<{ args: string[]; options: O }>> {
  if (argv.includes('--help') || argv.includes('-h')) {
    const lines = Object.entries(options).map(([name, o]) => {
      const value = o.type === 'string' ? ' <value>' : '';
      const def = o.default === undefined ? '' : ` (default: ${String(o.default)})`;
      return `  --${name}${value}${def}`;
    });
    process.stdout.write(`${usage.trim()}\n\nOptions:\n${lines.join('\n')}\n  -h, --help\n`);
    process.exit(0);
  }
  try {
    return parseArgs({ args: [...argv], options });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${usage.trim()}\n(--help lists every option)\n`);
    process.exit(2);
  }
}

/** The run directory `--out DIR` names (created, with `config` saved; an existing one is refused), or none. */
export function experimentRunDir(out: string | undefined, config: unknown): RunDir | undefined {
  return out === undefined ? undefined : RunDir.create(resolve(out, '..'), basename(resolve(out)), config);
}

/** The run directory `dir` (created with `config` saved, or reopened when it exists: a resumed experiment). */
export function openRunDir(dir: string, config: unknown): RunDir {
  return existsSync(join(dir, 'config.json')) ? new RunDir(dir) : RunDir.create(dir, '.', config);
}
