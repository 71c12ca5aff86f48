/**
 * A run directory: `runs/<task>-<mode>-<seed>-<timestamp>/` with the resolved `config.json` (plus package version),
 * an append-only `results.jsonl`, and whatever checkpoints the run writes. Appends are line-atomic, so a crash
 * loses at most the line being written; readers skip a torn last line.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageVersion } from '../version.js';

export function runName(task: string, mode: string, seed: number, date = new Date()): string {
  const ts = date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${task}-${mode}-${seed}-${ts}`;
}

export class RunDir {
  constructor(readonly dir: string) {}

  static create(root: string, name: string, config: unknown): RunDir {
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'config.json'),
      `${JSON.stringify({ version: packageVersion(), config }, null, 2)}\n`,
    );
    return new RunDir(dir);
  }

  get resultsFile(): string {
    return join(this.dir, 'results.jsonl');
  }

  append(record: Record<string, unknown>): void {
    appendFileSync(this.resultsFile, `${JSON.stringify(record)}\n`);
  }

  /** Every complete line of results.jsonl (a torn last line from a crash is ignored). */
  records(): Record<string, unknown>[] {
    if (!existsSync(this.resultsFile)) return [];
    const out: Record<string, unknown>[] = [];
    for (const line of readFileSync(this.resultsFile, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      try {
        out.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // torn line
      }
    }
    return out;
  }

  writeJson(name: string, value: unknown): void {
    writeFileSync(join(this.dir, name), `${JSON.stringify(value, null, 2)}\n`);
  }
}
