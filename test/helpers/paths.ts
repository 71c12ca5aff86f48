import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SHARED = join(ROOT, '..', 'shared', 'data');
export const hasShared = existsSync(join(SHARED, 'model', 'stories260K.bin'));
export const CLI = join(ROOT, 'dist', 'app', 'cli', 'main.js');

export function tempDir(prefix = 'seal-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
