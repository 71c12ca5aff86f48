/**
 * Command-line parsing driven by zod schemas: each command declares one `z.object` whose field descriptions
 * (`.describe()`) are its `--help`. Flags are the kebab-case field names; values are coerced by the field's type
 * and validated once, here, at the boundary.
 */
import type { z } from 'zod';
import { SealError } from '../../errors.js';
import { readJsonFile, validate } from '../../util/json.js';

export type AnyObject = z.ZodObject<z.ZodRawShape>;

export interface Command<S extends AnyObject = AnyObject> {
  readonly name: string;
  readonly summary: string;
  readonly schema: S;
  /** Field names filled from positional arguments, in order. */
  readonly positional?: readonly string[];
  /** Extra help text after the options (examples). */
  readonly examples?: readonly string[];
  run(options: z.infer<S>): Promise<void>;
}

/** Usage mistakes (exit code 2) as opposed to failures of the work itself (exit code 1). */
export class UsageError extends SealError {}

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const camel = (s: string) => s.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

interface FieldInfo {
  readonly base: string; // zod def type of the unwrapped field: number | string | boolean | enum | array ...
  readonly optional: boolean;
  readonly defaultValue: unknown;
  readonly description: string;
  readonly choices: readonly string[] | undefined;
}

interface ZodLike {
  readonly description?: string;
  readonly _zod: {
    readonly def: {
      readonly type: string;
      readonly innerType?: ZodLike;
      readonly defaultValue?: unknown;
      readonly entries?: Record<string, string>;
    };
  };
}

export function fieldInfo(field: unknown): FieldInfo {
  let f = field as ZodLike;
  let optional = false;
  let defaultValue: unknown;
  const description = f.description ?? '';
  for (;;) {
    const def = f._zod.def;
    if (def.type === 'optional' || def.type === 'nullable') optional = true;
    else if (def.type === 'default' || def.type === 'prefault') {
      optional = true;
      defaultValue =
        typeof def.defaultValue === 'function' ? (def.defaultValue as () => unknown)() : def.defaultValue;
    } else break;
    if (def.innerType === undefined) break;
    f = def.innerType;
  }
  const def = f._zod.def;
  return {
    base: def.type,
    optional,
    defaultValue,
    description: description || f.description || '',
    choices: def.type === 'enum' && def.entries !== undefined ? Object.values(def.entries) : undefined,
  };
}

export function parseArgs<S extends AnyObject>(
  cmd: Command<S>,
  argv: readonly string[],
): z.infer<S> | 'help' {
  const shape = cmd.schema.shape as Record<string, unknown>;
  const raw: Record<string, unknown> = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--help' || a === '-h') return 'help';
    if (!a.startsWith('--') || a === '--') {
      positionals.push(a);
      continue;
    }
    let name = a.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    let key = camel(name);
    let negated = false;
    if (!(key in shape) && name.startsWith('no-') && camel(name.slice(3)) in shape) {
      key = camel(name.slice(3));
      negated = true;
    }
    if (!(key in shape)) throw new UsageError(`unknown option --${name} (see \`seal ${cmd.name} --help\`)`);
    const info = fieldInfo(shape[key]);
    if (info.base === 'boolean') {
      if (value !== undefined && value !== 'true' && value !== 'false')
        throw new UsageError(`--${name}: expected true or false, got "${value}"`);
      raw[key] = negated ? false : value !== 'false';
      continue;
    }
    if (negated) throw new UsageError(`--no-${kebab(key)} is only valid for on/off options`);
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2))
        throw new UsageError(`--${name} needs a value`);
      value = next;
      i++;
    }
    raw[key] = coerce(info, name, value, raw[key]);
  }
  const posNames = cmd.positional ?? [];
  if (positionals.length > posNames.length)
    throw new UsageError(
      `unexpected argument "${positionals[posNames.length]}" (see \`seal ${cmd.name} --help\`)`,
    );
  positionals.forEach((p, i) => {
    const key = posNames[i] as string;
    raw[key] = coerce(fieldInfo(shape[key]), key, p, undefined);
  });
  const r = cmd.schema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    const field = issue?.path[0];
    const flag =
      typeof field === 'string'
        ? posNames.includes(field)
          ? field.toUpperCase()
          : `--${kebab(field)}`
        : '(options)';
    throw new UsageError(`${flag}: ${issue?.message ?? 'invalid'}`);
  }
  return r.data;
}

function coerce(info: FieldInfo, name: string, value: string, previous: unknown): unknown {
  switch (info.base) {
    case 'number': {
      const n = Number(value);
      if (value.trim() === '' || !Number.isFinite(n))
        throw new UsageError(`--${name}: expected a number, got "${value}"`);
      return n;
    }
    case 'array':
      return [...((previous as unknown[] | undefined) ?? []), value];
    default:
      return value;
  }
}

export function helpText<S extends AnyObject>(cmd: Command<S>): string {
  const shape = cmd.schema.shape as Record<string, unknown>;
  const pos = cmd.positional ?? [];
  const lines = [
    `seal ${cmd.name}${pos.map((p) => ` ${p.toUpperCase()}`).join('')} [options]`,
    '',
    cmd.summary,
    '',
    'Options:',
  ];
  const rows: [string, string][] = [];
  for (const [key, field] of Object.entries(shape)) {
    const info = fieldInfo(field);
    const flag = pos.includes(key) ? `${key.toUpperCase()} (or --${kebab(key)})` : `--${kebab(key)}`;
    const meta =
      info.base === 'boolean'
        ? ''
        : info.choices
          ? ` <${info.choices.join('|')}>`
          : info.base === 'array'
            ? ' <value> (repeatable)'
            : ` <${info.base}>`;
    const extra =
      info.defaultValue !== undefined
        ? ` (default: ${JSON.stringify(info.defaultValue)})`
        : info.optional
          ? ''
          : ' (required)';
    rows.push([`  ${flag}${meta}`, `${info.description}${extra}`]);
  }
  rows.push(['  -h, --help', 'Show this help']);
  const w = Math.min(44, Math.max(...rows.map(([a]) => a.length)) + 2);
  for (const [a, b] of rows) lines.push(a.length >= w ? `${a}\n${' '.repeat(w)}${b}` : `${a.padEnd(w)}${b}`);
  if (cmd.examples && cmd.examples.length > 0)
    lines.push('', 'Examples:', ...cmd.examples.map((e) => `  ${e}`));
  return lines.join('\n');
}

/** A JSON config file (or `{}` without one) validated by `schema`; errors name the file and the field. */
export function readJsonConfig<S extends z.ZodType>(schema: S, file: string | undefined): z.infer<S> {
  return file === undefined ? validate(schema, {}, '(defaults)') : readJsonFile(schema, file);
}
