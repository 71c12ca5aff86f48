/**
 * Rebuilds a run's single-passage results table and SEAL's paired differences from its committed per-context rows
 * (`results.jsonl`, the `eval` records: one accuracy per condition, context and seed) — the numbers the README
 * quotes come from here, not from a hand-copied summary.
 *
 *   npm run results [-- RUN_DIR …]      (default: the runs the README quotes)
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ConditionResult, formatPaired, formatTable } from '../../seal/eval/evaluate.js';
import { meanCi } from '../../seal/eval/stats.js';
import { RunDir } from '../../util/run-dir.js';
import { sealPairs } from '../demo.js';

/** The runs whose numbers the README quotes. */
export const README_RUNS = ['experiments/results/session5/demo-own-sgemm'] as const;

/**
 * Per condition: the mean over seeds per context, then mean ± t-CI over contexts (as the evaluation computes it);
 * `seal` is the last round's policy.
 */
export function tableFromRecords(
  records: readonly Record<string, unknown>[],
): Record<string, ConditionResult> {
  const acc = new Map<string, Map<string, { seen: number[]; heldOut: number[] }>>();
  for (const r of records) {
    if (r['kind'] !== 'eval') continue;
    const byContext = acc.get(r['condition'] as string) ?? new Map();
    const values = byContext.get(r['context'] as string) ?? { seen: [], heldOut: [] };
    values.seen.push(r['accuracy'] as number);
    if (typeof r['heldOutAccuracy'] === 'number') values.heldOut.push(r['heldOutAccuracy']);
    byContext.set(r['context'] as string, values);
    acc.set(r['condition'] as string, byContext);
  }
  const mean = (v: readonly number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const out: Record<string, ConditionResult> = {};
  for (const [name, byContext] of acc) {
    const perContext = Object.fromEntries([...byContext].map(([c, v]) => [c, mean(v.seen)]));
    const heldOut = Object.fromEntries(
      [...byContext].filter(([, v]) => v.heldOut.length > 0).map(([c, v]) => [c, mean(v.heldOut)]),
    );
    out[name] = {
      ...meanCi(Object.values(perContext)),
      perContext,
      seeds: [...byContext.values()][0]!.seen.length,
      ...(Object.keys(heldOut).length === 0
        ? {}
        : { heldOut: { ...meanCi(Object.values(heldOut)), perContext: heldOut } }),
    };
  }
  const lastRound = Math.max(
    0,
    ...Object.keys(out).map((k) => Number(/^seal_round_(\d+)$/.exec(k)?.[1] ?? 0)),
  );
  if (lastRound > 0) out['seal'] = out[`seal_round_${lastRound}`]!;
  return out;
}

const USAGE =
  'npm run results [-- RUN_DIR …]   tables and paired differences rebuilt from committed per-context rows';
const invokedAs = process.argv[1] === undefined ? '' : resolve(process.argv[1]);
if (invokedAs === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const unknown = args.find((a) => a.startsWith('-'));
  if (unknown !== undefined) {
    process.stderr.write(`unknown option ${unknown}\n${USAGE}\n`);
    process.exit(2);
  }
  for (const dir of args.length > 0 ? args : README_RUNS) {
    const results = tableFromRecords(new RunDir(dir).records());
    const heldOut = sealPairs(results, 'heldOut');
    process.stdout.write(
      `${join(dir, 'results.jsonl')}\n${formatTable(results)}\n\npaired over people (seen wordings):\n${formatPaired(sealPairs(results, 'seen'))}\n${Object.keys(heldOut).length === 0 ? '' : `\npaired over people (held-out wordings):\n${formatPaired(heldOut)}\n`}\n`,
    );
  }
}
