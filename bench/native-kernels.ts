/**
 * Config-A training step, native acceleration off vs on: median ms of full steps (forward with `training: true`,
 * fused cross-entropy, `tf.variableGrads` over every parameter) plus where the time goes per kernel.
 *   npm run bench:native -- [--arch gpt2|llama] [--steps N] [--modes off,on,bf16]
 */
import { cpus, loadavg } from 'node:os';
import { fused } from '../src/engine/fused.js';
import { adamwUpdateNative, initEngine, tf } from '../src/engine/index.js';
import { parseModelConfig } from '../src/model/config.js';
import { Transformer } from '../src/model/model.js';
import { AdamW } from '../src/train/optimizer.js';
import { Rng } from '../src/util/rng.js';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? dflt) : dflt;
}

const arch = arg('arch', 'gpt2') as 'gpt2' | 'llama';
const steps = Number(arg('steps', '7'));
const modes = arg('modes', 'off,on').split(','); // also: bf16 (opt-in bf16 matmuls, with an accuracy check)
const B = 16;
const T = 128;

const config = parseModelConfig(
  {
    arch,
    modelType: arch,
    vocabSize: 512,
    dim: 128,
    nLayers: 4,
    nHeads: 4,
    nKvHeads: 4,
    hiddenDim: 512,
    maxSeqLen: T,
    normEps: 1e-5,
    ropeTheta: 10000,
    tieEmbeddings: true,
    attnBias: arch === 'gpt2',
  },
  'bench',
);

type KernelCfg = ReturnType<typeof tf.getKernelsForBackend>[number];
const kernelMs = new Map<string, { ms: number; calls: number }>();

/** Wrap every wasm kernel in a timer (kernels call each other directly, not through the registry: no double count). */
function timeKernels(): () => void {
  const originals: KernelCfg[] = tf.getKernelsForBackend('wasm');
  for (const k of originals) {
    tf.unregisterKernel(k.kernelName, 'wasm');
    const f = k.kernelFunc;
    tf.registerKernel({
      ...k,
      kernelFunc: (args) => {
        const t0 = performance.now();
        const out = f(args);
        const e = kernelMs.get(k.kernelName) ?? { ms: 0, calls: 0 };
        e.ms += performance.now() - t0;
        e.calls++;
        kernelMs.set(k.kernelName, e);
        return out;
      },
    });
  }
  return () => {
    for (const k of originals) {
      tf.unregisterKernel(k.kernelName, 'wasm');
      tf.registerKernel(k);
    }
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** One AdamW update of every parameter: src/train/optimizer.ts's tfjs ops, and the fused native kernel. */
function timeAdamW(model: Transformer, native: boolean): void {
  const grads = new Map([...model.params].map(([k, v]) => [k, tf.randomNormal(v.shape)] as const));
  const cfg = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
  const opt = new AdamW(model.params, cfg);
  const time = (f: () => void): number => {
    f();
    const xs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      f();
      xs.push(performance.now() - t0);
    }
    return median(xs);
  };
  const composite = time(() => opt.update(grads, 1e-3));
  let line = `AdamW update of all ${model.numParams} params: tfjs ops ${composite.toFixed(1)} ms`;
  if (native) {
    const state = new Map<string, [tf.Tensor, tf.Tensor]>();
    let step = 0;
    const fusedMs = time(() => {
      step++;
      for (const [name, p] of model.params) {
        const prev = state.get(name);
        const o = { ...cfg, lr: 1e-3, step, weightDecay: p.rank >= 2 ? cfg.weightDecay : 0 };
        const [m, v, next] = adamwUpdateNative(p, grads.get(name) as tf.Tensor, prev?.[0], prev?.[1], o);
        if (prev !== undefined) tf.dispose(prev);
        state.set(name, [m, v]);
        p.assign(next);
        next.dispose();
      }
    });
    line += `, adamwUpdateNative ${fusedMs.toFixed(1)} ms`;
    for (const s of state.values()) tf.dispose(s);
  }
  console.log(line);
  opt.dispose();
  tf.dispose([...grads.values()]);
}

type Mode = 'off' | 'on' | 'bf16';

/**
 * What bf16 products cost in accuracy: loss and gradients of one batch against fp32 native, and the loss after a
 * short AdamW run on a learnable sequence (next token of a fixed cycle).
 */
async function bf16Accuracy(): Promise<void> {
  const rng = new Rng(3);
  const cycle = Array.from({ length: 97 }, () => rng.int(config.vocabSize));
  const seq = Array.from({ length: B * (T + 1) }, (_, i) => cycle[i % cycle.length] as number);
  const rows = Array.from({ length: B }, (_, b) => seq.slice(b * (T + 1), (b + 1) * (T + 1)));
  const ids = tf.tensor2d(
    rows.flatMap((r) => r.slice(0, T)),
    [B, T],
    'int32',
  );
  const targets = tf.tensor1d(
    rows.flatMap((r) => r.slice(1)),
    'int32',
  );
  const weights = tf.ones([B * T]);
  const lossAndGrads = (model: Transformer) =>
    tf.variableGrads(() => {
      const logits = model.forward(ids, { training: true });
      return fused.crossEntropy(tf.reshape(logits, [B * T, config.vocabSize]), targets, weights) as tf.Scalar;
    });
  const trial = async (bf16: boolean) => {
    await initEngine('wasm', { bf16 });
    const model = Transformer.init(config, 5);
    const { value, grads } = lossAndGrads(model);
    const first = {
      loss: value.dataSync()[0] as number,
      grads: [...model.params.values()].map((v) => (grads[v.name] as tf.Tensor).dataSync() as Float32Array),
    };
    tf.dispose([value, ...Object.values(grads)]);
    const state = new Map<string, [tf.Tensor, tf.Tensor]>();
    const curve: number[] = [];
    for (let step = 1; step <= 60; step++) {
      tf.tidy(() => {
        const r = lossAndGrads(model);
        if (step % 20 === 0 || step === 1) curve.push(r.value.dataSync()[0] as number);
        for (const [name, p] of model.params) {
          const prev = state.get(name);
          const o = { lr: 3e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0, step };
          const [m, v, next] = adamwUpdateNative(p, r.grads[p.name] as tf.Tensor, prev?.[0], prev?.[1], o);
          if (prev !== undefined) tf.dispose(prev);
          state.set(name, [tf.keep(m), tf.keep(v)]);
          p.assign(next);
        }
      });
    }
    for (const st of state.values()) tf.dispose(st);
    model.dispose();
    return { first, curve };
  };
  const f32 = await trial(false);
  const b16 = await trial(true);
  let worst = 0;
  f32.first.grads.forEach((g, i) => {
    const h = b16.first.grads[i] as Float32Array;
    let maxRef = 0;
    let maxDiff = 0;
    for (let j = 0; j < g.length; j++) {
      maxRef = Math.max(maxRef, Math.abs(g[j] as number));
      maxDiff = Math.max(maxDiff, Math.abs((g[j] as number) - (h[j] as number)));
    }
    worst = Math.max(worst, maxRef === 0 ? 0 : maxDiff / maxRef);
  });
  const fmt = (c: number[]) => c.map((x) => x.toFixed(4)).join(' → ');
  console.log(`\nbf16 vs fp32 (native): loss ${f32.first.loss.toFixed(6)} vs ${b16.first.loss.toFixed(6)}`);
  console.log(`  worst parameter-gradient relative error (max |Δ| / max |g|): ${worst.toExponential(2)}`);
  console.log(`  60 AdamW steps, loss at steps 1/20/40/60: fp32 ${fmt(f32.curve)}; bf16 ${fmt(b16.curve)}`);
  tf.dispose([ids, targets, weights]);
}

async function run(mode: Mode): Promise<number> {
  const native = mode !== 'off';
  const info = await initEngine('wasm', { native, bf16: mode === 'bf16' });
  console.log(`\n== native ${mode}: ${info.native.detail}`);
  const model = Transformer.init(config, 1);
  const rng = new Rng(7);
  const ids = tf.tensor2d(
    Array.from({ length: B * T }, () => rng.int(config.vocabSize)),
    [B, T],
    'int32',
  );
  const targets = tf.tensor1d(
    Array.from({ length: B * T }, () => rng.int(config.vocabSize)),
    'int32',
  );
  const weights = tf.ones([B * T]);
  const step = (): number => {
    const t0 = performance.now();
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => {
        const logits = model.forward(ids, { training: true });
        return fused.crossEntropy(
          tf.reshape(logits, [B * T, config.vocabSize]),
          targets,
          weights,
        ) as tf.Scalar;
      });
      value.dataSync();
      for (const g of Object.values(grads)) g.dataSync();
    });
    return performance.now() - t0;
  };
  step();
  step();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) times.push(step());
  const med = median(times);
  console.log(`step ms: median ${med.toFixed(1)} (${times.map((t) => t.toFixed(0)).join(' ')})`);
  kernelMs.clear();
  const restore = timeKernels();
  const profiled = 3;
  let total = 0;
  for (let i = 0; i < profiled; i++) total += step();
  restore();
  const rows = [...kernelMs.entries()].sort((a, b) => b[1].ms - a[1].ms);
  let sum = 0;
  for (const [, v] of rows) sum += v.ms;
  console.log(
    `per step: ${(total / profiled).toFixed(1)} ms wall, ${(sum / profiled).toFixed(1)} ms in kernels`,
  );
  for (const [name, v] of rows.slice(0, 25)) {
    console.log(
      `  ${name.padEnd(24)} ${(v.ms / profiled).toFixed(1).padStart(8)} ms  ${String(v.calls / profiled).padStart(5)} calls`,
    );
  }
  timeAdamW(model, native);
  model.dispose();
  tf.dispose([ids, targets, weights]);
  return med;
}

console.log(`config A (${arch}): vocab 512, d 128, 4 layers, 4 heads, seq ${T}, batch ${B}`);
// Other processes on the machine skew every number here: say how busy it was.
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
console.log(`${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}; load average ${load()}`);
const results: Record<string, number> = {};
for (const m of modes) results[m] = await run(m as Mode);
if (modes.includes('bf16')) await bf16Accuracy();
console.log(`\nsummary (median ms/step): ${JSON.stringify(results)}; load average now ${load()}`);
