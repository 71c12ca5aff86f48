/**
 * JSON files validated by a zod schema, read once at the boundary: configs a user wrote, and everything read back
 * from disk (run configs, checkpoints, results). Errors name the file and the field, on one line.
 */
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { SealError } from '../errors.js';

/** One zod issue as `field: problem`, unknown keys as `unknown key "a.b" (not a field of …)`. */
export function issueLine(issue: z.core.$ZodIssue | undefined): string {
  if (issue === undefined) return 'invalid';
  const at = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => (at === '' ? k : `${at}.${k}`));
    return `unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => JSON.stringify(k)).join(', ')}`;
  }
  return `${at === '' ? '(top level)' : `field ${at}`}: ${issue.message}`;
}

/** `value` validated by `schema`; a failure is a SealError naming `file` and the first bad field. */
export function validate<S extends z.ZodType>(schema: S, value: unknown, file: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new SealError(issueLine(r.error.issues[0]), file);
  return r.data;
}

/** Reads and parses a JSON file; errors say whether it is missing, unreadable or not JSON. */
export function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SealError(code === 'ENOENT' ? 'file not found' : `cannot read (${code ?? String(e)})`, file);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new SealError(`not valid JSON (${(e as Error).message})`, file);
  }
}

/** A JSON file validated by `schema`. */
export function readJsonFile<S extends z.ZodType>(schema: S, file: string): z.infer<S> {
  return validate(schema, readJson(file), file);
}
