/**
 * The bioS attribute lists and sentence templates (Physics of Language Models 3.1, Apache-2.0) that the people world
 * draws from, loaded from the copy the package ships in `assets/bios` (see its NOTICE.md).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { fail } from '../../errors.js';

/** The six facts every person has, in the order questions are asked. */
export const ATTRIBUTES = [
  'birth_date',
  'birth_city',
  'university',
  'field',
  'company',
  'company_city',
] as const;
export type Attribute = (typeof ATTRIBUTES)[number];

export interface Company {
  readonly name: string;
  /** Where the company is based, as written in company.txt, e.g. `Chicago, IL` (one entry is `Toronto, Canada`). */
  readonly city: string;
}

/** Sentence templates per attribute; each contains `{name}` once and the attribute's own placeholder once. */
export type BioTemplates = Readonly<Record<Attribute, readonly string[]>>;

export interface BiosData {
  readonly firstNames: readonly string[];
  readonly middleNames: readonly string[];
  readonly lastNames: readonly string[];
  readonly cities: readonly string[];
  readonly universities: readonly string[];
  readonly fields: readonly string[];
  readonly companies: readonly Company[];
  readonly jobs: readonly string[];
  readonly templates: BioTemplates;
}

// src/tasks/people/data.ts and dist/tasks/people/data.js are both three levels below the package root.
export const BIOS_ASSET_DIR: URL = new URL('../../../assets/bios/', import.meta.url);

/** The placeholder each attribute's templates use in bioS_templates.json (upstream's variable names). */
export const TEMPLATE_PLACEHOLDERS: Readonly<Record<Attribute, string>> = {
  birth_date: 'birthday',
  birth_city: 'birthcity',
  university: 'university',
  field: 'field',
  company: 'company1name',
  company_city: 'company1city',
};

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const reason = error instanceof Error && 'code' in error ? String(error.code) : String(error);
    return fail(`cannot read bios data file (${reason})`, file);
  }
}

/**
 * Non-blank trimmed lines (the upstream files use CRLF), duplicates dropped keeping the first: job.txt repeats two
 * entries, and a repeated value would silently be drawn twice as often.
 */
function readList(file: string): { value: string; line: number }[] {
  const seen = new Set<string>();
  const out: { value: string; line: number }[] = [];
  readText(file)
    .split(/\r?\n/)
    .forEach((raw, i) => {
      const value = raw.trim();
      if (value === '' || seen.has(value)) return;
      seen.add(value);
      out.push({ value, line: i + 1 });
    });
  if (out.length === 0) fail('list is empty', file);
  return out;
}

function parseCompany(value: string, line: number, file: string): Company {
  const semi = value.indexOf(';');
  const name = semi < 0 ? '' : value.slice(0, semi).trim();
  const city = semi < 0 ? '' : value.slice(semi + 1).trim();
  if (name === '' || city === '') fail(`line ${line}: expected "Name; City, ST", got "${value}"`, file);
  return { name, city };
}

const TemplatesFile = z.object({
  templates: z.object({
    birthday: z.array(z.string()).min(1),
    birthcity: z.array(z.string()).min(1),
    university: z.array(z.string()).min(1),
    field: z.array(z.string()).min(1),
    company1city: z.array(z.string()).min(1),
    company1name: z.array(z.string()).min(1),
  }),
});

function readTemplates(file: string): BioTemplates {
  const text = readText(file);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return fail(`not valid JSON (${error instanceof Error ? error.message : String(error)})`, file);
  }
  const parsed = TemplatesFile.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return fail(`${issue.path.map(String).join('.')}: ${issue.message}`, file);
  }
  const out = {} as Record<Attribute, readonly string[]>;
  for (const attribute of ATTRIBUTES) {
    const key = TEMPLATE_PLACEHOLDERS[attribute] as keyof typeof parsed.data.templates;
    const list = parsed.data.templates[key];
    list.forEach((template, i) => {
      // Rendering substitutes exactly these two placeholders; anything else would leak braces into the text.
      const holes = template.match(/\{\w+\}/g) ?? [];
      const ok = holes.length === 2 && holes.includes('{name}') && holes.includes(`{${key}}`);
      if (!ok) fail(`templates.${key}[${i}]: expected exactly {name} and {${key}}, got "${template}"`, file);
    });
    out[attribute] = list;
  }
  return out;
}

/** Loads and checks every list and the templates from `dir` (default: the bundled `assets/bios`). */
export function loadBiosData(dir: string | URL = BIOS_ASSET_DIR): BiosData {
  const root = typeof dir === 'string' ? dir : fileURLToPath(dir);
  const list = (name: string) => readList(join(root, 'fields', `${name}.txt`));
  const values = (name: string) => list(name).map((e) => e.value);
  const companyFile = join(root, 'fields', 'company.txt');
  return {
    firstNames: values('first_name'),
    middleNames: values('middle_name'),
    lastNames: values('last_name'),
    cities: values('city'),
    universities: values('university'),
    fields: values('field'),
    companies: list('company').map((e) => parseCompany(e.value, e.line, companyFile)),
    jobs: values('job'),
    templates: readTemplates(join(root, 'bioS_templates.json')),
  };
}

let bundled: BiosData | undefined;

/** The bundled data, read once per process: worlds and passages are rendered from it on every task load. */
export function bundledBiosData(): BiosData {
  bundled ??= loadBiosData();
  return bundled;
}
