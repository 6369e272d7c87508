import type { Viewer } from '../auth/tokens.js';
import type { Config } from '../config.js';
import type { Db } from '../db/knex.js';
import { EventFeed } from '../events/feed.js';
import { createPubSub, type PubSubHandle } from '../events/pubsub.js';
import type { Logger } from '../logger.js';
import { MemoryEphemeralSets, RedisEphemeralSets, type EphemeralSets } from './ephemeralSets.js';

/** A WebSocket connection's identity, for presence and clean-up. */
export interface SocketInfo {
  /** Unique over all instances. */
  id: string;
  viewer: Viewer;
}

/** The real-time pieces of one server instance. */
export interface Realtime {
  pubsub: PubSubHandle;
  feed: EventFeed;
  /** Expiring sets for presence and viewing: Redis when configured, else memory. */
  sets: EphemeralSets;
  /** Live subscription streams (durable and signal) on this instance: back to zero when clients leave. */
  activeStreams: number;
  /** Hooks run when an authenticated WebSocket opens or closes (presence listens here). */
  onSocketOpen: Array<(socket: SocketInfo) => void | Promise<void>>;
  onSocketClose: Array<(socket: SocketInfo) => void | Promise<void>>;
  /** Run at shutdown, before pub/sub closes. */
  onStop: Array<() => void | Promise<void>>;
  stop(): Promise<void>;
}

export async function createRealtime(db: Db, config: Pick<Config, 'redisUrl' | 'redisNamespace'>, log: Logger): Promise<Realtime> {
  const pubsub = await createPubSub(config.redisUrl, log);
  const realtime: Realtime = {
    pubsub,
    feed: new EventFeed(db, pubsub, log),
    sets: pubsub.redis ? new RedisEphemeralSets(pubsub.redis, config.redisNamespace) : new MemoryEphemeralSets(),
    activeStreams: 0,
    onSocketOpen: [],
    onSocketClose: [],
    onStop: [],
    async stop() {
      for (const hook of realtime.onStop) await hook();
      await pubsub.close();
    },
  };
  return realtime;
}
