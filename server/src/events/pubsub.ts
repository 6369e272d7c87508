import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import type { Logger } from '../logger.js';

/**
 * A dependency (Redis) did not answer: the feature that needed it waits, the process does not end
 * (docs/architecture.md, "When a dependency fails"). The GraphQL layer answers it with `SERVICE_UNAVAILABLE`.
 */
export class DependencyUnavailableError extends Error {
  override name = 'DependencyUnavailableError';
  constructor(
    readonly dependency: 'redis',
    cause?: unknown,
  ) {
    super(`${dependency} is unreachable`, { cause });
  }
}

/** Runs a Redis command; any failure means Redis cannot serve it now. */
export async function redisCall<T>(command: () => Promise<T>): Promise<T> {
  try {
    return await command();
  } catch (err) {
    throw new DependencyUnavailableError('redis', err);
  }
}

/**
 * What travels between instances: strings on named channels. Two implementations chosen at start-up (Redis, or this
 * process only) behind this one interface; the channel hub (`channelHub.ts`) is the only caller. None of these
 * methods rejects because the engine is unreachable, except `publish`, with a `DependencyUnavailableError`.
 */
export interface PubSubEngine {
  readonly kind: 'redis' | 'memory';
  /** The Redis command connection (expiring sets, presence statuses), when there is one. */
  readonly redis: Redis | null;
  /** Whether the engine is connected now (`/readyz`). */
  readonly reachable: boolean;
  /** Times the subscriber came back from an outage and listened again (metrics). */
  readonly reconnects: number;
  /** Seconds the engine has been unreachable since it started, the outage under way included (metrics). */
  downSeconds(): number;
  publish(channel: string, message: string): Promise<void>;
  /**
   * Starts receiving these channels. Resolves once the engine confirms, or at once while it is unreachable: every
   * channel asked for is subscribed again when the connection comes back, before `onReconnect` listeners run.
   */
  listen(channels: string[]): Promise<void>;
  /**
   * Stops receiving these channels. Never rejects: a channel left subscribed by a failure is dropped at reconnection.
   */
  unlisten(channels: string[]): Promise<void>;
  /** The one receiver of every message. */
  onMessage(receiver: (channel: string, message: string) => void): void;
  /**
   * Called once the engine is back from an outage and listens again on `channels()`: whatever was published
   * meanwhile was lost, so readers catch up from the event log.
   */
  onReconnect(listener: () => void): void;
  close(): Promise<void>;
}

/** This process only: a message is handed to the receiver on a later tick, as one from Redis would be. */
class MemoryEngine implements PubSubEngine {
  readonly kind = 'memory';
  readonly redis = null;
  readonly reachable = true;
  readonly reconnects = 0;
  private receiver: (channel: string, message: string) => void = () => {};
  private readonly channels = new Set<string>();

  async publish(channel: string, message: string): Promise<void> {
    if (this.channels.has(channel)) setImmediate(() => this.channels.has(channel) && this.receiver(channel, message));
  }
  async listen(channels: string[]): Promise<void> {
    for (const channel of channels) this.channels.add(channel);
  }
  async unlisten(channels: string[]): Promise<void> {
    for (const channel of channels) this.channels.delete(channel);
  }
  onMessage(receiver: (channel: string, message: string) => void): void {
    this.receiver = receiver;
  }
  onReconnect(): void {}
  downSeconds(): number {
    return 0;
  }
  async close(): Promise<void> {}
}

/** Redis channels per SUBSCRIBE command when re-subscribing after an outage: one command, bounded. */
const RESUBSCRIBE_BATCH = 500;

/**
 * Redis pub/sub over two ioredis connections (commands and subscriber), written here rather than taken from
 * graphql-redis-subscriptions: its `unsubscribe()` sends UNSUBSCRIBE without handling the promise and its
 * `subscribe()` leaves a rejected promise nobody awaits, so a Redis outage ended the process with an unhandled
 * `MaxRetriesPerRequestError` (davidyaha/graphql-redis-subscriptions#593; also the subscribe/unsubscribe race of
 * #598). Here every command's failure is handled, and the subscriber's channels are this class's own state: ioredis'
 * auto-resubscribe is off, and after a reconnection exactly the channels still wanted are subscribed again.
 */
class RedisEngine implements PubSubEngine {
  readonly kind = 'redis';
  /**
   * Channels as Redis names them: prefixed with the deployment's namespace, so deployments sharing a Redis never meet.
   */
  private readonly prefix: string;
  private readonly wanted = new Set<string>();
  private readonly reconnectListeners: Array<() => void> = [];
  private receiver: (channel: string, message: string) => void = () => {};
  private lostSubscriber = false;
  private closed = false;
  reconnects = 0;
  /** When the current outage began (`performance.now()`), and the length of those over. */
  private downSince: number | null = null;
  private downMs = 0;

  constructor(
    readonly redis: Redis,
    private readonly subscriber: Redis,
    namespace: string,
    private readonly log: Logger,
  ) {
    this.prefix = `${namespace}:`;
    subscriber.on('message', (channel: string, message: string) => {
      if (channel.startsWith(this.prefix)) this.receiver(channel.slice(this.prefix.length), message);
    });
    subscriber.on('close', () => {
      if (!this.closed) this.lostSubscriber = true;
    });
    subscriber.on('ready', () => {
      if (!this.lostSubscriber) return;
      this.lostSubscriber = false;
      void this.resubscribe();
    });
    // Either connection lost makes the engine unreachable (`reachable`); both back ends the outage.
    for (const client of [redis, subscriber]) {
      client.on('close', () => this.noteReachability()).on('ready', () => this.noteReachability());
    }
  }

  private noteReachability(): void {
    if (this.closed) return;
    if (!this.reachable) this.downSince ??= performance.now();
    else if (this.downSince !== null) {
      this.downMs += performance.now() - this.downSince;
      this.downSince = null;
    }
  }

  downSeconds(): number {
    return (this.downMs + (this.downSince === null ? 0 : performance.now() - this.downSince)) / 1000;
  }

  get reachable(): boolean {
    return this.redis.status === 'ready' && this.subscriber.status === 'ready';
  }

  async publish(channel: string, message: string): Promise<void> {
    await redisCall(() => this.redis.publish(this.prefix + channel, message));
  }

  async listen(channels: string[]): Promise<void> {
    for (const channel of channels) this.wanted.add(channel);
    if (this.subscriber.status !== 'ready') return;
    try {
      await this.subscriber.subscribe(...channels.map((c) => this.prefix + c));
    } catch (err) {
      // The connection dropped under the command: `resubscribe` runs when it is back and includes these channels.
      this.log.warn({ err: { message: (err as Error).message } }, 'redis subscribe failed; retried on reconnection');
    }
  }

  async unlisten(channels: string[]): Promise<void> {
    for (const channel of channels) this.wanted.delete(channel);
    if (this.subscriber.status !== 'ready') return;
    try {
      await this.subscriber.unsubscribe(...channels.map((c) => this.prefix + c));
    } catch (err) {
      // A new connection starts with no channel and re-subscribes only the wanted ones: this one is dropped then.
      this.log.warn({ err: { message: (err as Error).message } }, 'redis unsubscribe failed; dropped on reconnection');
    }
  }

  onMessage(receiver: (channel: string, message: string) => void): void {
    this.receiver = receiver;
  }

  onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  /** After a reconnection: listen again on every wanted channel, then let readers catch up on what was missed. */
  private async resubscribe(): Promise<void> {
    const channels = [...this.wanted].map((c) => this.prefix + c);
    try {
      for (let i = 0; i < channels.length; i += RESUBSCRIBE_BATCH) {
        await this.subscriber.subscribe(...channels.slice(i, i + RESUBSCRIBE_BATCH));
      }
    } catch (err) {
      // Lost again before it was done: the next 'ready' starts over.
      this.log.warn(
        { err: { message: (err as Error).message } },
        'redis re-subscribe failed; retrying on reconnection',
      );
      this.lostSubscriber = true;
      return;
    }
    this.reconnects += 1;
    this.log.info({ channels: channels.length }, 'redis subscriber reconnected; backfilling from the event log');
    for (const listener of this.reconnectListeners) {
      try {
        listener();
      } catch (err) {
        this.log.error({ err }, 'reconnect listener failed');
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([this.redis.quit(), this.subscriber.quit()]);
  }
}

/**
 * Redis pub/sub when REDIS_URL is set, so any number of instances share events; otherwise this process only. Start-up
 * waits up to 10 s for Redis (a misconfigured URL fails fast); after that, an outage degrades the service and heals.
 */
export async function createPubSub(
  redisUrl: string | undefined,
  log: Logger,
  namespace = 'derm',
): Promise<PubSubEngine> {
  if (!redisUrl) return new MemoryEngine();
  const options = {
    // Keep trying forever, backing off to 2 s: an instance without Redis keeps serving HTTP and backfills later.
    retryStrategy: (attempt: number) => Math.min(attempt * 100, 2000),
    // While disconnected, a command fails at once instead of waiting in a queue for reconnection attempts (with a
    // queue, each one waited 1 to 6 s before failing, and a staff socket opening in an outage waited for its presence
    // write that long): what needs Redis answers SERVICE_UNAVAILABLE or is redone when Redis is back.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
  };
  // Named by deployment and role, so that CLIENT LIST on a shared Redis tells whose connection is whose (and an
  // operator, or a test, can drop one deployment's subscribers without touching the others').
  const publisher = new Redis(redisUrl, { ...options, connectionName: `derm-realtime:${namespace}:publisher` });
  const subscriber = new Redis(redisUrl, {
    ...options,
    connectionName: `derm-realtime:${namespace}:subscriber`,
    // The engine owns its channels (see RedisEngine): no automatic re-subscription or replay of failed commands (it
    // subscribes only when connected, and again after each reconnection).
    autoResubscribe: false,
    autoResendUnfulfilledCommands: false,
  });
  let lastError = '';
  for (const [role, client] of [
    ['publisher', publisher],
    ['subscriber', subscriber],
  ] as const) {
    client.on('error', (err) => {
      // Once per distinct error while it lasts: reconnection attempts every 2 s would repeat it.
      if (err.message === lastError) return;
      lastError = err.message;
      log.warn({ err: { message: err.message }, role }, 'redis error');
    });
    client.on('ready', () => (lastError = ''));
  }
  try {
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
  } catch (err) {
    publisher.disconnect();
    subscriber.disconnect();
    throw err;
  }
  return new RedisEngine(publisher, subscriber, namespace, log);
}
