import { type ModelConfig, parseModelConfig } from '../../src/model/config.js';

export const tinyLlama = (over: Partial<ModelConfig> = {}): ModelConfig =>
  parseModelConfig(
    {
      arch: 'llama',
      modelType: 'llama',
      vocabSize: 64,
      dim: 32,
      nLayers: 2,
      nHeads: 4,
      nKvHeads: 2,
      hiddenDim: 64,
      maxSeqLen: 256,
      normEps: 1e-5,
      ropeTheta: 10000,
      tieEmbeddings: true,
      attnBias: false,
      ...over,
    },
    'test',
  );

export const tinyGpt2 = (over: Partial<ModelConfig> = {}): ModelConfig =>
  parseModelConfig(
    {
      arch: 'gpt2',
      modelType: 'gpt2',
      vocabSize: 64,
      dim: 32,
      nLayers: 2,
      nHeads: 4,
      nKvHeads: 4,
      hiddenDim: 128,
      maxSeqLen: 256,
      normEps: 1e-5,
      ropeTheta: 10000,
      tieEmbeddings: true,
      attnBias: true,
      ...over,
    },
    'test',
  );
