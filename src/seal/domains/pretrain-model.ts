/**
 * What every domain's base-model pretraining shares (people-pretrain.ts, grids-pretrain.ts): the small Llama-style
 * model config, the loss summary of a run, and the output directory — a Hugging Face model with its tokenizer and
 * world files, a manifest naming the command, config, engine and every file's sha256, and report.json beside it.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { engineInfo } from '../../engine/index.js';
import { type ModelConfig, parseModelConfig } from '../../model/config.js';
import { saveHfModel } from '../../model/io/hf.js';
import type { Transformer } from '../../model/model.js';
import type { TrainStage } from '../../train/loop.js';
import { packageVersion } from '../../version.js';

/** The model fields of a pretraining config (both domains' `model` section). */
export interface SmallModelShape {
  readonly dim: number;
  readonly nLayers: number;
  readonly nHeads: number;
  readonly hiddenDim: number;
  readonly maxSeqLen: number;
}

/** Llama architecture, tied embeddings, no biases, EOS doubling as BOS (documents are packed after an EOS). */
export function smallLlamaConfig(
  shape: SmallModelShape,
  vocabSize: number,
  eosId: number,
  label: string,
): ModelConfig {
  return parseModelConfig(
    {
      arch: 'llama',
      modelType: 'llama',
      vocabSize,
      dim: shape.dim,
      nLayers: shape.nLayers,
      nHeads: shape.nHeads,
      nKvHeads: shape.nHeads,
      hiddenDim: shape.hiddenDim,
      maxSeqLen: shape.maxSeqLen,
      normEps: 1e-5,
      ropeTheta: 10000,
      tieEmbeddings: true,
      attnBias: false,
      bosId: eosId,
      eosId,
    },
    label,
  );
}

/** Mean loss of the last 50 steps (NaN for none): the report's smoothed final loss. */
export function lossEma(losses: readonly number[]): number {
  const tail = losses.slice(-50);
  return tail.length > 0 ? tail.reduce((s, x) => s + x, 0) / tail.length : Number.NaN;
}

export interface PretrainOutput {
  /** Manifest `name`, e.g. "seal-people-default". */
  readonly name: string;
  readonly command: string;
  /** The run's stages (one per invocation that trained; a resume that changed settings says which). */
  readonly stages: readonly TrainStage[];
  readonly config: unknown;
  /** Tokenizer and world files written beside the weights. */
  readonly extraFiles: Readonly<Record<string, string>>;
  /** report.json as written. */
  readonly report: unknown;
  /** The report as the manifest carries it (without bulky samples). */
  readonly manifestReport: unknown;
}

/** Writes `outDir/model` (weights, `extraFiles`, seal_manifest.json) and `outDir/report.json`. */
export async function writePretrainOutput(
  model: Transformer,
  outDir: string,
  out: PretrainOutput,
): Promise<void> {
  const modelDir = join(outDir, 'model');
  await saveHfModel(model, modelDir, { overwrite: true, extraFiles: out.extraFiles });
  const files: Record<string, string> = {};
  for (const f of (await readdir(modelDir)).sort())
    files[f] = createHash('sha256')
      .update(await readFile(join(modelDir, f)))
      .digest('hex');
  const manifest = {
    name: out.name,
    version: packageVersion(),
    command: out.command,
    stages: out.stages,
    config: out.config,
    engine: engineInfo(),
    report: out.manifestReport,
    files,
    date: new Date().toISOString(),
  };
  await writeFile(join(modelDir, 'seal_manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await writeFile(join(outDir, 'report.json'), `${JSON.stringify(out.report, null, 2)}\n`);
}
