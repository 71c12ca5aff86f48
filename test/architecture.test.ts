/**
 * The import rules, written down once: each concept has one home and dependencies point one way,
 *
 *   base (util, errors) ← engine ← tokenizer ← model ← lora ← train ← (rl | tasks) ← seal ← app
 *
 * - `tasks` are data, prompts and scorers: they import no model, training or loop code.
 * - `rl` is generic reinforcement learning (PPO, actor-critic, environments): it imports nothing of SEAL.
 * - `seal` (self-edits, inner loops, outer loops, evaluation, delta mode, domains) may use `rl` and `tasks`.
 * - `app` (cli, demo, experiments, report, bench) and the public `index.ts` may import anything; nothing below
 *   imports them.
 * No cycles between files either. A wrong arrow fails `npm test` with the file, the import and the rule.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/paths.js';

type Layer = 'base' | 'engine' | 'tokenizer' | 'model' | 'lora' | 'train' | 'tasks' | 'rl' | 'seal' | 'app';

/** What each layer may import (besides itself). */
const RULES: Readonly<Record<Layer, readonly Layer[]>> = {
  base: [],
  engine: ['base'],
  tokenizer: ['base'],
  model: ['engine', 'tokenizer', 'base'],
  lora: ['model', 'engine', 'base'],
  train: ['lora', 'model', 'tokenizer', 'engine', 'base'],
  tasks: ['tokenizer', 'base'],
  rl: ['train', 'lora', 'model', 'engine', 'base'],
  seal: ['rl', 'tasks', 'train', 'lora', 'model', 'tokenizer', 'engine', 'base'],
  app: ['seal', 'rl', 'tasks', 'train', 'lora', 'model', 'tokenizer', 'engine', 'base'],
};

function layerOf(file: string): Layer {
  const rel = relative(join(ROOT, 'src'), file).replaceAll('\\', '/');
  const top = rel.includes('/') ? rel.slice(0, rel.indexOf('/')) : rel;
  switch (top) {
    case 'util':
    case 'errors.ts':
    case 'version.ts':
    case 'assets.ts':
      return 'base';
    case 'engine':
    case 'tokenizer':
    case 'model':
    case 'lora':
    case 'train':
    case 'tasks':
    case 'rl':
    case 'seal':
    case 'app':
      return top;
    case 'index.ts':
      return 'app';
    default:
      throw new Error(`src/${rel}: in no layer; add its folder to test/architecture.test.ts`);
  }
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Relative imports of a file (static, `import type`, re-exports and dynamic `import()`), resolved to .ts files. */
function importsOf(file: string, text = readFileSync(file, 'utf8')): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
    const spec = m[1] as string;
    out.push(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
  }
  return out;
}

interface Violation {
  readonly file: string;
  readonly imports: string;
  readonly rule: string;
}

function violations(files: readonly string[], read = (f: string) => readFileSync(f, 'utf8')): Violation[] {
  const out: Violation[] = [];
  for (const file of files) {
    const from = layerOf(file);
    for (const target of importsOf(file, read(file))) {
      const to = layerOf(target);
      if (to !== from && !RULES[from].includes(to))
        out.push({
          file: relative(ROOT, file),
          imports: relative(ROOT, target),
          rule: `${from} may import ${RULES[from].join(', ') || 'nothing else'}, not ${to}`,
        });
    }
  }
  return out;
}

/** File-level import cycles (each reported once, as the path that closes it). */
function cycles(files: readonly string[]): string[][] {
  const graph = new Map(files.map((f) => [f, importsOf(f).filter((t) => files.includes(t))]));
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, 'open');
    stack.push(f);
    for (const t of graph.get(f) ?? []) {
      if (state.get(t) === 'open')
        found.push([...stack.slice(stack.indexOf(t)), t].map((p) => relative(ROOT, p)));
      else if (state.get(t) === undefined) visit(t);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of files) if (state.get(f) === undefined) visit(f);
  return found;
}

describe('architecture: dependencies point one way', () => {
  const files = sourceFiles(join(ROOT, 'src'));

  it('every import in src/ follows the layer rules', () => {
    expect(violations(files)).toEqual([]);
  });

  it('no file-level import cycles', () => {
    expect(cycles(files)).toEqual([]);
  });

  it('the check fails on a wrong arrow (a task importing an outer loop, rl importing seal)', () => {
    const task = join(ROOT, 'src/tasks/people/task.ts');
    const ppo = join(ROOT, 'src/rl/ppo.ts');
    const fake: Record<string, string> = {
      [task]: "import { restEm } from '../../seal/outer/rest-em.js';\n",
      [ppo]: "import type { SealProblem } from '../seal/outer/rollout.js';\n",
    };
    const v = violations([task, ppo], (f) => fake[f] ?? '');
    expect(v).toEqual([
      {
        file: 'src/tasks/people/task.ts',
        imports: 'src/seal/outer/rest-em.ts',
        rule: 'tasks may import tokenizer, base, not seal',
      },
      {
        file: 'src/rl/ppo.ts',
        imports: 'src/seal/outer/rollout.ts',
        rule: 'rl may import train, lora, model, engine, base, not seal',
      },
    ]);
  });

  it('no test asserts a wall-clock time (timings belong in the bench)', () => {
    const tests = readdirSync(join(ROOT, 'test')).filter((f) => f.endsWith('.test.ts'));
    const timed = tests.filter((f) =>
      /expect\([^;]*(Date\.now|performance\.now|elapsed|Seconds|[^a-z]ms)\b[^;]*\)\.toBeLessThan/.test(
        readFileSync(join(ROOT, 'test', f), 'utf8'),
      ),
    );
    expect(timed).toEqual([]);
  });
});
