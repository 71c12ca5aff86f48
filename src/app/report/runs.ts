/**
 * Past runs under a runs root (`seal runs`): what each directory holds, whether it finished, and its headline
 * number — SEAL's held-out accuracy against training on the passage for a demo/eval run, the last round's
 * held-out accuracy for a training run.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RunDir } from '../../util/run-dir.js';

export interface RunInfo {
  readonly name: string;
  readonly dir: string;
  /** `finished`: summary written; `incomplete`: stopped or crashed (resumable where the command supports it). */
  readonly status: 'finished' | 'incomplete';
  readonly started: string;
  readonly elapsedS: number | null;
  readonly rounds: number;
  /** e.g. "seal 61.2% [50.3, 72.1] vs passage 18.0%" */
  readonly headline: string;
  /** The headline number alone (fraction), for sorting and scripts. */
  readonly score: number | null;
}

interface Row {
  mean: number;
  ci95: [number, number];
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

function readJson(file: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

export function describeRun(dir: string, name: string): RunInfo | undefined {
  // A run's config.json is `{version, config}` (RunDir.create); a model directory's is a Hugging Face config.
  const cfg = readJson(join(dir, 'config.json'));
  if (cfg === undefined || typeof cfg['version'] !== 'string' || !('config' in cfg)) return undefined;
  const started = statSync(join(dir, 'config.json')).mtime.toISOString();
  const records = new RunDir(dir).records();
  const rounds = records.filter((r) => r['kind'] === 'round');
  const summary = readJson(join(dir, 'summary.json'));
  const train = readJson(join(dir, 'summary-train.json'));
  let headline = 'no results yet';
  let score: number | null = null;
  const results = summary?.['results'] as Record<string, Row> | undefined;
  const seal = results?.['seal'];
  if (seal !== undefined) {
    const passage = results?.['passage'];
    score = seal.mean;
    headline = `seal ${pct(seal.mean)} [${(100 * seal.ci95[0]).toFixed(1)}, ${(100 * seal.ci95[1]).toFixed(1)}]${passage === undefined ? '' : ` vs passage ${pct(passage.mean)}`}`;
  } else if (results !== undefined) {
    const best = Object.entries(results).sort((a, b) => b[1].mean - a[1].mean)[0];
    if (best !== undefined) {
      score = best[1].mean;
      headline = `best ${best[0]} ${pct(best[1].mean)}`;
    }
  } else if (rounds.length > 0) {
    const last = rounds[rounds.length - 1]!;
    score = last['heldOutAccuracy'] as number;
    headline = `round ${String(last['round'])}: held-out ${pct(score)}, reward ${pct(last['meanReward'] as number)}`;
  }
  return {
    name,
    dir,
    status: summary !== undefined || train !== undefined ? 'finished' : 'incomplete',
    started,
    elapsedS: typeof summary?.['elapsed_s'] === 'number' ? (summary['elapsed_s'] as number) : null,
    rounds: rounds.length,
    headline,
    score,
  };
}

/** Every run directory directly under `root`, oldest first. */
export function listRuns(root: string): RunInfo[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => describeRun(join(root, d.name), d.name))
    .filter((r): r is RunInfo => r !== undefined)
    .sort((a, b) => a.started.localeCompare(b.started) || a.name.localeCompare(b.name));
}

export function formatRuns(runs: readonly RunInfo[]): string {
  if (runs.length === 0) return 'no runs';
  const rows = runs.map((r) => [
    r.name,
    r.status,
    r.elapsedS === null ? '' : `${r.elapsedS.toFixed(0)} s`,
    String(r.rounds),
    r.headline,
  ]);
  const head = ['run', 'status', 'time', 'rounds', 'headline'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: readonly string[]) =>
    r
      .map((x, i) => x.padEnd(w[i]!))
      .join('  ')
      .trimEnd();
  return [line(head), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)].join('\n');
}
