/**
 * Crash safety of `seal train`: a run killed with SIGKILL mid-round and resumed gives the same results as an
 * uninterrupted run with the same seed (the round in flight is redone, identically).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../src/engine/index.js';
import { PretrainConfigSchema, pretrainPeopleModel } from '../src/seal/domains/people-pretrain.js';
import { seal } from './helpers/cli.js';
import { CLI, tempDir } from './helpers/paths.js';

function onlyRun(parent: string): string {
  const dirs = readdirSync(parent);
  expect(dirs).toHaveLength(1);
  return join(parent, dirs[0] as string);
}

function comparable(runDir: string): unknown[] {
  return readFileSync(join(runDir, 'results.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const { ms: _ms, ...rest } = JSON.parse(l) as Record<string, unknown>;
      return rest;
    });
}

describe('seal train: SIGKILL mid-round, then --resume', () => {
  let modelDir = '';
  let configFile = '';

  beforeAll(async () => {
    await initEngine('wasm');
    const out = tempDir();
    const cfg = PretrainConfigSchema.parse({
      world: { seed: 5, pretrainPeople: 10, rlPeople: 4, evalPeople: 2, biosPerPerson: 2 },
      copyDemos: 10,
      vocabSize: 400,
      model: { dim: 32, nLayers: 1, nHeads: 2, hiddenDim: 64, maxSeqLen: 256, seed: 1 },
      train: { steps: 3, batchSize: 4, seqLen: 64, lr: 3e-3 },
      evalPeople: 0,
    });
    await pretrainPeopleModel(cfg, out, { quiet: true });
    modelDir = join(out, 'model');
    configFile = join(tempDir(), 'train.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        model: modelDir,
        outer: {
          kind: 'rest-em',
          rounds: 3,
          contextsPerRound: 2,
          samplesPerContext: 3,
          maxNewTokens: 24,
          onlyPositiveGain: false,
          heldOutContexts: 1,
          sftEpochs: 1,
          inner: { epochs: 3, lora: { r: 2, alpha: 4 } },
          policyLora: { r: 2, alpha: 4 },
        },
      }),
    );
  });

  it('resumed results equal an uninterrupted run', async () => {
    const straightParent = tempDir();
    const straight = seal(['train', '--config', configFile, '--out', straightParent, '--quiet']);
    expect(straight.code, straight.stderr).toBe(0);
    const straightRun = onlyRun(straightParent);

    const parent = tempDir();
    const child = spawn(
      process.execPath,
      [CLI, 'train', '--config', configFile, '--out', parent, '--quiet'],
      { stdio: 'ignore' },
    );
    const killed = await new Promise<boolean>((resolve) => {
      const timer = setInterval(() => {
        const dirs = existsSync(parent) ? readdirSync(parent) : [];
        if (
          dirs.length === 1 &&
          existsSync(join(parent, dirs[0] as string, 'checkpoints', 'round-001', 'state.json'))
        ) {
          clearInterval(timer);
          child.kill('SIGKILL');
          resolve(true);
        }
      }, 20);
      child.on('exit', () => {
        clearInterval(timer);
        resolve(false);
      });
    });
    expect(killed).toBe(true);
    const run = onlyRun(parent);
    expect(existsSync(join(run, 'checkpoints', 'round-003'))).toBe(false);
    const resumed = seal(['train', '--resume', run, '--quiet']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain('resuming');
    expect(comparable(run)).toEqual(comparable(straightRun));
    expect(
      readFileSync(join(run, 'checkpoints', 'round-003', 'policy', 'adapter_model.safetensors')).equals(
        readFileSync(join(straightRun, 'checkpoints', 'round-003', 'policy', 'adapter_model.safetensors')),
      ),
    ).toBe(true);
  });
});
