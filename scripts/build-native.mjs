#!/usr/bin/env node
/**
 * Builds the optional native addon (native/ → native/build/Release/seal_native.node) when OpenBLAS's headers are
 * installed (Debian: libopenblas-dev). Never fails the install: on any problem it prints one line and exits 0,
 * and the engine keeps its pure-wasm kernels. SEAL_NATIVE=0 skips the build.
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
if (!includeDirs.some((d) => existsSync(join(d, 'cblas.h'))))
  skip('cblas.h not found (install libopenblas-dev)');

let gyp;
try {
  gyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
} catch {
  skip('node-gyp is not installed');
}

// Node's own headers ship with the system Node (e.g. /usr/include/node): use them rather than downloading.
const prefix = dirname(dirname(process.execPath));
const args = [gyp, 'rebuild', '--release', '--loglevel=error'];
if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);

const gypBuild = (extra) =>
  spawnSync(process.execPath, [...args, ...extra], { cwd: nativeDir, encoding: 'utf8', timeout: 300_000 });
let r = gypBuild([]);
// oneDNN (the opt-in bf16 products) is used when its headers are found; a broken install must not cost the rest.
if ((r.status !== 0 || !existsSync(out)) && existsSync('/usr/include/oneapi/dnnl/dnnl.hpp')) {
  r = gypBuild(['--seal_dnnl=0']);
}
if (r.status !== 0 || !existsSync(out)) {
  rmSync(out, { force: true });
  const text = `${r.stderr ?? ''}\n${r.stdout ?? ''}`;
  const lines = text.split('\n');
  // The most specific line: node-gyp's own error, else the compiler's or linker's, else any error line.
  const line =
    lines.find((l) => /gyp ERR! stack Error:/.test(l))?.replace(/.*stack Error:\s*/, '') ??
    lines.find((l) => /error:|undefined reference|cannot find -l/i.test(l)) ??
    lines.find((l) => /error/i.test(l)) ??
    r.error?.message ??
    `node-gyp exited with ${r.status}`;
  skip(line.trim().slice(0, 200));
}

// A loadable addon or none: a build that links but cannot load (e.g. a missing shared library) is removed.
const check = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(out)}).info()`], {
  encoding: 'utf8',
});
if (check.status !== 0) {
  rmSync(out, { force: true });
  skip(
    `built addon does not load: ${(check.stderr ?? '').split('\n').find((l) => l.trim() !== '') ?? 'unknown error'}`,
  );
}
console.log(`native acceleration built: ${out}`);
