/** Options shared by several commands. */
import { z } from 'zod';

export const BackendOption = z
  .enum(['auto', 'wasm', 'cpu', 'tensorflow'])
  .default('auto')
  .describe('Compute backend: auto picks tfjs-node when installed, else wasm');

/** Writes to stderr: stdout is reserved for a command's result (generated text, JSON). */
export function log(message: string): void {
  process.stderr.write(`${message}\n`);
}
