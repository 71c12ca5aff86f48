/**
 * A progress bar with rate and ETA on stderr for long loops. On a TTY it redraws one line; otherwise it stays quiet
 * except for occasional plain lines (at most every `logEveryS` seconds) so CI logs show that work is advancing.
 */
export interface ProgressOptions {
  readonly total: number;
  readonly label: string;
  /** Force quiet (e.g. --json); default: quiet-ish when stderr is not a TTY. */
  readonly quiet?: boolean;
  readonly logEveryS?: number;
  readonly stream?: NodeJS.WriteStream;
  /** Work already done before this run (a resumed loop): counted in the bar, not in the rate or the ETA. */
  readonly initial?: number;
}

export class Progress {
  private done: number;
  private readonly start = performance.now();
  private lastDraw = 0;
  private lastLog = 0;
  private info = '';
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;

  constructor(private readonly opts: ProgressOptions) {
    this.stream = opts.stream ?? process.stderr;
    this.tty = this.stream.isTTY === true && opts.quiet !== true;
    this.done = opts.initial ?? 0;
  }

  /** Advance by `n` and set the trailing info text (e.g. `loss 1.234`). */
  tick(n = 1, info?: string): void {
    this.done += n;
    if (info !== undefined) this.info = info;
    const now = performance.now();
    if (this.tty && (now - this.lastDraw > 100 || this.done >= this.opts.total)) {
      this.lastDraw = now;
      this.stream.write(`\r${this.line()}\x1b[K`);
    } else if (
      !this.tty &&
      this.opts.quiet !== true &&
      now - this.lastLog > (this.opts.logEveryS ?? 30) * 1000
    ) {
      this.lastLog = now;
      this.stream.write(`${this.line()}\n`);
    }
  }

  finish(info?: string): void {
    if (info !== undefined) this.info = info;
    if (this.opts.quiet === true) return;
    this.stream.write(`${this.tty ? '\r' : ''}${this.line()}${this.tty ? '\x1b[K' : ''}\n`);
  }

  private line(): string {
    const { total, label } = this.opts;
    const elapsed = (performance.now() - this.start) / 1000;
    const frac = total > 0 ? Math.min(1, this.done / total) : 1;
    const width = 24;
    const filled = Math.round(frac * width);
    // The rate of this run only: a resumed loop's earlier steps took no time here.
    const rate = elapsed > 0 ? (this.done - (this.opts.initial ?? 0)) / elapsed : 0;
    const eta = rate > 0 ? (total - this.done) / rate : 0;
    return `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.done}/${total} ${fmt(elapsed)}<${fmt(eta)} ${rate.toFixed(rate < 10 ? 2 : 0)}/s ${this.info}`;
  }
}

function fmt(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  const sec = Math.floor(s % 60);
  return m >= 60
    ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`
    : `${m}:${String(sec).padStart(2, '0')}`;
}
