#!/usr/bin/env node
/**
 * The `seal` command. Each subcommand is a `Command` with a zod schema; help text comes from the schemas.
 * Errors from bad input are printed as one line (no stack trace) with exit code 1; usage mistakes exit with 2.
 */
import { SealError } from '../../errors.js';
import { packageVersion } from '../../version.js';
import { type AnyObject, type Command, helpText, parseArgs, UsageError } from './args.js';
import { adaptCommand } from './commands/adapt.js';
import { askCommand } from './commands/ask.js';
import { convertCommand } from './commands/convert.js';
import { demoCommand } from './commands/demo.js';
import { evalCommand } from './commands/eval.js';
import { generateCommand } from './commands/generate.js';
import { infoCommand } from './commands/info.js';
import { pretrainCommand } from './commands/pretrain.js';
import { reportCommand } from './commands/report.js';
import { runsCommand } from './commands/runs.js';
import { solveCommand } from './commands/solve.js';
import { tasksCommand } from './commands/tasks.js';
import { trainCommand } from './commands/train.js';
import { workerCommand } from './commands/worker.js';
import { worldCommand } from './commands/world.js';

const commands: readonly Command<AnyObject>[] = [
  demoCommand,
  generateCommand,
  convertCommand,
  worldCommand,
  tasksCommand,
  pretrainCommand,
  trainCommand,
  evalCommand,
  workerCommand,
  adaptCommand,
  solveCommand,
  askCommand,
  reportCommand,
  runsCommand,
  infoCommand,
] as unknown as readonly Command<AnyObject>[];

function mainHelp(): string {
  const w = Math.max(...commands.map((c) => c.name.length)) + 2;
  return [
    `seal ${packageVersion()} — self-adapting language models (SEAL) on a laptop CPU`,
    '',
    'Usage: seal <command> [options]     (seal <command> --help for its options)',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(w)}${c.summary}`),
  ].join('\n');
}

/**
 * A closed stdout (`seal generate … | head -c 5`) ends the command quietly, as `cat` would; a full or broken one
 * (`> /dev/full`) is one line on stderr and exit 1. Never a stack trace.
 */
function guardStdout(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    process.stderr.write(`seal: error: cannot write to standard output (${e.code ?? e.message})\n`);
    process.exit(1);
  });
}

/** Operating-system errors on a named path (permission, read-only file system, disk full …) as one line. */
function systemErrorLine(e: unknown): string | undefined {
  const err = e as NodeJS.ErrnoException;
  if (typeof err?.code !== 'string' || !/^E[A-Z]+$/.test(err.code)) return undefined;
  const what: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'read-only file system',
    ENOSPC: 'no space left on device',
    ENOENT: 'no such file or directory',
    ENOTDIR: 'a path component is not a directory',
    EISDIR: 'is a directory',
    EEXIST: 'already exists',
    ENOTEMPTY: 'directory not empty',
    EMFILE: 'too many open files',
  };
  return `${err.path ?? err.syscall ?? 'file'}: ${what[err.code] ?? 'system error'} (${err.code})`;
}

/** Levenshtein distance, for "did you mean". */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(
        (prev[j] as number) + 1,
        (cur[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    prev = cur;
  }
  return prev[b.length] as number;
}

export async function main(argv: readonly string[]): Promise<number> {
  guardStdout();
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${mainHelp()}\n`);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  const cmd = commands.find((c) => c.name === name);
  if (cmd === undefined) {
    const near = commands.find((c) => editDistance(c.name, name) <= 2);
    process.stderr.write(
      `seal: unknown command "${name}"${near === undefined ? '' : ` (did you mean ${near.name}?)`}; \`seal --help\` lists the commands\n`,
    );
    return 2;
  }
  try {
    const opts = parseArgs(cmd, rest);
    if (opts === 'help') {
      process.stdout.write(`${helpText(cmd)}\n`);
      return 0;
    }
    await cmd.run(opts);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`seal ${cmd.name}: ${e.message}\n`);
      return 2;
    }
    if (e instanceof SealError) {
      process.stderr.write(`seal ${cmd.name}: error: ${e.message}\n`);
      return 1;
    }
    if (process.env['SEAL_DEBUG'] !== undefined) throw e;
    const sys = systemErrorLine(e);
    if (sys !== undefined) {
      process.stderr.write(`seal ${cmd.name}: error: ${sys}\n`);
      return 1;
    }
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(
      `seal ${cmd.name}: internal error: ${msg.split('\n')[0]}\n(set SEAL_DEBUG=1 for the stack trace)\n`,
    );
    return 1;
  }
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
