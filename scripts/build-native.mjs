#!/usr/bin/env node
/**
 * Builds the optional native addon (native/ → native/build/Release/seal_native.node) with node-gyp and a C++17
 * compiler. Matrix products run on our own SGEMM (native/src/sgemm*.cc); when OpenBLAS's headers are installed
 * (Debian: libopenblas-dev) it is linked too and used by default (see native/README.md). Never fails the install:
 * on any problem it prints one line and exits 0, and the engine keeps its pure-wasm kernels.
 *   SEAL_NATIVE=0     skip the build
 *   SEAL_BLAS=none    build without OpenBLAS even when it is installed (our SGEMM only)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, 'native');
const out = join(nativeDir, 'build', 'Release', 'seal_native.node');

function skip(reason) {
  console.log(`native acceleration not built: ${reason}`);
  process.exit(0);
}

if (process.env.SEAL_NATIVE === '0') skip('SEAL_NATIVE=0');
if (process.platform !== 'linux' && process.platform !== 'darwin')
  skip(`unsupported platform ${process.platform}`);

const includeDirs = [
  '/usr/include',
  '/usr/local/include',
  '/usr/include/x86_64-linux-gnu',
  '/usr/include/aarch64-linux-gnu',
  '/opt/homebrew/opt/openblas/include',
];
const blasFound = includeDirs.some((d) => existsSync(join(d, 'cblas.h')));
const useBlas = process.env.SEAL_BLAS !== 'none' && blasFound;
const dnnlFound = existsSync('/usr/include/oneapi/dnnl/dnnl.hpp');

// node-gyp: the project's own (a devDependency), else the one npm ships and names in npm_config_node_gyp while it
// runs an install script (a registry or tarball install has no devDependencies).
let gyp = process.env.npm_config_node_gyp;
try {
  gyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
} catch {
  if (gyp === undefined || !existsSync(gyp)) skip('node-gyp is not installed');
}

// A C++ compiler is the one requirement: say how to get one instead of failing deep inside node-gyp.
const cxx = process.env.CXX ?? 'c++';
if (spawnSync(cxx, ['--version'], { encoding: 'utf8' }).status !== 0)
  skip(
    `no C++ compiler (${cxx}) found; install one (Debian/Ubuntu: apt install g++; macOS: xcode-select --install) and run npm run build:native — until then the engine runs on wasm, about 5× slower`,
  );

// Node's own headers ship with the system Node (e.g. /usr/include/node): use them rather than downloading.
const prefix = dirname(dirname(process.execPath));
const args = [gyp, 'rebuild', '--release', '--loglevel=error'];
if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);

const gypBuild = (blas, dnnl) =>
  spawnSync(process.execPath, [...args, `--seal_openblas=${blas ? 1 : 0}`, `--seal_dnnl=${dnnl ? 1 : 0}`], {
    cwd: nativeDir,
    encoding: 'utf8',
    timeout: 300_000,
  });

// A loadable addon or none: a build that links but cannot load (e.g. a missing shared library) does not count.
function loads() {
  const check = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(out)}).info()`], {
    encoding: 'utf8',
  });
  return check.status === 0
    ? ''
    : ((check.stderr ?? '').split('\n').find((l) => l.trim() !== '') ?? 'unknown error');
}

// The optional libraries are used when their headers are found, but a broken install of one must not cost the
// rest: oneDNN (the opt-in bf16 products) goes first, then OpenBLAS; our own SGEMM needs nothing.
const attempts = [[useBlas, dnnlFound]];
if (dnnlFound) attempts.push([useBlas, false]);
if (useBlas) attempts.push([false, false]);
let r;
let loadError = '';
let built;
for (const [blas, dnnl] of attempts) {
  r = gypBuild(blas, dnnl);
  if (r.status !== 0 || !existsSync(out)) continue;
  loadError = loads();
  if (loadError === '') {
    built = blas;
    break;
  }
}
if (built === undefined) {
  rmSync(out, { force: true });
  if (loadError !== '') skip(`built addon does not load: ${loadError}`);
  const text = `${r?.stderr ?? ''}\n${r?.stdout ?? ''}`;
  const lines = text.split('\n');
  // The most specific line: node-gyp's own error, else the compiler's or linker's, else any error line.
  const line =
    lines.find((l) => /gyp ERR! stack Error:/.test(l))?.replace(/.*stack Error:\s*/, '') ??
    lines.find((l) => /error:|undefined reference|cannot find -l/i.test(l)) ??
    lines.find((l) => /error/i.test(l)) ??
    r?.error?.message ??
    `node-gyp exited with ${r?.status}`;
  skip(line.trim().slice(0, 200));
}
const why = built
  ? 'OpenBLAS and our own SGEMM'
  : `our own SGEMM only; ${process.env.SEAL_BLAS === 'none' ? 'SEAL_BLAS=none' : blasFound ? 'OpenBLAS did not build' : 'no OpenBLAS (cblas.h) found'}`;
console.log(`native acceleration built: ${out} (matrix products: ${why})`);
