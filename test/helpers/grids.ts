/** A tiny grid model, pretrained in seconds (plumbing, not accuracy), for the grid tests. */
import { join } from 'node:path';
import {
  type GridPretrainConfig,
  GridPretrainConfigSchema,
  pretrainGridModel,
} from '../../src/seal/domains/grids-pretrain.js';
import type { GridWorldConfigInput } from '../../src/tasks/grids/world.js';

/** Pretrains it into `root/pt` and returns its model directory and config. */
export async function tinyGridModel(
  root: string,
  world: GridWorldConfigInput,
  maxSeqLen = 512,
): Promise<{ modelDir: string; cfg: GridPretrainConfig }> {
  const cfg = GridPretrainConfigSchema.parse({
    world: { pretrainTasks: 20, ...world },
    recipeDemos: 4,
    model: { dim: 16, nLayers: 1, nHeads: 2, hiddenDim: 32, maxSeqLen },
    train: { steps: 2, batchSize: 2, seqLen: 512, checkpointEvery: 0 },
    evalTasks: 1,
  });
  await pretrainGridModel(cfg, join(root, 'pt'), { quiet: true });
  return { modelDir: join(root, 'pt', 'model'), cfg };
}

/** A one-round ReST-EM over recipes with rank-2 adapters: the outer-loop settings of the grid plumbing tests. */
export const TINY_GRID_OUTER = {
  rounds: 1,
  contextsPerRound: 2,
  samplesPerContext: 2,
  maxNewTokens: 90,
  heldOutContexts: 1,
  inner: { seqLen: 512, lora: { r: 2, alpha: 4 }, epochs: 1 },
  policyLora: { r: 2, alpha: 4 },
} as const;
