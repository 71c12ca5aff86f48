/**
 * The one error type users see. The CLI prints `message` on one line (no stack) and exits non-zero, so every
 * message must name the file or field at fault and the problem, e.g. `model.safetensors: header length 99 exceeds file size 12`.
 */
export class SealError extends Error {
  override readonly name = 'SealError';
  constructor(
    message: string,
    /** Path of the file at fault, when there is one. */
    readonly file?: string,
  ) {
    super(file !== undefined && !message.startsWith(file) ? `${file}: ${message}` : message);
  }
}

export function fail(message: string, file?: string): never {
  throw new SealError(message, file);
}
