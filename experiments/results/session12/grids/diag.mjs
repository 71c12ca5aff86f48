// Throwaway diagnostic (session 12): can a fresh small grid model learn in-context colour_map / flip in N steps,
// with the plain serialisation vs a fixed 6×6 canvas ('_' outside the grid)?  node diag.mjs FMT STEPS FAMILIES
const D = new URL('../../../../dist', import.meta.url).pathname;
const { initEngine } = await import(`${D}/engine/index.js`);
const { generateTask } = await import(`${D}/tasks/grids/world.js`);
const { gridTokenizer } = await import(`${D}/seal/domains/grids-model.js`);
const { smallLlamaConfig } = await import(`${D}/seal/domains/pretrain-model.js`);
const { packGridDocuments } = await import(`${D}/seal/domains/grids-pretrain.js`);
const { Transformer } = await import(`${D}/model/model.js`);
const { trainLoop } = await import(`${D}/train/loop.js`);
const { TrainConfigSchema } = await import(`${D}/train/loop.js`);
const { generate } = await import(`${D}/model/generate.js`);
const { Rng } = await import(`${D}/util/rng.js`);
await initEngine('auto');
const [fmt, stepsS, famS, dimS, layersS] = process.argv.slice(2);
const fams = famS.split(',');
const S = 6;
const ROWS = 'acefgh';
const gt = (g) => fmt === 'rows' ? g.map((row, r) => ROWS[r] + row.join('')).join('\n') : fmt === 'canvas'
  ? Array.from({ length: S }, (_, r) => Array.from({ length: S }, (_, c) => (g[r]?.[c] ?? '_')).join('')).join('\n')
  : g.map((row) => row.join('')).join('\n');
const segs = (pairs) => pairs.flatMap((p) => [{ text: `in\n${gt(p.input)}\nout\n`, train: false }, { text: `${gt(p.output)}\n\n`, train: true }]);
const rng = new Rng(5);
const opts = (i, split) => ({ id: `t${i}`, split, minDemos: 2, maxDemos: 4, maxTaskChars: 512 });
const docs = [];
for (let i = 0; i < 20000; i++) { const t = generateTask(fams[i % fams.length], rng, opts(i, 'pretrain')); docs.push(segs([...t.train, ...t.test])); }
const { tok } = gridTokenizer();
const { examples } = packGridDocuments(tok, docs, 512, new Rng(17));
const cfgM = { dim: Number(dimS ?? 128), nLayers: Number(layersS ?? 4), nHeads: 4, hiddenDim: Math.round(Number(dimS ?? 128) * 2.75), maxSeqLen: 1024, seed: 0 };
const model = Transformer.init(smallLlamaConfig(cfgM, tok.vocabSize, tok.eosId, 'x'), 0);
const train = TrainConfigSchema.parse({ steps: Number(stepsS), batchSize: 8, seqLen: 512, lr: 3e-3, schedule: { kind: 'cosine', warmupSteps: 100, minLrRatio: 0.1 }, checkpointEvery: 0 });
const t0 = performance.now();
const r = await trainLoop(model, model.params, examples, train, { label: `diag ${fmt}`, quiet: true });
const evalRng = new Rng(777);
const res = {};
for (const f of fams) {
  let ok = 0; let cells = 0; let n = 0;
  for (let i = 0; i < 24; i++) {
    const t = generateTask(f, evalRng, opts(i, 'pretrain'));
    const prompt = t.train.map((p) => `in\n${gt(p.input)}\nout\n${gt(p.output)}\n\n`).join('') + `in\n${gt(t.test[0].input)}\nout\n`;
    const want = gt(t.test[0].output);
    const g = generate(model, [tok.encode(prompt, { addBos: true })], { maxNewTokens: want.length + 2, temperature: 0, tokenizer: tok });
    const got = tok.decode(g.tokens?.[0] ?? g[0]?.tokens ?? g.sequences?.[0] ?? []).slice(0, want.length);
    if (got === want) ok++;
    let c = 0; for (let k = 0; k < want.length; k++) if (got[k] === want[k]) c++;
    cells += c / want.length; n++;
  }
  res[f] = { exact: ok / n, charAcc: +(cells / n).toFixed(3) };
}
console.log(JSON.stringify({ fmt, steps: r.steps, lossEnd: +r.finalLoss.toFixed(4), wallS: Math.round((performance.now() - t0) / 1000), res }));
