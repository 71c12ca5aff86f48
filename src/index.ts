/** seal-ts public API, grouped by the SEAL loop. */

export { type FusedOps, fused, setFusedOps } from './engine/fused.js';
// Engine
export { type BackendChoice, type EngineInfo, engineInfo, initEngine, tf } from './engine/index.js';
export { SealError } from './errors.js';
// LoRA
export { LoraAdapter } from './lora/adapter.js';
export { type LoraConfig, LoraConfigSchema, loraScaling } from './lora/config.js';
export { loadAdapter, saveAdapter } from './lora/io.js';
// Models
export {
  fromHfConfig,
  type ModelConfig,
  ModelConfigSchema,
  parseModelConfig,
  toHfConfig,
} from './model/config.js';
export { type FinishReason, type GenerateOptions, type GenerateResult, generate } from './model/generate.js';
export { hfTensors, type LoadedModel, loadHfModel, saveHfModel } from './model/io/hf.js';
export { loadLlama2c } from './model/io/llama2c.js';
export { loadModel } from './model/io/load.js';
export {
  readSafetensors,
  readSafetensorsDir,
  writeSafetensors,
  writeSafetensorsDir,
} from './model/io/safetensors.js';
export { KVCache } from './model/kv-cache.js';
export type { LinearDelta } from './model/linear.js';
export { type ForwardOptions, Transformer } from './model/model.js';
export { checksum, paramSpecs } from './model/params.js';
export { type SamplingOptions, sampleToken } from './model/sampling.js';
// The SEAL loops: text self-edits (ReST-EM, GRPO) and weight-delta self-edits (the EditGenerator)
export { answerUnder, type EditApplication, nllUnder, together } from './seal/delta/apply.js';
export { DeltaTrainConfigSchema } from './seal/delta/config.js';
export { readContext } from './seal/delta/embedding.js';
export { evaluateEdits, generatorConditions } from './seal/delta/eval.js';
export { EditGenerator, EditGeneratorConfigSchema } from './seal/delta/generator.js';
export { editToAdapter, loadEditGenerator, saveEditGenerator } from './seal/delta/io.js';
export { DeltaRewardSchema, deltaReward } from './seal/delta/reward.js';
export {
  NO_EDIT,
  ROUTER_LAYER,
  routedEdits,
  routerBackground,
  ScopeRouter,
} from './seal/delta/route.js';
export {
  evaluateStacks,
  generatedStack,
  STACK_SIZES,
  type StackRule,
  summariseStacks,
} from './seal/delta/stack.js';
export { editFor, trainEditGenerator } from './seal/delta/train.js';
export { gridDomain, recipePlan } from './seal/domains/grids.js';
export { gridTokenizer, solveByVote, solveTasks, writeRecipes } from './seal/domains/grids-model.js';
export { GridPretrainConfigSchema, pretrainGridModel } from './seal/domains/grids-pretrain.js';
export { loadGridProblem } from './seal/domains/grids-problem.js';
export { PretrainConfigSchema, pretrainPeopleModel } from './seal/domains/people-pretrain.js';
export {
  type InnerLoopConfig,
  InnerLoopConfigSchema,
  type InnerLoopResult,
  type LossSegment,
  runInnerLoop,
  type TrainingText,
  trainAdapter,
} from './seal/inner/inner-loop.js';
export { answerQuestions, meanScore } from './seal/inner/qa-eval.js';
// Inner loops over a distributed queue (BullMQ on Redis): the orchestrator's executor and the worker
export { QueueExecutor, QueueJobError, QueueUnavailableError } from './seal/inner/queue/executor.js';
export { QueueJobSchema, QueueResultSchema } from './seal/inner/queue/payload.js';
export { QueueWorker } from './seal/inner/queue/worker.js';
export { groupAdvantages, grpo } from './seal/outer/grpo.js';
export { OuterConfigSchema, runOuterLoop } from './seal/outer/outer.js';
export { RestEmConfigSchema, restEm } from './seal/outer/rest-em.js';
// Self-edits and the inner loop
export { selfEditSequences, splitSelfEdit } from './seal/selfedit/parse.js';
// The grid domain (ARC I/O, augmentations, recipes, the synthetic grid world): a namespace, its names are generic
export * as grids from './tasks/grids/index.js';
export { createJudge } from './tasks/judge.js';
export { peopleTask, readWorld, writeWorld } from './tasks/people/task.js';
export { generateWorld } from './tasks/people/world.js';
export { loadSquad, squadTask } from './tasks/squad.js';
export { exactMatch, exactMatchScorer, f1Score, f1Scorer, normalizeAnswer } from './tasks/squad-score.js';
// Tasks and rewards
export type { Context, QuestionAnswer, Scorer, Task } from './tasks/types.js';
export { trainByteLevelBpe } from './tokenizer/bpe-train.js';
export { charTokenizer } from './tokenizer/char.js';
export { HfTokenizer, saveTokenizerDir } from './tokenizer/hf.js';
export { Llama2cTokenizer } from './tokenizer/llama2c.js';
export { loadTokenizer } from './tokenizer/load.js';
// Tokenizers
export type { Tokenizer } from './tokenizer/types.js';
export {
  type Batch,
  completionExample,
  type Example,
  makeBatch,
  packDocuments,
  packDocumentsAligned,
} from './train/data.js';
export { type TrainConfig, TrainConfigSchema, trainLoop } from './train/loop.js';
// Training
export { AdamW, clipByGlobalNorm, globalNorm } from './train/optimizer.js';
export { learningRate, type Schedule } from './train/schedule.js';
export { accumulateGradients, lmLoss, trainStep } from './train/step.js';
export { Rng } from './util/rng.js';
export { packageVersion } from './version.js';
