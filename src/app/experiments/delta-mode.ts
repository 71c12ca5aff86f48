/**
 * Delta mode, the three optimisers side by side on the people world: the EditGenerator trained by PPO, REINFORCE
 * and the direct gradient on the RL people, then ES / PS / NS / retention / drawdown / time per edit on --split
 * people (val to choose settings, test once) for each, its shuffled-context control, LoRA on the passage and
 * text-mode self-edits (base generator, or --policy); with --stack, the stacking table (1, 2, 4, 8, 16 edits at
 * once). Prints one JSON line per optimiser and a final summary line; with --out DIR, also DIR/config.json and
 * DIR/results.jsonl with every training log, the per-context rows of every table and every stacking row.
 * The generator trains on --train-people people (the world's rl split topped up from the auxiliary world).
 *   node dist/app/experiments/delta-mode.js [--model DIR] [--people 16] [--split test|val] [--out DIR] [--stack]
 *     [--train-people 2000] [--timesteps 2048]
 *     [--direct-steps 1000] [--direct-lr 1e-3] [--neighbour-kl 1] [--optimizers ppo,reinforce,direct] [--seed 0]
 *     [--save DIR (each trained generator to DIR/<optimizer>, for seal adapt --mode delta)]
 *     [--warm-start STEPS (direct steps before PPO/REINFORCE)] [--accuracy-reward W (reward weight of exact match)]
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assetPath } from '../../assets.js';
import { initEngine } from '../../engine/index.js';
import { loadAdapter } from '../../lora/io.js';
import { DeltaTrainConfigSchema } from '../../seal/delta/config.js';
import { loadEditGenerator } from '../../seal/delta/io.js';
import { LOCALITY_PEOPLE, runDeltaMode } from '../../seal/delta/run.js';
import { STACK_SIZES, summariseStacks } from '../../seal/delta/stack.js';
import { loadPeopleProblem, rlContexts } from '../../seal/domains/people.js';
import { InnerLoopConfigSchema } from '../../seal/inner/inner-loop.js';
import { ParseOptionsSchema } from '../../seal/selfedit/parse.js';
import { buildDeltaReport } from '../report/delta.js';
import { experimentArgs, experimentRunDir } from './args.js';

function usage(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}\n`);
  process.exit(2);
}

const USAGE = `Delta mode: the EditGenerator trained by PPO, REINFORCE and/or the direct gradient, then the editing table
(ES / PS / NS / retention / drawdown / time per edit) on --split people against its shuffled control, LoRA on the
passage and text self-edits; --stack adds the stacking table (1, 2, 4, 8, 16 edits at once; for every
optimiser and magnitude weight, the LoRA conditions once). Prints one JSON line
per optimiser and a summary line; --out DIR also keeps config.json and results.jsonl (every per-context row).
  node dist/app/experiments/delta-mode.js [--people 16] [--split test|val] [--optimizers ppo,reinforce,direct]
      [--out DIR] [--stack] [--save DIR] [--magnitude 1e-3]
      [--magnitudes 0,1e-3,1e-2,1e-1 (the direct gradient once per edit-magnitude weight: the trade-off curve)]
      [--action latent|tokens|gate|gate-logit (gate-logit: a Gaussian over each token's gate logit, writing σ(logit))]
      [--gate-log-std 0 (gate-logit: initial log σ)] [--fast-code D] [--samples-per-context 4] [--pg-lr 1e-3] [--neighbour-reward W]
      [--minibatches N (PPO: minibatches per update epoch, one Adam step each; default 4 for --action latent, 1 for the token actions)]
      [--constant-lr (PPO/REINFORCE: no linear annealing of --pg-lr to 0)]
      [--shared-neighbour (token actions: the edits sampled for one context share its locality person)]
      [--init DIR (start every optimiser from this saved generator, e.g. --save DIR/direct: a warm start)]
      [--direct-learn all|gate (the direct gradient trains everything, or the write gate alone: the same part as
        --action gate, for a same-budget comparison)] [--direct-steps 1000] [--direct-lr 1e-3]
      [--skip-lora (no LoRA conditions: another run of the same people measured them; they do not depend on the
        generator)]
      [--reset-gate (with --init and --fast-gate: every write gate back to 0.5 first, so the optimiser learns the
        gate again on the warm start's keys and values; e.g. --action gate: PPO over per-token writes)]
      [--whiten-keys (fast-weight keys whitened by the inverse input second moment, as ROME)]
      [--fast-gate (a learned write gate per passage token scales its keys)]
      [--locality-loss hard|soft (cross-entropy to the base's greedy answers, or the KL to its distribution; the
        direct gradient's locality loss and the policy gradient's --neighbour-reward term alike)]
      [--text-kl W (weight of the KL to the base on another drawn person's biography: the drawdown as a term)]
      [--stack-train N (train groups of up to N edits summed, N a power of two, so that edits compose)]
      [--locality-people known|pretrain|all (the locality term keeps the base's answers on the train half of the known
        people, 50; on every pretraining person but the measured half, 150; or on those and the training people)] …`;

export async function main(argv = process.argv.slice(2)): Promise<void> {
  const { values } = experimentArgs(
    argv,
    {
      model: { type: 'string', default: assetPath('models/people-default') },
      people: { type: 'string', default: '16' },
      timesteps: { type: 'string', default: '2048' },
      'direct-steps': { type: 'string', default: '1000' },
      'train-people': { type: 'string', default: '2000' },
      'neighbour-kl': { type: 'string', default: '1' },
      'neighbours-per-edit': { type: 'string', default: '1' },
      'direct-lr': { type: 'string', default: '1e-3' },
      'direct-learn': { type: 'string', default: 'all' },
      save: { type: 'string' },
      'warm-start': { type: 'string', default: '0' },
      'accuracy-reward': { type: 'string', default: '0' },
      policy: { type: 'string' },
      optimizers: { type: 'string', default: 'ppo,reinforce,direct' },
      seed: { type: 'string', default: '0' },
      split: { type: 'string', default: 'test' },
      out: { type: 'string' },
      stack: { type: 'boolean', default: false },
      magnitude: { type: 'string', default: '1e-3' },
      magnitudes: { type: 'string' },
      action: { type: 'string', default: 'latent' },
      'fast-code': { type: 'string', default: '0' },
      'code-log-std': { type: 'string', default: '-1' },
      'gate-log-std': { type: 'string', default: '0' },
      'samples-per-context': { type: 'string', default: '4' },
      'pg-lr': { type: 'string', default: '1e-3' },
      minibatches: { type: 'string' },
      'constant-lr': { type: 'boolean', default: false },
      'shared-neighbour': { type: 'boolean', default: false },
      'neighbour-reward': { type: 'string', default: '0' },
      init: { type: 'string' },
      'reset-gate': { type: 'boolean', default: false },
      'skip-lora': { type: 'boolean', default: false },
      'whiten-keys': { type: 'boolean', default: false },
      'locality-people': { type: 'string', default: 'known' },
      'fast-gate': { type: 'boolean', default: false },
      'locality-loss': { type: 'string', default: 'hard' },
      'text-kl': { type: 'string', default: '0' },
      'stack-train': { type: 'string', default: '1' },
    },
    USAGE,
  );
  await initEngine('auto');
  const pp = await loadPeopleProblem(values.model, 0);
  if (values.split !== 'test' && values.split !== 'val') usage(`--split ${values.split}: test or val`);
  const localityPeople = LOCALITY_PEOPLE.find((x) => x === values['locality-people']);
  if (localityPeople === undefined)
    usage(`--locality-people ${values['locality-people']}: ${LOCALITY_PEOPLE.join(' or ')}`);
  if (values.out !== undefined && existsSync(values.out))
    usage(`--out ${values.out} exists: choose a new directory (nothing is overwritten)`);
  const contexts = (pp.task.splits[values.split === 'test' ? 'eval' : 'val'] ?? []).slice(
    0,
    Number(values.people),
  );
  // Every configuration is checked before anything is written.
  // Policy-gradient-only flags are refused where no policy gradient runs (or, --minibatches, where REINFORCE would).
  const kinds = values.optimizers.split(',');
  for (const flag of ['constant-lr', 'shared-neighbour', 'minibatches'] as const)
    if (
      values[flag] !== undefined &&
      values[flag] !== false &&
      !kinds.some((k) => k === 'ppo' || k === 'reinforce')
    )
      usage(`--${flag}: only PPO and REINFORCE read it (--optimizers ${values.optimizers})`);
  if (values.minibatches !== undefined && kinds.includes('reinforce'))
    usage('--minibatches: REINFORCE takes the whole rollout as one minibatch; run PPO separately');
  const magnitudes = values.magnitudes?.split(',').map(Number) ?? [Number(values.magnitude)];
  if (magnitudes.some((m) => !(m >= 0))) usage(`--magnitudes ${values.magnitudes}: non-negative numbers`);
  const runs = values.optimizers
    .split(',')
    .flatMap((kind) =>
      kind === 'direct' && values.magnitudes !== undefined
        ? magnitudes.map((m) => ({ kind, magnitude: m, name: `direct@${m}` }))
        : [{ kind, magnitude: Number(values.magnitude), name: kind }],
    );
  const configs = runs.map(({ kind, magnitude, name }) => {
    const optimizer =
      kind === 'direct'
        ? {
            kind,
            steps: Number(values['direct-steps']),
            neighbourKl: Number(values['neighbour-kl']),
            neighboursPerEdit: Number(values['neighbours-per-edit']),
            localityLoss: values['locality-loss'],
            textKl: Number(values['text-kl']),
            stackTrain: Number(values['stack-train']),
            learningRate: Number(values['direct-lr']),
            learn: values['direct-learn'],
          }
        : {
            kind,
            totalTimesteps: Number(values.timesteps),
            warmStartSteps: Number(values['warm-start']),
            action: values.action,
            gateLogStd: Number(values['gate-log-std']),
            samplesPerContext: Number(values['samples-per-context']),
            learningRate: Number(values['pg-lr']),
            annealLr: !values['constant-lr'],
            sharedNeighbour: values['shared-neighbour'],
            ...(values.minibatches === undefined ? {} : { numMinibatches: Number(values.minibatches) }),
          };
    const parsed = DeltaTrainConfigSchema.safeParse({
      generator: {
        fastCode: Number(values['fast-code']),
        initCodeLogStd: Number(values['code-log-std']),
        whitenKeys: values['whiten-keys'],
        fastGate: values['fast-gate'],
      },
      optimizer,
      reward: {
        accuracy: Number(values['accuracy-reward']),
        magnitude,
        neighbour: Number(values['neighbour-reward']),
        // The policy gradient's locality reward takes the same form as the direct gradient's locality loss.
        neighbourLoss: values['locality-loss'],
      },
      seed: Number(values.seed),
    });
    if (!parsed.success)
      usage(parsed.error.issues.map((i) => `delta config: ${i.path.join('.')}: ${i.message}`).join('\n'));
    return { kind, name, cfg: parsed.data };
  });
  if (values['reset-gate'] && (values.init === undefined || !values['fast-gate']))
    usage('--reset-gate: needs --init (a saved generator) and --fast-gate');
  if (values.init !== undefined) {
    // The warm start must be the generator this run would build (same code size, modules, …), checked up front.
    const from = await loadEditGenerator(pp.problem.env.model, values.init);
    const same = (c: object) => JSON.stringify({ ...c, layer: undefined });
    const differs = configs.some((c) => same(c.cfg.generator) !== same(from.config));
    from.dispose();
    if (differs)
      usage(`--init ${values.init}: its generator config differs from this run's (--fast-code, …)`);
  }
  const run = experimentRunDir(values.out, { experiment: 'delta-mode', values });
  const trainPeople = Number(values['train-people']);
  const train = rlContexts(pp.world, pp.task, trainPeople).slice(0, trainPeople);
  const policy =
    values.policy === undefined ? undefined : await loadAdapter(values.policy, pp.problem.env.model);
  const settings = {
    seeds: [0],
    inner: InnerLoopConfigSchema.parse({}),
    parse: ParseOptionsSchema.parse({}),
    temperature: 1,
    topP: 0.95,
    maxNewTokens: 160,
  };
  const summary: Record<string, unknown> = {};
  for (const [i, { name, cfg }] of configs.entries()) {
    const from =
      values.init === undefined ? undefined : await loadEditGenerator(pp.problem.env.model, values.init);
    if (values['reset-gate']) from?.resetGate();
    const r = await runDeltaMode(pp, train, contexts, policy, cfg, settings, run, {
      ...(from === undefined ? {} : { from }),
      ...(values.save === undefined ? {} : { saveDir: join(values.save, name) }),
      // The stacking table of every configuration (a magnitude sweep shows whether smaller edits stack better).
      ...(values.stack ? { stackSizes: STACK_SIZES, stackLabel: `delta_${name}` } : {}),
      // The LoRA conditions do not depend on the generator: measured once, in both tables (or never: --skip-lora).
      loraBaselines: i === 0 && !values['skip-lora'],
      localityPeople,
    });
    const table = Object.fromEntries(
      Object.entries(r.scores).map(([k, v]) => [
        k,
        {
          es: v.es.mean,
          esCi: v.es.ci95,
          ps: v.ps.mean,
          ns: v.ns.mean,
          retention: v.retention.mean,
          drawdown: v.drawdown.mean,
          magnitude: v.magnitude.mean,
          editMs: v.editMs,
        },
      ]),
    );
    const line = {
      optimizer: name,
      magnitudeWeight: cfg.reward.magnitude,
      trainS: r.trainS,
      first: r.logs[0],
      last: r.logs[r.logs.length - 1],
      table,
      ...(r.stack === undefined
        ? {}
        : {
            stack: summariseStacks(r.stack).map((x) => ({
              condition: x.condition,
              size: x.size,
              es: x.es.mean,
              retention: x.retention.mean,
              drawdown: x.drawdown.mean,
            })),
          }),
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
    summary[name] = table;
  }
  const last = {
    summary,
    people: contexts.length,
    split: values.split,
    trainPeople: train.length,
    model: values.model,
  };
  run?.writeJson('summary.json', last);
  if (run !== undefined) writeFileSync(join(run.dir, 'report.html'), buildDeltaReport(run.dir));
  process.stdout.write(`${JSON.stringify(last)}\n`);
}

await main();
