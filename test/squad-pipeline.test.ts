/** Plumbing, not accuracy: the whole SEAL pipeline on 5 real SQuAD passages with a tiny random-weight HF model. */

import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../src/engine/index.js';
import { loadHfModel, saveHfModel } from '../src/model/io/hf.js';
import { Transformer } from '../src/model/model.js';
import { checksum } from '../src/model/params.js';
import { knowledgeDomain } from '../src/seal/domain.js';
import { buildTokenizer } from '../src/seal/domains/people-pretrain.js';
import { evaluateConditions } from '../src/seal/eval/evaluate.js';
import { InnerLoopConfigSchema } from '../src/seal/inner/inner-loop.js';
import { RestEmConfigSchema, restEm } from '../src/seal/outer/rest-em.js';
import { ParseOptionsSchema } from '../src/seal/selfedit/parse.js';
import { loadSquad, selfEditPrompt, squadTask } from '../src/tasks/squad.js';
import type { Context } from '../src/tasks/types.js';
import { serializeTokenizerJson } from '../src/tokenizer/hf.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { RunDir } from '../src/util/run-dir.js';
import { tinyLlama } from './helpers/models.js';
import { hasShared, SHARED, tempDir } from './helpers/paths.js';

describe.runIf(hasShared)('SEAL pipeline on real SQuAD passages', () => {
  beforeAll(async () => {
    await initEngine('wasm');
  });

  it('ReST-EM round + evaluation table run end to end and keep the base frozen', async () => {
    const all = await loadSquad(join(SHARED, 'squad', 'squad_v1.1_dev.json'));
    const contexts = all.slice(0, 5).map((c) => ({ ...c, questions: c.questions.slice(0, 2) }));
    const task = squadTask(contexts);
    const { json } = buildTokenizer(
      contexts.map((c) => `${c.title}\n${c.passage}`),
      400,
    );
    const dir = join(tempDir(), 'tiny-hf');
    const cfgModel = tinyLlama({ vocabSize: 400, maxSeqLen: 512, bosId: 0, eosId: 0 });
    await saveHfModel(Transformer.init(cfgModel, 1), dir, {
      extraFiles: {
        'tokenizer.json': serializeTokenizerJson(json),
        'tokenizer_config.json': JSON.stringify({ bos_token: '<|endoftext|>', eos_token: '<|endoftext|>' }),
      },
    });
    const { model } = await loadHfModel(dir);
    const tok = loadTokenizer(dir, { vocabSize: model.config.vocabSize });
    const before = checksum(model.params);
    const env = { model, tok, task };
    const problem = {
      env,
      rlContexts: contexts.slice(0, 3),
      heldOut: contexts.slice(3, 4),
      domain: knowledgeDomain('squad', (c: Context) => selfEditPrompt(c)),
    };
    const inner = InnerLoopConfigSchema.parse({ epochs: 1, seqLen: 64, lora: { r: 2, alpha: 4 } });
    const run = RunDir.create(tempDir(), 'squad-test', {});
    const cfg = RestEmConfigSchema.parse({
      rounds: 1,
      contextsPerRound: 2,
      samplesPerContext: 2,
      maxNewTokens: 8,
      sftEpochs: 1,
      onlyPositiveGain: false,
      inner,
      policyLora: { r: 2, alpha: 4 },
    });
    const { policy, rounds } = await restEm(problem, cfg, run, { quiet: true });
    expect(rounds).toHaveLength(1);
    const table = await evaluateConditions(
      problem,
      contexts.slice(3),
      [
        { kind: 'base', name: 'base' },
        { kind: 'passage', name: 'passage' },
        { kind: 'selfedit', name: 'base_selfedits', policy: undefined },
        {
          kind: 'static',
          name: 'static_augmentation',
          prompts: [(c) => selfEditPrompt(c, 'rewrite'), (c) => selfEditPrompt(c, 'self-qa')],
        },
        { kind: 'selfedit', name: 'seal', policy },
      ],
      { seeds: [0], inner, parse: ParseOptionsSchema.parse({}), temperature: 1, topP: 0.95, maxNewTokens: 8 },
      run,
      { quiet: true },
    );
    expect(Object.keys(table)).toEqual(['base', 'passage', 'base_selfedits', 'static_augmentation', 'seal']);
    for (const r of Object.values(table)) {
      expect(r.n).toBe(2);
      expect(r.mean).toBeGreaterThanOrEqual(0);
      expect(r.mean).toBeLessThanOrEqual(1);
    }
    expect(run.records().filter((r) => r['kind'] === 'eval')).toHaveLength(10);
    expect(checksum(model.params)).toBe(before);
  });
});
