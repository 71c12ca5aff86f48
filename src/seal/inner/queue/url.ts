/**
 * The queue's address: a `redis://[user:password@]host:port/db` or `rediss://…` (TLS) URL, checked once at the
 * boundary. Neither the orchestrator nor a worker listens on any port: the only thing to secure is the Redis server
 * itself (docs/distributed.md). Free of the Redis client, so commands can check `--queue` without loading it.
 */
import { SealError } from '../../../errors.js';

export interface QueueUrl {
  /** The URL as given (with its password): only ever handed to the Redis client. */
  readonly url: string;
  /** The URL with its password replaced by `***`: what logs and errors show. */
  readonly redacted: string;
  readonly host: string;
  readonly tls: boolean;
  readonly hasPassword: boolean;
}

/**
 * Parses and checks a queue URL; a bad one is a SealError naming `flag` and what is wrong. A URL without a password
 * takes SEAL_QUEUE_PASSWORD from the environment, which keeps the password out of `ps` and shell history.
 */
export function parseQueueUrl(raw: string, flag = '--queue', env: NodeJS.ProcessEnv = process.env): QueueUrl {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new SealError(`${flag}: not a URL: expected redis://HOST:PORT/DB or rediss://… (TLS)`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new SealError(
      `${flag}: scheme ${u.protocol} is not supported: expected redis://HOST:PORT/DB or rediss://… (TLS)`,
    );
  if (u.hostname === '') throw new SealError(`${flag}: the URL names no host`);
  const db = u.pathname.replace(/^\//, '');
  if (db !== '' && !/^(0|[1-9][0-9]?)$/.test(db))
    throw new SealError(`${flag}: database "${db}" is not a number from 0 to 99`);
  if (u.search !== '' || u.hash !== '')
    throw new SealError(`${flag}: query strings and fragments are not supported`);
  const envPassword = env['SEAL_QUEUE_PASSWORD'];
  if (u.password === '' && envPassword !== undefined && envPassword !== '') u.password = envPassword;
  const redactedUrl = new URL(u.href);
  if (redactedUrl.password !== '') redactedUrl.password = '***';
  return {
    url: u.href,
    redacted: redactedUrl.href,
    host: u.hostname,
    tls: u.protocol === 'rediss:',
    hasPassword: u.password !== '',
  };
}

/** Loopback hosts, where an unauthenticated Redis is only reachable from this machine. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * The warning owed to a queue that any machine on the network could feed jobs to (no password), or whose traffic
 * (job payloads, results, the password) crosses the network in clear (no TLS); undefined on loopback.
 */
export function exposureWarning(q: QueueUrl): string | undefined {
  if (isLoopback(q.host)) return undefined;
  const missing = [q.hasPassword ? '' : 'no password', q.tls ? '' : 'no TLS (rediss://)'].filter(
    (s) => s !== '',
  );
  if (missing.length === 0) return undefined;
  return `queue ${q.redacted} has ${missing.join(' and ')}: anyone on its network can read or submit jobs; see docs/distributed.md`;
}
