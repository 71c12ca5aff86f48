/**
 * The Redis connections BullMQ runs on. BullMQ gets ready-made ioredis clients rather than options: from native ESM
 * it cannot load ioredis itself.
 */
import { Redis } from 'ioredis';
import type { QueueUrl } from './url.js';

/**
 * A Redis client for BullMQ. `maxRetriesPerRequest: null` and the offline queue make a command wait through a Redis
 * restart instead of failing (BullMQ requires this of workers); reconnects back off to 1 s so a restarted server is
 * found quickly. Callers bound the wait themselves.
 */
export function redisClient(q: QueueUrl, name: string): Redis {
  const client = new Redis(q.url, {
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    connectionName: name,
    retryStrategy: (times: number) => Math.min(50 * times, 1000),
  });
  // Without a listener an unreachable server would be an unhandled 'error' event; the callers watch liveness.
  client.on('error', () => {});
  return client;
}
