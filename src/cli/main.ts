#!/usr/bin/env node
/**
 * The `seal` command. Each subcommand is a `Command` with a zod schema; help text comes from the schemas.
 * Errors from bad input are printed as one line (no stack trace) with exit code 1; usage mistakes exit with 2.
 */
import { SealError } from '../errors.js';
import { packageVersion } from '../version.js';
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
import { trainCommand } from './commands/train.js';
import { worldCommand } from './commands/world.js';

const commands: readonly Command<AnyObject>[] = [
  demoCommand,
  generateCommand,
  convertCommand,
  worldCommand,
  pretrainCommand,
  trainCommand,
  evalCommand,
  adaptCommand,
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

export async function main(argv: readonly string[]): Promise<number> {
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
    process.stderr.write(`seal: unknown command "${name}"\n\n${mainHelp()}\n`);
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
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(
      `seal ${cmd.name}: internal error: ${msg.split('\n')[0]}\n(set SEAL_DEBUG=1 for the stack trace)\n`,
    );
    return 1;
  }
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
