import { PubSub, type PubSubEngine } from 'graphql-subscriptions';
import { RedisPubSub } from 'graphql-redis-subscriptions';
import { Redis } from 'ioredis';
import type { Logger } from '../logger.js';

export interface PubSubHandle {
  engine: PubSubEngine;
  /** `redis` when shared between instances, `memory` inside this process only. */
  kind: 'redis' | 'memory';
  /** The Redis command connection (presence, viewing), when there is one. */
  redis: Redis | null;
  /** Called after the subscriber connection came back from an outage: whatever was published meanwhile was lost. */
  onReconnect(listener: () => void): void;
  close(): Promise<void>;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** Published payloads are JSON: dates come back as `Date`s. */
function reviver(_key: string, value: unknown): unknown {
  return typeof value === 'string' && ISO_DATE.test(value) ? new Date(value) : value;
}

/**
 * Redis pub/sub when REDIS_URL is set, so any number of instances share events; otherwise graphql-subscriptions'
 * in-process PubSub. Both implement the same `PubSubEngine` interface, and everything above it is the same code.
 */
export async function createPubSub(
  redisUrl: string | undefined,
  log: Logger,
  namespace = 'derm',
): Promise<PubSubHandle> {
  if (!redisUrl) {
    return { engine: new PubSub(), kind: 'memory', redis: null, onReconnect() {}, async close() {} };
  }
  const options = {
    // Keep trying forever, backing off to 2 s: an instance without Redis keeps serving HTTP and backfills later.
    retryStrategy: (attempt: number) => Math.min(attempt * 100, 2000),
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
  };
  // Named by deployment and role, so that CLIENT LIST on a shared Redis tells whose connection is whose (and an
  // operator, or a test, can drop one deployment's subscribers without touching the others').
  const publisher = new Redis(redisUrl, { ...options, connectionName: `derm-realtime:${namespace}:publisher` });
  const subscriber = new Redis(redisUrl, { ...options, connectionName: `derm-realtime:${namespace}:subscriber` });
  const listeners: Array<() => void> = [];
  let lostConnection = false;
  for (const [role, client] of [
    ['publisher', publisher],
    ['subscriber', subscriber],
  ] as const) {
    client.on('error', (err) => log.warn({ err: { message: err.message }, role }, 'redis error'));
  }
  subscriber.on('close', () => {
    lostConnection = true;
  });
  subscriber.on('ready', () => {
    if (!lostConnection) return;
    lostConnection = false;
    // ioredis re-sends SUBSCRIBE just before 'ready' but does not wait for it. Redis answers in order, so once this
    // PING
    // is answered the channels are live again: a backfill read only then leaves no window in which a wake-up is
    // published to nobody after the read and its event waits for the tenant's next one.
    subscriber
      .ping()
      .catch(() => {})
      .finally(() => {
        log.info('redis subscriber reconnected; backfilling from the event log');
        for (const listener of listeners) listener();
      });
  });
  await Promise.all(
    [publisher, subscriber].map((c) =>
      c.status === 'ready'
        ? undefined
        : new Promise((resolve, reject) => {
            c.once('ready', resolve);
            c.once('end', () => reject(new Error(`could not connect to Redis at ${new URL(redisUrl).host}`)));
            setTimeout(
              () => reject(new Error(`Redis at ${new URL(redisUrl).host} did not answer within 10 s`)),
              10_000,
            ).unref();
          }),
    ),
  );
  const engine = new RedisPubSub({ publisher, subscriber, reviver });
  return {
    engine,
    kind: 'redis',
    redis: publisher,
    onReconnect: (listener) => listeners.push(listener),
    async close() {
      await Promise.allSettled([publisher.quit(), subscriber.quit()]);
    },
  };
}
