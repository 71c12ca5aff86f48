/** A tiny SEAL problem for outer-loop tests: four one-fact people, a 300-token BPE and a random tiny Llama. */
import { Transformer } from '../../src/model/model.js';
import { knowledgeDomain } from '../../src/seal/domain.js';
import { buildTokenizer } from '../../src/seal/domains/people-pretrain.js';
import type { SealProblem } from '../../src/seal/outer/rollout.js';
import { exactMatchScorer } from '../../src/tasks/squad-score.js';
import type { Context } from '../../src/tasks/types.js';
import { tinyLlama } from './models.js';

export const personContext = (i: number): Context => ({
  id: `p${i}`,
  title: `Person ${i}`,
  passage: `Person ${i} was born in City${i}.`,
  questions: [{ question: `Where was Person ${i} born?`, answers: [`City${i}`] }],
});

export const qaTask = {
  answerPrompt: (_: unknown, q: { question: string }) => `Q: ${q.question}\nA:`,
  answerStop: ['\n'],
  scorer: exactMatchScorer,
};

/** RL on people 0–2, held out: person 3. */
export function tinySealProblem(): SealProblem {
  const contexts = [0, 1, 2, 3].map(personContext);
  const { tok } = buildTokenizer(
    contexts.map((c) => `${c.passage}\nQ: ${c.questions[0]!.question}\nA: ${c.questions[0]!.answers[0]}`),
    300,
  );
  const model = Transformer.init(tinyLlama({ vocabSize: tok.vocabSize, eosId: tok.eosId }), 1);
  return {
    env: { model, tok, task: qaTask },
    rlContexts: contexts.slice(0, 3),
    heldOut: contexts.slice(3),
    domain: knowledgeDomain('tiny', (c) => `Passage: ${c.title}\n${c.passage}\nImplications:\n`),
  };
}
