/**
 * Bad input through the CLI: each case must give a one-line error naming the file and the problem, a non-zero exit
 * code, no stack trace, and must write nothing (and never damage what exists).
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../src/engine/index.js';
import { parseModelConfig } from '../src/model/config.js';
import { saveHfModel } from '../src/model/io/hf.js';
import { Transformer } from '../src/model/model.js';
import { seal } from './helpers/cli.js';
import { ROOT, tempDir } from './helpers/paths.js';

const MODEL = join(ROOT, 'assets/models/stories260K/stories260K.bin');
const TOK = join(ROOT, 'assets/models/stories260K/tok512.bin');

function expectOneLineError(r: { code: number; stderr: string; stdout: string }, ...parts: string[]): void {
  expect(r.code).not.toBe(0);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  for (const p of parts) expect(r.stderr).toContain(p);
}

let good: string;

describe('bad input', () => {
  beforeAll(async () => {
    await initEngine('wasm');
    good = join(tempDir(), 'good');
    const config = parseModelConfig(
      {
        arch: 'gpt2',
        modelType: 'gpt2',
        vocabSize: 50,
        dim: 16,
        nLayers: 1,
        nHeads: 2,
        nKvHeads: 2,
        hiddenDim: 64,
        maxSeqLen: 32,
        normEps: 1e-5,
        ropeTheta: 10000,
        tieEmbeddings: true,
        attnBias: true,
      },
      'test',
    );
    await saveHfModel(Transformer.init(config, 1), good);
  });

  function copyOfGood(): string {
    const dir = join(tempDir(), 'm');
    mkdirSync(dir);
    for (const f of readdirSync(good)) copyFileSync(join(good, f), join(dir, f));
    return dir;
  }

  it('truncated safetensors', () => {
    const dir = copyOfGood();
    const f = join(dir, 'model.safetensors');
    truncateSync(f, readFileSync(f).length - 100);
    expectOneLineError(seal(['generate', '--model', dir, '--tokenizer', TOK]), 'model.safetensors');
  });

  it('corrupt safetensors header (not JSON)', () => {
    const dir = copyOfGood();
    const f = join(dir, 'model.safetensors');
    const b = readFileSync(f);
    b.write('@@@@', 9, 'latin1');
    writeFileSync(f, b);
    expectOneLineError(seal(['generate', '--model', dir, '--tokenizer', TOK]), 'model.safetensors', 'JSON');
  });

  it('a header that lies about sizes', () => {
    const dir = copyOfGood();
    const f = join(dir, 'model.safetensors');
    const b = readFileSync(f);
    const n = Number(b.readBigUInt64LE(0));
    const header = b
      .subarray(8, 8 + n)
      .toString('utf8')
      .replace('"shape":[16]', '"shape":[17]');
    expect(header).toContain('[17]');
    writeFileSync(f, Buffer.concat([b.subarray(0, 8), Buffer.from(header, 'utf8'), b.subarray(8 + n)]));
    expectOneLineError(seal(['generate', '--model', dir, '--tokenizer', TOK]), 'model.safetensors');
  });

  it('config whose shapes do not match the weights', () => {
    const dir = copyOfGood();
    const cfgPath = join(dir, 'config.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
    writeFileSync(cfgPath, JSON.stringify({ ...cfg, n_inner: 48 }));
    expectOneLineError(
      seal(['generate', '--model', dir, '--tokenizer', TOK]),
      'model.safetensors',
      'transformer.h.0.mlp.c_fc.weight',
      'shape',
    );
  });

  it('unknown architecture', () => {
    const dir = copyOfGood();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'bert', hidden_size: 16 }));
    expectOneLineError(
      seal(['generate', '--model', dir, '--tokenizer', TOK]),
      'config.json',
      'unknown architecture',
      'bert',
    );
  });

  it('bad config field', () => {
    const dir = copyOfGood();
    const cfgPath = join(dir, 'config.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
    writeFileSync(cfgPath, JSON.stringify({ ...cfg, n_head: 3 }));
    expectOneLineError(seal(['generate', '--model', dir, '--tokenizer', TOK]), 'config.json', 'nHeads');
  });

  it('missing tokenizer', () => {
    expectOneLineError(seal(['generate', '--model', good]), 'no tokenizer.json', good);
  });

  it('truncated llama2.c checkpoint, and convert writes nothing', () => {
    const dir = tempDir();
    const f = join(dir, 'broken.bin');
    writeFileSync(f, readFileSync(MODEL).subarray(0, 5000));
    const out = join(dir, 'out');
    expectOneLineError(
      seal(['convert', '--from', f, '--tokenizer', TOK, '--out', out]),
      'broken.bin',
      'truncated',
    );
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir)).toEqual(['broken.bin']);
  });

  it('convert never overwrites an existing directory without --overwrite', () => {
    const out = copyOfGood();
    const before = readdirSync(out).map((f) => readFileSync(join(out, f)).toString('base64'));
    expectOneLineError(
      seal(['convert', '--from', MODEL, '--tokenizer', TOK, '--out', out]),
      out,
      'not empty',
    );
    expect(readdirSync(out).map((f) => readFileSync(join(out, f)).toString('base64'))).toEqual(before);
  });

  it('usage errors exit with 2 and say what is wrong', () => {
    const r = seal(['generate', '--model', good, '--temprature', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown option --temprature');
    const r2 = seal(['generate', '--model', good, '--max-new-tokens', 'many']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain('--max-new-tokens');
  });

  it('--help documents every option of every command', () => {
    const main = seal(['--help']);
    expect(main.code).toBe(0);
    for (const cmd of ['generate', 'convert', 'info', 'demo']) {
      expect(main.stdout).toContain(cmd);
      const h = seal([cmd, '--help']);
      expect(h.code).toBe(0);
      expect(h.stdout).toContain(`seal ${cmd}`);
    }
    const g = seal(['generate', '--help']).stdout;
    for (const flag of [
      '--model',
      '--tokenizer',
      '--prompt',
      '--max-new-tokens',
      '--temperature',
      '--top-p',
      '--top-k',
      '--seed',
      '--stop',
      '--cache',
      '--backend',
    ])
      expect(g).toContain(flag);
  });
});
