import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SealError } from '../errors.js';

/**
 * Writes a directory atomically: `fill` writes into a sibling temporary directory, which is renamed into place only
 * when complete. An existing non-empty directory is refused unless `overwrite`, and is only removed once the new
 * one is ready — a failure never loses what was there.
 */
export async function writeDirAtomic(
  dir: string,
  overwrite: boolean,
  what: string,
  fill: (tmp: string) => Promise<void>,
): Promise<void> {
  const existing = await readdir(dir).catch(() => undefined);
  if (existing !== undefined && existing.length > 0 && !overwrite)
    throw new SealError(`${what} directory exists and is not empty (pass --overwrite to replace it)`, dir);
  await mkdir(dirname(dir), { recursive: true });
  const tmp = join(dirname(dir), `.${basename(dir)}.tmp-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  try {
    await mkdir(tmp);
    await fill(tmp);
    if (existing !== undefined) await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}
