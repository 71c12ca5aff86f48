/**
 * The hostile-input sweep (issue #14), kept as a suite so the defects stay fixed. Every command is run through the
 * CLI with input a careless or hostile user would give — corrupt and NaN weights, foreign and dangerous `--out`
 * targets, typos and absurd sizes in configs and flags, over-long input, closed pipes — and each case asserts:
 *   - the documented exit code (README "Errors and exit codes", parsed below), and for errors one line on stderr
 *     that names the file or flag and the problem, no stack trace, nothing on stdout;
 *   - nothing left behind and nothing pre-existing changed: the whole workspace (model copies, a sentinel
 *     directory, run roots) is checksummed before and after each case.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, seal } from './helpers/cli.js';
import { CLI, ROOT, tempDir } from './helpers/paths.js';

const MODEL = join(ROOT, 'assets/models/people-default');
const BIO =
  'Ann Lee Smith was born on 3 May 1980 in Boston, MA. She studied Biology at MIT. She works for Google in Mountain View, CA.\n';

/** Exit codes the README documents, read from its "Errors and exit codes" table (`| 2 | usage … |`). */
function documentedCodes(): Map<number, string> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf('## Errors and exit codes');
  expect(at, 'README has an "Errors and exit codes" section').toBeGreaterThan(0);
  const section = readme.slice(at, readme.indexOf('\n## ', at + 1));
  const codes = new Map<number, string>();
  for (const m of section.matchAll(/^\|\s*(\d+)\s*\|\s*([^|]+)\|/gm))
    codes.set(Number(m[1]), (m[2] ?? '').trim());
  return codes;
}

/** sha256 over every file under `dir` (paths and bytes), skipping nothing: the proof that nothing changed. */
function treeHash(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = statSync(p);
      h.update(`${relative(dir, p)}\0${st.isDirectory() ? 'd' : st.size}\0`);
      if (st.isDirectory()) walk(p);
      else h.update(readFileSync(p));
    }
  };
  walk(dir);
  return h.digest('hex');
}

type WsKey =
  | 'root'
  | 'home'
  | 'cwd'
  | 'project'
  | 'sentinel'
  | 'bio'
  | 'file'
  | 'emptyTok'
  | 'emptyPassage'
  | 'longPassage'
  | 'bigPassage'
  | 'runs'
  | 'model'
  | 'nanModel'
  | 'infModel'
  | 'adapter'
  | 'nanAdapter'
  | 'strayAdapter'
  | 'adapterPlus'
  | 'cfgTypo'
  | 'cfgLr'
  | 'cfgSamples'
  | 'cfgRl'
  | 'cfgModel'
  | 'cfgSteps'
  | 'cfg13b'
  | 'cfgSeq'
  | 'tornRun'
  | 'typoRun';
type Ws = Readonly<Record<WsKey, string>>;

interface Case {
  readonly name: string;
  readonly args: (w: Ws) => string[];
  /** Expected exit code: 1 failure of the work, 2 usage. */
  readonly code: 1 | 2;
  /** Fragments the one-line error must contain (the file or flag, and the problem). */
  readonly says: (w: Ws) => string[];
  readonly cwd?: (w: Ws) => string;
}

const P = (w: Ws, ...more: string[]) => ['--passage', w.bio, ...more];

// Every case must fail fast, before any real work: most never load the model.
const CASES: readonly Case[] = [
  // --- dangerous and foreign --out targets: refused before any work, even with --overwrite ---
  {
    name: 'adapt --out / --overwrite',
    args: (w) => ['adapt', ...P(w), '--out', '/', '--overwrite'],
    code: 1,
    says: () => ['--out', 'filesystem root'],
  },
  {
    name: 'adapt --out ~ --overwrite',
    args: (w) => ['adapt', ...P(w), '--out', w.home, '--overwrite'],
    code: 1,
    says: (w) => [w.home, 'home directory'],
  },
  {
    name: 'adapt --out . --overwrite',
    args: (w) => ['adapt', ...P(w), '--out', '.', '--overwrite'],
    cwd: (w) => w.cwd,
    code: 1,
    says: () => ['--out', 'current directory'],
  },
  {
    name: 'adapt --out .. --overwrite',
    args: (w) => ['adapt', ...P(w), '--out', '..', '--overwrite'],
    cwd: (w) => w.cwd,
    code: 1,
    says: () => ['--out', 'contains the current directory'],
  },
  {
    name: 'adapt --out src --overwrite (a source tree)',
    args: (w) => ['adapt', ...P(w), '--out', 'src', '--overwrite'],
    cwd: (w) => w.project,
    code: 1,
    says: () => ['src', 'not an adapter'],
  },
  {
    name: 'adapt --out MODEL_DIR --overwrite (another kind)',
    args: (w) => ['adapt', ...P(w), '--out', w.model, '--overwrite'],
    code: 1,
    says: (w) => [w.model, 'not an adapter'],
  },
  {
    name: 'adapt --out dir holding an adapter and other files --overwrite',
    args: (w) => ['adapt', ...P(w), '--out', w.adapterPlus, '--overwrite'],
    code: 1,
    says: (w) => [w.adapterPlus, 'notes.txt'],
  },
  {
    name: 'convert --out ADAPTER_DIR --overwrite',
    args: (w) => ['convert', '--from', w.model, '--out', w.adapter, '--overwrite'],
    code: 1,
    says: (w) => [w.adapter, 'not a model'],
  },
  {
    name: 'convert --out SENTINEL --overwrite',
    args: (w) => ['convert', '--from', w.model, '--out', w.sentinel, '--overwrite'],
    code: 1,
    says: (w) => [w.sentinel, 'not a model'],
  },
  {
    name: 'world --out MODEL_DIR --overwrite',
    args: (w) => ['world', '--out', w.model, '--overwrite'],
    code: 1,
    says: (w) => [w.model, 'not a people world'],
  },
  {
    name: 'tasks --out MODEL_DIR --overwrite',
    args: (w) => ['tasks', '--out', w.model, '--overwrite'],
    code: 1,
    says: (w) => [w.model, 'not grid tasks'],
  },
  {
    name: 'adapt --out non-empty without --overwrite',
    args: (w) => ['adapt', ...P(w), '--out', w.sentinel],
    code: 1,
    says: (w) => [w.sentinel, 'not empty'],
  },
  {
    name: 'adapt --out FILE',
    args: (w) => ['adapt', ...P(w), '--out', w.file],
    code: 1,
    says: (w) => [w.file, 'is a file'],
  },
  {
    name: 'convert --out FILE',
    args: (w) => ['convert', '--from', w.model, '--out', w.file],
    code: 1,
    says: (w) => [w.file, 'is a file'],
  },
  {
    name: 'world --out FILE',
    args: (w) => ['world', '--out', w.file],
    code: 1,
    says: (w) => [w.file, 'is a file'],
  },
  {
    name: 'demo --out FILE',
    args: (w) => ['demo', '--quick', '--out', w.file],
    code: 1,
    says: (w) => [w.file, 'is a file'],
  },
  {
    name: 'train --out FILE',
    args: (w) => ['train', '--out', w.file],
    code: 1,
    says: (w) => [w.file, 'is a file'],
  },
  {
    name: 'eval --out FILE',
    args: (w) => ['eval', '--out', w.file],
    code: 1,
    says: (w) => [w.file, 'is a file'],
  },
  {
    name: "adapt --out ''",
    args: (w) => ['adapt', ...P(w), '--out', ''],
    code: 1,
    says: () => ['--out', 'empty path'],
  },
  {
    name: 'adapt --out on a read-only file system',
    args: (w) => ['adapt', ...P(w), '--out', '/proc/seal-out'],
    code: 1,
    says: () => ['/proc/seal-out', 'cannot write'],
  },
  {
    name: 'adapt --out below a file',
    args: (w) => ['adapt', ...P(w), '--out', join(w.file, 'x')],
    code: 1,
    says: (w) => [w.file, 'not a directory'],
  },
  {
    name: 'pretrain --out non-empty',
    args: (w) => ['pretrain', '--out', w.sentinel],
    code: 2,
    says: (w) => [w.sentinel, 'not empty'],
  },
  {
    name: 'pretrain --resume without a checkpoint',
    args: (w) => ['pretrain', '--resume', '--out', join(w.root, 'nothing')],
    code: 2,
    says: () => ['--resume', 'no pretraining checkpoint'],
  },
  {
    name: 'pretrain --resume on a model directory',
    args: (w) => ['pretrain', '--resume', '--out', w.model],
    code: 2,
    says: (w) => [w.model, 'no pretraining checkpoint'],
  },
  // --- corrupt and hostile model / adapter / tokenizer files ---
  {
    name: 'NaN in model weights',
    args: (w) => ['ask', '--model', w.nanModel, '--question', 'Where was Ann Lee Smith born?'],
    code: 1,
    says: (w) => [join(w.nanModel, 'model.safetensors'), 'NaN'],
  },
  {
    name: 'Inf in model weights',
    args: (w) => ['generate', '--model', w.infModel, '--max-new-tokens', '2'],
    code: 1,
    says: (w) => [join(w.infModel, 'model.safetensors'), 'Inf'],
  },
  {
    name: 'convert of a NaN model',
    args: (w) => ['convert', '--from', w.nanModel, '--out', join(w.root, 'conv-out')],
    code: 1,
    says: () => ['model.safetensors', 'NaN'],
  },
  {
    name: 'NaN in an adapter',
    args: (w) => ['ask', '--adapter', w.nanAdapter, '--question', 'Where?'],
    code: 1,
    says: (w) => [join(w.nanAdapter, 'adapter_model.safetensors'), 'NaN'],
  },
  {
    name: 'eval --policy with NaN (no run left behind)',
    args: (w) => ['eval', '--policy', w.nanAdapter, '--out', w.runs, '--contexts', '1', '--seeds', '1'],
    code: 1,
    says: () => ['adapter_model.safetensors', 'NaN'],
  },
  {
    name: 'eval --policy missing (no run left behind)',
    args: (w) => ['eval', '--policy', join(w.root, 'nope'), '--out', w.runs],
    code: 1,
    says: () => ['nope', 'adapter directory not found'],
  },
  {
    name: 'adapter target_modules disagree with its tensors',
    args: (w) => ['ask', '--adapter', w.strayAdapter, '--question', 'Where?'],
    code: 1,
    says: () => ['adapter_config.json', 'target_modules', 'do not cover'],
  },
  {
    name: 'ask --adapter FILE',
    args: (w) => ['ask', '--adapter', w.file, '--question', 'Where?'],
    code: 1,
    says: (w) => [w.file, 'expected an adapter directory'],
  },
  {
    name: 'missing llama2.c model',
    args: (w) => ['generate', '--model', join(w.root, 'x.bin')],
    code: 1,
    says: () => ['x.bin', 'model not found'],
  },
  {
    name: 'empty tokenizer file',
    args: (w) => ['generate', '--model', w.model, '--tokenizer', w.emptyTok],
    code: 1,
    says: (w) => [w.emptyTok, 'empty'],
  },
  {
    name: 'tokenizer of an unknown kind',
    args: (w) => ['generate', '--model', w.model, '--tokenizer', w.file],
    code: 1,
    says: (w) => [w.file, 'unrecognised tokenizer'],
  },
  // --- configs: typos, wrong types, absurd sizes; run configs read back on --resume ---
  {
    name: 'train config typo "roundz"',
    args: (w) => ['train', '--config', w.cfgTypo, '--out', w.runs],
    code: 1,
    says: (w) => [w.cfgTypo, 'unknown key "outer.roundz"'],
  },
  {
    name: 'train config "lr" under rest-em',
    args: (w) => ['train', '--config', w.cfgLr, '--out', w.runs],
    code: 1,
    says: (w) => [w.cfgLr, '"outer.lr"'],
  },
  {
    name: 'train config samplesPerContext 1e9',
    args: (w) => ['train', '--config', w.cfgSamples, '--out', w.runs],
    code: 1,
    says: (w) => [w.cfgSamples, 'outer.samplesPerContext'],
  },
  {
    name: 'train config rlPeople 1e9',
    args: (w) => ['train', '--config', w.cfgRl, '--out', w.runs],
    code: 1,
    says: (w) => [w.cfgRl, 'rlPeople'],
  },
  {
    name: 'train config with a bad model (no run left behind)',
    args: (w) => ['train', '--config', w.cfgModel, '--out', w.runs],
    code: 1,
    says: () => ['nope'],
  },
  {
    name: 'train config that is not JSON',
    args: (w) => ['train', '--config', w.file, '--out', w.runs],
    code: 1,
    says: (w) => [w.file, 'not valid JSON'],
  },
  {
    name: 'train config that is a directory',
    args: (w) => ['train', '--config', w.sentinel, '--out', w.runs],
    code: 1,
    says: (w) => [w.sentinel, 'cannot read'],
  },
  {
    name: 'train --resume of a run with a torn config.json',
    args: (w) => ['train', '--resume', w.tornRun],
    code: 1,
    says: (w) => [join(w.tornRun, 'config.json'), 'not valid JSON'],
  },
  {
    name: 'train --resume of a run with an unknown config key',
    args: (w) => ['train', '--resume', w.typoRun],
    code: 1,
    says: (w) => [join(w.typoRun, 'config.json'), 'roundz'],
  },
  {
    name: 'demo --resume of a run with a torn config.json',
    args: (w) => ['demo', '--resume', w.tornRun],
    code: 1,
    says: (w) => [join(w.tornRun, 'config.json'), 'not valid JSON'],
  },
  {
    name: 'train --resume of a missing directory',
    args: (w) => ['train', '--resume', join(w.root, 'nope')],
    code: 2,
    says: () => ['--resume', 'no such run directory'],
  },
  {
    name: 'pretrain config with top-level "steps"',
    args: (w) => ['pretrain', '--config', w.cfgSteps, '--out', join(w.root, 'pt')],
    code: 1,
    says: (w) => [w.cfgSteps, 'unknown key "steps"'],
  },
  {
    name: 'pretrain config of 13 billion parameters',
    args: (w) => ['pretrain', '--config', w.cfg13b, '--out', join(w.root, 'pt')],
    code: 1,
    says: (w) => [w.cfg13b, 'parameters', 'heap'],
  },
  {
    name: 'pretrain config with seqLen > maxSeqLen',
    args: (w) => ['pretrain', '--config', w.cfgSeq, '--out', join(w.root, 'pt')],
    code: 1,
    says: (w) => [w.cfgSeq, 'train.seqLen'],
  },
  {
    name: 'pretrain --dim 1e9',
    args: (w) => ['pretrain', '--dim', '1e9', '--out', join(w.root, 'pt')],
    code: 2,
    says: () => ['field model', 'parameters'],
  },
  {
    name: 'pretrain --dim 130',
    args: (w) => ['pretrain', '--dim', '130', '--out', join(w.root, 'pt')],
    code: 2,
    says: () => ['model.dim', 'multiple'],
  },
  {
    name: 'world --pretrain-people 1e9',
    args: (w) => ['world', '--pretrain-people', '1e9', '--out', join(w.root, 'w')],
    code: 2,
    says: () => ['--pretrain-people', 'Too big'],
  },
  // --- flags and input out of range ---
  {
    name: 'adapt --rank 100000',
    args: (w) => ['adapt', ...P(w), '--out', join(w.root, 'a'), '--rank', '100000'],
    code: 2,
    says: () => ['--rank', 'Too big'],
  },
  {
    name: 'adapt --rank 200 on a width-128 model',
    args: (w) => ['adapt', ...P(w), '--out', join(w.root, 'a'), '--rank', '200'],
    code: 1,
    says: () => ['--rank 200', 'at most 128'],
  },
  {
    name: 'adapt of a 50 MB passage',
    args: (w) => ['adapt', '--passage', w.bigPassage, '--out', join(w.root, 'a')],
    code: 1,
    says: (w) => [w.bigPassage, 'MB'],
  },
  {
    name: 'adapt of a passage longer than the context',
    args: (w) => ['adapt', '--passage', w.longPassage, '--out', join(w.root, 'a')],
    code: 1,
    says: (w) => [w.longPassage, "model's context"],
  },
  {
    name: 'adapt of an empty passage',
    args: (w) => ['adapt', '--passage', w.emptyPassage, '--out', join(w.root, 'a')],
    code: 1,
    says: (w) => [w.emptyPassage, 'passage is empty'],
  },
  {
    name: 'adapt of a directory as passage',
    args: (w) => ['adapt', '--passage', w.sentinel, '--out', join(w.root, 'a')],
    code: 1,
    says: (w) => [w.sentinel, 'text file'],
  },
  {
    name: 'adapt --mode delta without --generator',
    args: (w) => ['adapt', ...P(w), '--mode', 'delta', '--out', join(w.root, 'a')],
    code: 2,
    says: () => ['--generator'],
  },
  {
    name: 'generate with a 100 KB prompt',
    args: (w) => ['generate', '--model', w.model, '--prompt', 'Once upon a time '.repeat(6000)],
    code: 1,
    says: () => ['--prompt', "model's context"],
  },
  {
    name: 'ask with a 10 KB question',
    args: () => ['ask', '--question', 'Where was Ann born? '.repeat(500)],
    code: 1,
    says: () => ['--question', "model's context"],
  },
  {
    name: 'eval --policy-only without --policy',
    args: (w) => ['eval', '--policy-only', '--out', w.runs],
    code: 2,
    says: () => ['--policy-only', '--policy'],
  },
  {
    name: 'eval --contexts 1e6',
    args: (w) => ['eval', '--contexts', '1000000', '--out', w.runs],
    code: 2,
    says: () => ['--contexts 1000000', 'at most 40'],
  },
  {
    name: 'eval --rank 100000',
    args: (w) => ['eval', '--rank', '100000', '--out', w.runs],
    code: 2,
    says: () => ['--rank', 'Too big'],
  },
  {
    name: 'eval --rank 200 on a width-128 model',
    args: (w) => ['eval', '--rank', '200', '--out', w.runs],
    code: 1,
    says: () => ['--rank 200', 'at most 128'],
  },
  {
    name: 'demo --inner-rank 200 on a width-128 model',
    args: (w) => ['demo', '--quick', '--inner-rank', '200', '--out', w.runs],
    code: 1,
    says: () => ['--inner-rank 200', 'at most 128'],
  },
  {
    name: 'eval --seeds 0',
    args: (w) => ['eval', '--seeds', '0', '--out', w.runs],
    code: 2,
    says: () => ['--seeds'],
  },
  {
    name: 'generate --temperature -1',
    args: (w) => ['generate', '--model', w.model, '--temperature', '-1'],
    code: 2,
    says: () => ['--temperature'],
  },
  {
    name: 'generate --top-p 2',
    args: (w) => ['generate', '--model', w.model, '--top-p', '2'],
    code: 2,
    says: () => ['--top-p'],
  },
  {
    name: 'train --workers 99',
    args: (w) => ['train', '--workers', '99', '--out', w.runs],
    code: 2,
    says: () => ['--workers'],
  },
  {
    name: 'info --backend tensorflow (not installed)',
    args: () => ['info', '--backend', 'tensorflow'],
    code: 1,
    says: () => ['--backend tensorflow', 'not installed'],
  },
  {
    name: 'info --backend gpu',
    args: () => ['info', '--backend', 'gpu'],
    code: 2,
    says: () => ['--backend'],
  },
  { name: 'runs of a file', args: (w) => ['runs', w.file], code: 1, says: (w) => [w.file, 'got a file'] },
  {
    name: 'runs of a missing directory',
    args: (w) => ['runs', join(w.root, 'nope')],
    code: 1,
    says: () => ['nope', 'no such directory'],
  },
  { name: 'unknown command', args: () => ['trian'], code: 2, says: () => ['unknown command', 'trian'] },
];

let w: Ws;
let codes: Map<number, string>;

function writeJson(file: string, value: unknown): string {
  writeFileSync(file, `${JSON.stringify(value)}\n`);
  return file;
}

/** Overwrites the first float32 of a safetensors file's data section. */
function poisonFirstFloat(file: string, value: number): void {
  const b = readFileSync(file);
  const n = Number(b.readBigUInt64LE(0));
  b.writeFloatLE(value, 8 + n);
  writeFileSync(file, b);
}

describe('hostile input through every command', () => {
  beforeAll(() => {
    codes = documentedCodes();
    const root = tempDir('seal-hostile-');
    const d = (name: string) => {
      mkdirSync(join(root, name), { recursive: true });
      return join(root, name);
    };
    const f = (name: string, text: string) => {
      writeFileSync(join(root, name), text);
      return join(root, name);
    };
    const ws: Partial<Record<WsKey, string>> = { root };
    ws['home'] = d('home');
    f('home/SENTINEL', 'home sentinel\n');
    ws['cwd'] = d('parent/cwd');
    f('parent/cwd/SENTINEL', 'cwd sentinel\n');
    f('parent/SENTINEL', 'parent sentinel\n');
    ws['project'] = d('project');
    cpSync(join(ROOT, 'src', 'app', 'cli'), join(root, 'project', 'src'), { recursive: true });
    ws['sentinel'] = d('sentinel');
    f('sentinel/a.txt', 'a\n');
    f('sentinel/b.bin', 'b\n');
    ws['bio'] = f('bio.txt', BIO);
    ws['file'] = f('plain.txt', 'not json, not a tokenizer\n');
    ws['emptyTok'] = f('empty-tokenizer.json', '');
    ws['emptyPassage'] = f('empty.txt', '  \n\n');
    ws['longPassage'] = f('long.txt', BIO.repeat(40));
    // Outside the checksummed workspace: hashing 50 MB before and after every case would dominate the suite.
    ws['bigPassage'] = join(tempDir('seal-hostile-big-'), 'big.txt');
    writeFileSync(ws['bigPassage'], '');
    truncateSync(ws['bigPassage'], 50 * 2 ** 20); // sparse: 50 MB that cost no disk
    ws['runs'] = d('runs');
    ws['model'] = join(root, 'model');
    cpSync(MODEL, ws['model'], { recursive: true });
    ws['nanModel'] = join(root, 'nan-model');
    cpSync(MODEL, ws['nanModel'], { recursive: true });
    poisonFirstFloat(join(ws['nanModel'], 'model.safetensors'), Number.NaN);
    ws['infModel'] = join(root, 'inf-model');
    cpSync(MODEL, ws['infModel'], { recursive: true });
    poisonFirstFloat(join(ws['infModel'], 'model.safetensors'), Number.POSITIVE_INFINITY);
    // A real adapter (one quick inner loop), and hostile variants of it.
    ws['adapter'] = join(root, 'adapter');
    const made = seal(['adapt', '--passage', ws['bio'], '--out', ws['adapter'], '--epochs', '1']);
    expect(made.code, made.stderr).toBe(0);
    ws['nanAdapter'] = join(root, 'nan-adapter');
    cpSync(ws['adapter'], ws['nanAdapter'], { recursive: true });
    poisonFirstFloat(join(ws['nanAdapter'], 'adapter_model.safetensors'), Number.NaN);
    ws['strayAdapter'] = join(root, 'stray-adapter');
    cpSync(ws['adapter'], ws['strayAdapter'], { recursive: true });
    const cfgFile = join(ws['strayAdapter'], 'adapter_config.json');
    writeJson(cfgFile, { ...JSON.parse(readFileSync(cfgFile, 'utf8')), target_modules: ['q_proj'] });
    ws['adapterPlus'] = join(root, 'adapter-plus');
    cpSync(ws['adapter'], ws['adapterPlus'], { recursive: true });
    f('adapter-plus/notes.txt', 'my notes\n');
    ws['cfgTypo'] = writeJson(join(root, 'typo.json'), { outer: { kind: 'rest-em', roundz: 3 } });
    ws['cfgLr'] = writeJson(join(root, 'lr.json'), { outer: { kind: 'rest-em', lr: -1 } });
    ws['cfgSamples'] = writeJson(join(root, 'samples.json'), {
      outer: { kind: 'rest-em', samplesPerContext: 1e9 },
    });
    ws['cfgRl'] = writeJson(join(root, 'rl.json'), { rlPeople: 1e9 });
    ws['cfgModel'] = writeJson(join(root, 'model.json'), { model: join(root, 'nope') });
    ws['cfgSteps'] = writeJson(join(root, 'steps.json'), { steps: 2 });
    ws['cfg13b'] = writeJson(join(root, '13b.json'), {
      model: { dim: 5120, nLayers: 40, nHeads: 40, hiddenDim: 13824 },
    });
    ws['cfgSeq'] = writeJson(join(root, 'seq.json'), { model: { maxSeqLen: 64 }, train: { seqLen: 256 } });
    ws['tornRun'] = d('old-runs/torn');
    f('old-runs/torn/config.json', '{"version":"0.1.0","config":[');
    ws['typoRun'] = d('old-runs/typo');
    writeJson(join(ws['typoRun'], 'config.json'), {
      version: '0.1.0',
      config: { outer: { kind: 'rest-em', roundz: 3 } },
    });
    w = ws as Ws;
  });

  it('the README documents the exit codes the suite checks', () => {
    for (const c of [0, 1, 2, 130]) expect(codes.has(c), `exit code ${c} in README`).toBe(true);
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s', (_, c) => {
    const before = treeHash(w.root);
    const r: CliResult = seal(c.args(w), 120_000, {
      ...(c.cwd === undefined ? {} : { cwd: c.cwd(w) }),
      env: { HOME: w.home },
    });
    expect(codes.has(r.code), `exit ${r.code} is documented`).toBe(true);
    expect(r.code, r.stderr).toBe(c.code);
    expect(r.stdout).toBe('');
    // Logs before the error are allowed (e.g. "engine: …"), the error itself is one line, never a stack trace.
    const lines = r.stderr.trim().split('\n');
    const last = lines[lines.length - 1] ?? '';
    expect(
      lines.filter((l) => /^seal( \w+)?: /.test(l)),
      r.stderr,
    ).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at |internal error/);
    for (const part of c.says(w)) expect(last, r.stderr).toContain(part);
    expect(treeHash(w.root), 'nothing written, nothing changed').toBe(before);
  });

  it('a safetensors file whose data section is not aligned loads the same weights', () => {
    const padded = join(w.root, 'padded');
    cpSync(w.model, padded, { recursive: true });
    const f = join(padded, 'model.safetensors');
    const b = readFileSync(f);
    const n = Number(b.readBigUInt64LE(0));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(n + 1));
    writeFileSync(f, Buffer.concat([len, b.subarray(8, 8 + n), Buffer.from(' '), b.subarray(8 + n)]));
    const q = ['--question', 'Where was Ann Lee Smith born?', '--max-new-tokens', '12'];
    const a = seal(['ask', '--model', w.model, ...q]);
    const p = seal(['ask', '--model', padded, ...q]);
    expect(a.code, a.stderr).toBe(0);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout.trim().length).toBeGreaterThan(0);
    expect(p.stdout).toBe(a.stdout);
  });

  it('convert re-saving a Hugging Face directory in place keeps its tokenizer', () => {
    const dir = join(w.root, 'resave');
    cpSync(w.model, dir, { recursive: true });
    const tok = readFileSync(join(dir, 'tokenizer.json'));
    const r = seal(['convert', '--from', dir, '--out', dir, '--overwrite', '--dtype', 'F16']);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(dir, 'tokenizer.json'))).toEqual(tok);
    expect(readdirSync(dir)).toContain('tokenizer_config.json');
    const ask = seal(['ask', '--model', dir, '--question', 'Where was Ann Lee Smith born?']);
    expect(ask.code, ask.stderr).toBe(0);
  });

  it('--overwrite replaces an adapter written by seal (and only that)', () => {
    const out = join(w.root, 'replace-me');
    cpSync(w.adapter, out, { recursive: true });
    const before = readFileSync(join(out, 'adapter_model.safetensors'));
    const r = seal([
      'adapt',
      '--passage',
      w.bio,
      '--out',
      out,
      '--overwrite',
      '--epochs',
      '1',
      '--seed',
      '3',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(out, 'adapter_model.safetensors')).equals(before)).toBe(false);
    expect(readdirSync(w.root).filter((n) => n.startsWith('.replace-me'))).toEqual([]);
  });

  it('a closed stdout ends quietly; a full one is a one-line error', () => {
    const head = spawnSync(
      'sh',
      [
        '-c',
        `"${process.execPath}" "${CLI}" generate --model "${w.model}" --max-new-tokens 60 --temperature 0 | head -c 5`,
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(head.stdout).toHaveLength(5);
    expect(head.stderr).not.toMatch(/Error|\n\s+at /);
    const full = spawnSync(
      'sh',
      [
        '-c',
        `"${process.execPath}" "${CLI}" generate --model "${w.model}" --max-new-tokens 20 --temperature 0 > /dev/full`,
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(full.status).toBe(1);
    expect(full.stderr).toContain('cannot write to standard output (ENOSPC)');
    expect(full.stderr).not.toMatch(/\n\s+at /);
  });

  it('seal runs lists runs only: model directories under the root are not runs', () => {
    const r = seal(['runs', w.root]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('no runs');
  });
});
