import { fileURLToPath } from 'node:url';

/** Absolute path of a file shipped in the package's `assets/` folder (src/ and dist/ both sit below the root). */
export function assetPath(relative: string): string {
  return fileURLToPath(new URL(`../assets/${relative}`, import.meta.url));
}
