/**
 * Command-line options of the experiment scripts (`node dist/app/experiments/*.js`): node's parseArgs, plus `--help`
 * (the usage and every option with its default) and a usage error (exit 2) instead of a stack trace.
 */
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { z } from 'zod';
import { SealError } from '../../errors.js';
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

/** The command-line flag of an options-schema key: `rlContexts` → `--rl-contexts`. */
export function flagOf(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** ` (default X)` of a schema field, for the usage text. */
function defaultOf(field: z.ZodType): string {
  const d = field.safeParse(undefined);
  return d.success && d.data !== undefined ? ` (default ${String(d.data)})` : '';
}

/** The usage text of an experiment whose options are `schema`: the header, then every flag with its description. */
export function schemaUsage(header: string, schema: z.ZodObject): string {
  const lines = Object.entries(schema.shape).map(
    ([k, v]) => `  ${flagOf(k)}: ${(v as z.ZodType).description ?? ''}${defaultOf(v as z.ZodType)}`,
  );
  return `${header.trim()}\n${lines.join('\n')}`;
}

/**
 * An experiment's options from the command line, validated once through its strict zod schema (one string flag
 * per key, `--help` prints `schemaUsage`): an unknown flag or a bad value is a usage error naming the flag (exit 2)
 * before anything is written. Returns the options and the keys the user set (for options another one excludes).
 */
export function schemaArgs<S extends z.ZodObject>(
  argv: readonly string[],
  schema: S,
  header: string,
): { options: z.output<S>; given: string[] } {
  const usage = schemaUsage(header, schema);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${usage}\n  -h, --help\n`);
    process.exit(0);
  }
  const flags = Object.fromEntries(
    Object.keys(schema.shape).map((k) => [flagOf(k).slice(2), { type: 'string' as const }]),
  );
  let values: Record<string, string | undefined>;
  try {
    values = parseArgs({ args: [...argv], options: flags }).values as Record<string, string | undefined>;
  } catch (e) {
    return usageError(`${(e as Error).message}`, usage);
  }
  const given = Object.fromEntries(
    Object.entries(values)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()), v]),
  );
  const parsed = schema.safeParse(given);
  if (!parsed.success)
    return usageError(
      parsed.error.issues.map((i) => `${flagOf(i.path.join('.'))}: ${i.message}`).join('\n'),
      usage,
    );
  return { options: parsed.data, given: Object.keys(given) };
}

/** A usage error: the message and the usage on stderr, exit 2. */
export function usageError(message: string, usage: string): never {
  process.stderr.write(`${message}\n\n${usage}\n(--help lists every option)\n`);
  process.exit(2);
}

/** Runs an experiment's main: a SealError (bad input, a refused resume) is its message on stderr and exit 1, no stack. */
export async function experimentMain(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (e) {
    if (!(e instanceof SealError)) throw e;
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  }
}
