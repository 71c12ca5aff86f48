// Usage (from the repository root, after `npm run build`):
//   node experiments/results/session13/grids/recipes-sft.mjs MODEL RUN   (RUN: val-table.sh's output directory)
// How often recipes sampled at temperature 1 are malformed: base vs the round-2 policy adapter (from its checkpoint),
// and vs an in-process SFT of the same kind on the one kept recipe.
import { initEngine } from '../../../../dist/engine/index.js';
import { loadGridProblem } from '../../../../dist/seal/domains/grids-problem.js';
import { sampleSelfEdits } from '../../../../dist/seal/selfedit/generate.js';
import { parseRecipe } from '../../../../dist/tasks/grids/recipe.js';
import { loadAdapter } from '../../../../dist/lora/io.js';
await initEngine('auto');
const gp = await loadGridProblem(process.argv[2], 32);
const { env, heldOut, domain } = gp.problem;
const policy = await loadAdapter(`${process.argv[3]}/run-0/checkpoints/round-002/policy`, env.model);
for (const [name, deltas] of [['base', []], ['round-2 policy', [policy]]]) {
  const s = sampleSelfEdits(env.model, env.tok, heldOut, (c) => domain.selfEditPrompt(c), { k: 4, temperature: 1, topP: 1, maxNewTokens: 120, seed: 7, deltas });
  const all = s.flat();
  const bad = all.filter((x) => !parseRecipe(x.completion).ok);
  console.log(name, `${bad.length}/${all.length} malformed`, JSON.stringify(bad[0]?.completion ?? ''));
}
// In process: a fresh policy adapter, the same SFT as rest-em's sft() on the one kept recipe (rl-0010, sample 6).
import { LoraAdapter } from '../../../../dist/lora/adapter.js';
import { LoraConfigSchema } from '../../../../dist/lora/config.js';
import { fitAdapterEpochs } from '../../../../dist/train/fit.js';
import { completionExample } from '../../../../dist/train/data.js';
import { readFileSync } from 'node:fs';
const rows = readFileSync(`${process.argv[3]}/run-0/results.jsonl`, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const k = rows.find((r) => r.kind === 'selfedit' && r.round === 2 && r.context === 'rl-0010' && r.sample === 6);
const ctx = gp.problem.rlContexts.find((c) => c.id === 'rl-0010');
console.log('kept finish', k.finish, 'tokens', k.ids.length);
for (const lr of [1e-3, 1e-4]) {
  const fresh = LoraAdapter.create(env.model, LoraConfigSchema.parse({ r: 16, alpha: 32 }), 1);
  const ex = completionExample(env.tok.encode(domain.selfEditPrompt(ctx), { addBos: true }), [...k.ids, ...(k.finish === 'eos' ? [env.tok.eosId] : [])]);
  fitAdapterEpochs(env.model, fresh, [ex], { epochs: 4, batchSize: 8, lr, maxLen: env.model.config.maxSeqLen - 1, clipNorm: 1, seed: 3 });
  const s = sampleSelfEdits(env.model, env.tok, heldOut, (c) => domain.selfEditPrompt(c), { k: 4, temperature: 1, topP: 1, maxNewTokens: 120, seed: 7, deltas: [fresh] });
  const all = s.flat();
  console.log(`in-process SFT lr ${lr}`, `${all.filter((x) => !parseRecipe(x.completion).ok).length}/${all.length} malformed`);
}
