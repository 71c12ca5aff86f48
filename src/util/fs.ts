/**
 * Output directories: checked before any work, written atomically, and never an arbitrary directory.
 *
 * `--overwrite` replaces only an output of the same kind — a directory whose every entry is a file that kind
 * writes (an adapter holds adapter_config.json + adapter_model.safetensors, a model config.json + weights …) — and
 * never `/`, the home directory, the current directory or one of its ancestors, or a directory that holds a
 * project (`.git`, `package.json`). Everything else is refused with the reason, before anything is written.
 */
import { mkdtempSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join, parse, relative, resolve, sep } from 'node:path';
import { SealError } from '../errors.js';

/** What an output directory holds: the files it may contain, and the one file that marks it. */
export type OutputKind =
  | 'adapter'
  | 'model'
  | 'world'
  | 'grid-tasks'
  | 'edit-generator'
  | 'pretrain'
  | 'checkpoint';

interface KindSpec {
  readonly label: string;
  readonly marker: string;
  readonly files: RegExp;
  /** Sub-directories that this kind writes (e.g. a pretraining run's model/ and checkpoint/). */
  readonly dirs?: RegExp;
}

const KINDS: Readonly<Record<OutputKind, KindSpec>> = {
  adapter: {
    label: 'an adapter',
    marker: 'adapter_config.json',
    files:
      /^(adapter_config\.json|adapter_model\.safetensors|selfedit\.txt|recipe\.txt|recipe\.json|README\.md)$/,
  },
  model: {
    label: 'a model',
    marker: 'config.json',
    files:
      /^(config\.json|generation_config\.json|model(-\d+-of-\d+)?\.safetensors|model\.safetensors\.index\.json|tokenizer\.json|tokenizer_config\.json|special_tokens_map\.json|seal_manifest\.json|seal_world\.json|seal_grid_world\.json|pretrain_report\.json|NOTICE\.md|README\.md)$/,
  },
  world: { label: 'a people world', marker: 'world.json', files: /^(world\.json|contexts-[a-z]+\.jsonl)$/ },
  'grid-tasks': {
    label: 'grid tasks',
    marker: 'grid_tasks.json',
    files: /^(grid_tasks\.json|[a-z]+-\d+\.json)$/,
  },
  'edit-generator': {
    label: 'an EditGenerator',
    marker: 'edit_generator.json',
    files: /^(edit_generator\.json|edit_generator\.safetensors)$/,
  },
  checkpoint: {
    label: 'a training checkpoint',
    marker: 'state.json',
    files: /^(state\.json|params\.safetensors|optimizer\.safetensors)$/,
    dirs: /^policy$/,
  },
  pretrain: {
    label: 'a pretraining run',
    marker: 'report.json',
    files: /^(report\.json|log\.jsonl|corpus-stats\.json)$/,
    dirs: /^(model|checkpoint)$/,
  },
};

const errno = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? String(e);

/** Why replacing `dir` would be dangerous whatever it holds, or undefined. */
function dangerous(abs: string): string | undefined {
  if (abs === parse(abs).root) return 'it is the filesystem root';
  if (abs === resolve(homedir())) return 'it is the home directory';
  const cwd = resolve(process.cwd());
  const rel = relative(abs, cwd);
  if (rel === '') return 'it is the current directory';
  if (!rel.startsWith('..') && !rel.startsWith(sep)) return 'it contains the current directory';
  return undefined;
}

/**
 * Checks an output directory before any work: `flag` names the option in errors. Refuses an empty path, a file, a
 * non-empty directory without `overwrite`, and with it anything but an output of the same `kind`; checks that the
 * nearest existing ancestor is writable. Creates nothing.
 */
export function checkOutputDir(dir: string, kind: OutputKind, overwrite: boolean, flag = '--out'): void {
  if (dir.trim() === '') throw new SealError(`${flag}: empty path`);
  const abs = resolve(dir);
  const spec = KINDS[kind];
  let st: ReturnType<typeof statSync> | undefined;
  try {
    st = statSync(abs);
  } catch (e) {
    if (errno(e) !== 'ENOENT' && errno(e) !== 'ENOTDIR')
      throw new SealError(`${flag}: cannot use as output directory (${errno(e)})`, dir);
  }
  if (st !== undefined && !st.isDirectory())
    throw new SealError(`${flag}: is a file, expected a directory (or a path that does not exist yet)`, dir);
  const entries = st === undefined ? [] : readdirSync(abs);
  if (entries.length > 0) {
    if (!overwrite)
      throw new SealError(
        `${flag}: directory exists and is not empty (pass --overwrite to replace ${spec.label} written there)`,
        dir,
      );
    const why = dangerous(abs);
    if (why !== undefined) throw new SealError(`${flag}: refusing to replace this directory: ${why}`, dir);
    const foreign = entries.filter((name) => {
      const isDir = statSync(join(abs, name)).isDirectory();
      return isDir ? !(spec.dirs?.test(name) ?? false) : !spec.files.test(name);
    });
    if (!entries.includes(spec.marker) || foreign.length > 0)
      throw new SealError(
        `${flag}: refusing to replace this directory: it is not ${spec.label} (${
          foreign.length > 0
            ? `it holds ${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''}`
            : `no ${spec.marker}`
        }); --overwrite only replaces ${spec.label} written by seal`,
        dir,
      );
  }
  checkWritable(abs, flag, dir);
}

/** The parent of run directories (`--out runs`): a directory or a path that can become one. */
export function checkOutputRoot(root: string, flag = '--out'): void {
  if (root.trim() === '') throw new SealError(`${flag}: empty path`);
  const abs = resolve(root);
  try {
    if (!statSync(abs).isDirectory()) throw new SealError(`${flag}: is a file, expected a directory`, root);
  } catch (e) {
    if (e instanceof SealError) throw e;
    if (errno(e) !== 'ENOENT')
      throw new SealError(`${flag}: cannot use as output directory (${errno(e)})`, root);
  }
  checkWritable(abs, flag, root);
}

/** Proves that files can be created next to `abs` by creating (and removing) a temporary directory there. */
function checkWritable(abs: string, flag: string, shown: string): void {
  let probe = abs;
  for (;;) {
    try {
      const st = statSync(probe);
      if (!st.isDirectory()) throw new SealError(`${flag}: ${probe} is a file, not a directory`, shown);
      break;
    } catch (e) {
      if (e instanceof SealError) throw e;
      const up = dirname(probe);
      if (up === probe) break;
      probe = up;
    }
  }
  try {
    rmdirSync(mkdtempSync(join(probe, '.seal-write-check-')));
  } catch (e) {
    throw new SealError(`${flag}: cannot write in ${probe} (${errno(e)})`, shown);
  }
}

/**
 * Writes a directory atomically: `fill` writes into a sibling temporary directory, which is renamed into place only
 * when complete. The target is checked by `checkOutputDir` first; an existing directory is moved aside and removed
 * only after the new one is in place, so a failure never loses what was there.
 */
export async function writeDirAtomic(
  dir: string,
  overwrite: boolean,
  kind: OutputKind,
  fill: (tmp: string) => Promise<void>,
): Promise<void> {
  checkOutputDir(dir, kind, overwrite);
  const existing = await readdir(dir).catch(() => undefined);
  await mkdir(dirname(resolve(dir)), { recursive: true });
  const tmp = join(dirname(resolve(dir)), `.${basename(resolve(dir))}.tmp-${process.pid}`);
  const old = join(dirname(resolve(dir)), `.${basename(resolve(dir))}.old-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  try {
    await mkdir(tmp);
    await fill(tmp);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  if (existing !== undefined) await rename(dir, old);
  await rename(tmp, dir);
  if (existing !== undefined) await rm(old, { recursive: true, force: true });
}
