/**
 * Round checkpoints of an outer loop inside a run directory — `checkpoints/round-NNN/{policy/, state.json}` in the
 * one checkpoint format (train/checkpoint.ts: written atomically, state validated when read) — and the resume step:
 * load the last complete round and drop the JSONL lines of the round that was in flight, which is then redone
 * identically.
 */
import { existsSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { LoraAdapter } from '../../lora/adapter.js';
import { loadAdapter, saveAdapter } from '../../lora/io.js';
import type { Transformer } from '../../model/model.js';
import { jsonNumber, readCheckpointState, writeCheckpoint } from '../../train/checkpoint.js';
import type { RunDir } from '../../util/run-dir.js';
import type { RoundSummary } from './rollout.js';

const RoundSummarySchema = z.strictObject({
  round: z.number().int().min(1),
  meanReward: jsonNumber,
  meanBaseline: jsonNumber,
  kept: z.number().int().min(0),
  heldOutAccuracy: jsonNumber,
  heldOutWordingAccuracy: jsonNumber.optional(),
  monitor: z.array(jsonNumber),
  meanSelfEditTokens: jsonNumber,
  rewardHackingAlarm: z.boolean(),
  update: z.record(z.string(), jsonNumber).optional(),
});

const RoundStateSchema = z.strictObject({
  round: z.number().int().min(1),
  rounds: z.array(RoundSummarySchema),
  config: z.unknown(),
});

export function roundDir(run: RunDir, round: number): string {
  return join(run.dir, 'checkpoints', `round-${String(round).padStart(3, '0')}`);
}

export async function saveRoundCheckpoint(
  run: RunDir,
  model: Transformer,
  round: number,
  policy: LoraAdapter,
  rounds: readonly RoundSummary[],
  config: unknown,
): Promise<void> {
  await writeCheckpoint(roundDir(run, round), { round, rounds, config }, (tmp) =>
    saveAdapter(policy, model, join(tmp, 'policy')),
  );
}

/** Rounds with a complete checkpoint, ascending. */
export function completedRounds(run: RunDir): number[] {
  const root = join(run.dir, 'checkpoints');
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((d) => /^round-\d+$/.test(d) && existsSync(join(root, d, 'state.json')))
    .map((d) => Number(d.slice('round-'.length)))
    .sort((a, b) => a - b);
}

export async function loadRoundPolicy(run: RunDir, round: number, model: Transformer): Promise<LoraAdapter> {
  return loadAdapter(join(roundDir(run, round), 'policy'), model);
}

/** The last complete round's policy and summaries, or undefined when no round finished. */
export async function loadLastRound(
  run: RunDir,
  model: Transformer,
): Promise<{ policy: LoraAdapter; rounds: RoundSummary[] } | undefined> {
  const last = completedRounds(run).pop();
  if (last === undefined) return undefined;
  const state = readCheckpointState(roundDir(run, last), RoundStateSchema);
  return { policy: await loadRoundPolicy(run, last, model), rounds: state.rounds as RoundSummary[] };
}

/** Rewrites results.jsonl keeping only the records `keep` accepts (the in-flight unit's lines are dropped). */
export function keepRecords(run: RunDir, keep: (r: Record<string, unknown>) => boolean): void {
  const lines = run.records().filter(keep);
  // Atomic: a crash here must not lose the finished rounds' lines.
  const tmp = `${run.resultsFile}.tmp-${process.pid}`;
  writeFileSync(tmp, lines.map((r) => `${JSON.stringify(r)}\n`).join(''));
  renameSync(tmp, run.resultsFile);
}

/** Outer-loop records (rounds, self-edits, held-out checks) belong to a round; keep those of finished rounds. */
export function isFinishedRoundRecord(r: Record<string, unknown>, finishedRounds: number): boolean {
  const round = r['round'];
  if (typeof round !== 'number') return true;
  // Round 0 is the held-out check before any update: written by a run that has not yet finished a round.
  return finishedRounds > 0 && round <= finishedRounds;
}
