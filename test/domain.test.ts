/**
 * The domain seam (src/seal/domain.ts): a new SEAL domain plugs in through `SealDomain` alone — no change to the
 * outer loops. A toy domain, "memorise a number": the context states a number, the self-edit is one training
 * sequence the generator writes, the plan trains on it with the domain's own inner-loop settings (empty self-edits
 * are rejected: no inner loop, reward 0), and the reward is recall of the number without the context.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../src/engine/index.js';
import { Transformer } from '../src/model/model.js';
import { checksum } from '../src/model/params.js';
import type { SealDomain } from '../src/seal/domain.js';
import { buildTokenizer } from '../src/seal/domains/people-pretrain.js';
import { RestEmConfigSchema, restEm } from '../src/seal/outer/rest-em.js';
import { type SealProblem, sampledCompletion } from '../src/seal/outer/rollout.js';
import { exactMatchScorer } from '../src/tasks/squad-score.js';
import type { Context } from '../src/tasks/types.js';
import { completionExample, makeBatch } from '../src/train/data.js';
import { lmLoss } from '../src/train/step.js';
import { RunDir } from '../src/util/run-dir.js';
import { tinyLlama } from './helpers/models.js';
import { tempDir } from './helpers/paths.js';

const box = (i: number): Context => ({
  id: `box${i}`,
  title: `Box ${i}`,
  passage: `Box ${i} holds ${1000 + 37 * i}.`,
  questions: [{ question: `What does box ${i} hold?`, answers: [String(1000 + 37 * i)] }],
});

/** The toy domain, written against the seam only. */
const memoriseNumber: SealDomain = {
  name: 'memorise-number',
  selfEditPrompt: (c) => `${c.passage}\nNote:`,
  plan: (selfEdit, _context, cfg) =>
    selfEdit.trim() === ''
      ? { kind: 'rejected', reason: 'empty self-edit' }
      : { kind: 'train', sequences: [selfEdit.trim()], cfg: { ...cfg.inner, epochs: 3 } },
};

describe('a domain added through the seam', () => {
  beforeAll(async () => {
    await initEngine('wasm');
  });

  it('runs a ReST-EM round on "memorise a number"; the kept self-edits become likelier', async () => {
    const contexts = [0, 1, 2, 3].map(box);
    const { tok } = buildTokenizer(
      contexts.map(
        (c) =>
          `${c.passage}\nNote: box ${c.title} ${c.questions[0]!.answers[0]}\nQ: ${c.questions[0]!.question}\nA:`,
      ),
      300,
    );
    const model = Transformer.init(tinyLlama({ vocabSize: tok.vocabSize, eosId: tok.eosId }), 3);
    const problem: SealProblem = {
      env: {
        model,
        tok,
        task: {
          answerPrompt: (_, q) => `Q: ${q.question}\nA:`,
          answerStop: ['\n'],
          scorer: exactMatchScorer,
        },
      },
      rlContexts: contexts.slice(0, 3),
      heldOut: contexts.slice(3),
      domain: memoriseNumber,
    };
    const before = checksum(model.params);
    const run = RunDir.create(tempDir(), 'domain-run', {});
    const cfg = RestEmConfigSchema.parse({
      rounds: 1,
      contextsPerRound: 3,
      samplesPerContext: 2,
      maxNewTokens: 10,
      onlyPositiveGain: false,
      heldOutContexts: 1,
      sftEpochs: 8,
      sftLr: 1e-2,
      inner: { epochs: 1, lora: { r: 2, alpha: 4 } },
      policyLora: { r: 2, alpha: 4 },
    });
    const { policy, rounds } = await restEm(problem, cfg, run, { quiet: true });
    expect(rounds).toHaveLength(1);
    expect(checksum(model.params)).toBe(before);
    const edits = run.records().filter((r) => r['kind'] === 'selfedit');
    expect(edits).toHaveLength(6);
    // The plan's sequences reached the inner loop: a trained self-edit logs its one sequence.
    for (const e of edits) expect(e['sequences']).toBe(e['rejected'] === undefined ? 1 : 0);

    // Kept = each context's best self-edit (first on ties). After SFT the generator assigns them a higher
    // likelihood (lower completion-token loss) than the base did.
    const kept = contexts.slice(0, 3).flatMap((c) => {
      const group = edits.filter((e) => e['context'] === c.id);
      if (group.length === 0) return [];
      const best = group.reduce((a, b) => ((b['reward'] as number) > (a['reward'] as number) ? b : a));
      const completion = sampledCompletion(
        { ids: best['ids'] as number[], finish: best['finish'] as 'eos' | 'length' | 'stop' },
        tok.eosId,
      );
      return completion.length === 0
        ? []
        : [completionExample(tok.encode(memoriseNumber.selfEditPrompt(c), { addBos: true }), completion)];
    });
    expect(kept.length).toBeGreaterThan(0);
    const batch = makeBatch(kept, model.config.maxSeqLen - 1);
    const lossOf = (deltas: [] | [typeof policy]) => {
      const t = lmLoss(model, batch, deltas);
      const v = t.dataSync()[0]!;
      t.dispose();
      return v;
    };
    expect(lossOf([policy])).toBeLessThan(lossOf([]) - 0.05);
  });
});
