import type { UserViewer } from '../auth/tokens.js';
import type { Config } from '../config.js';
import type { Db } from '../db/knex.js';
import type { Redis } from 'ioredis';
import { ChannelHub } from '../events/channelHub.js';
import { EventFeed } from '../events/feed.js';
import { LiveStreams } from '../events/liveStreams.js';
import { createPubSub } from '../events/pubsub.js';
import type { Logger } from '../logger.js';
import { HeldMembers } from './heldMembers.js';
import { MemoryEphemeralSets, RedisEphemeralSets, SWEEP_PAGE, type EphemeralSets } from './ephemeralSets.js';

/** A staff member's WebSocket connection, for presence and clean-up (integration clients are not "online"). */
export interface SocketInfo {
  /** Unique over all instances. */
  id: string;
  viewer: UserViewer;
}

/** The real-time pieces of one server instance. */
export interface Realtime {
  /** The instance's pub/sub subscriptions, one per channel, shared by every listener. */
  hub: ChannelHub;
  /** The Redis command connection (expiring sets, presence statuses), when Redis is configured. */
  redis: Redis | null;
  feed: EventFeed;
  /** Expiring sets for presence and viewing: Redis when configured, else memory. */
  sets: EphemeralSets;
  /** Live subscription streams (durable and signal) on this instance: back to zero when clients leave. */
  streams: LiveStreams;
  /** Hooks run when an authenticated WebSocket opens or closes (presence listens here). */
  onSocketOpen: Array<(socket: SocketInfo) => void | Promise<void>>;
  onSocketClose: Array<(socket: SocketInfo) => void | Promise<void>>;
  /**
   * Hooks told of expiring-set members that lapsed (a crashed instance's connections, an unrenewed chart view). Every
   * instance sweeps every `sweepIntervalMs`; each lapse is reported to one instance only.
   */
  onLapsed: Array<(lapsed: LapsedMember[]) => void | Promise<void>>;
  sweepIntervalMs: number;
  /**
   * The expiring-set members this instance holds while something of its own lives (a chart or a thread open in a
   * subscription), renewed by the heartbeat.
   */
  held: HeldMembers;
  /**
   * The instance's one heartbeat: every `heartbeatIntervalMs`, each of these renews what this instance keeps alive in
   * the expiring sets (`held`, presence's connections). A hook still running from the last beat is not waited for: it
   * guards itself against overlapping.
   */
  onHeartbeat: Array<() => void | Promise<void>>;
  heartbeatIntervalMs: number;
  /** Run at shutdown, before pub/sub closes. */
  onStop: Array<() => void | Promise<void>>;
  stop(): Promise<void>;
}

export type LapsedMember = Awaited<ReturnType<EphemeralSets['sweep']>>[number];

/** A sixth of the shortest time to live: a lapse is announced at most TTL + TTL/6 after the last renewal. */
export function sweepIntervalMs(config: Pick<Config, 'presenceTtlSeconds' | 'viewingTtlSeconds'>): number {
  return Math.round((Math.min(config.presenceTtlSeconds, config.viewingTtlSeconds) * 1000) / 6);
}

/** A third of the shortest time to live: a member is renewed at least twice before it could lapse. */
export function heartbeatIntervalMs(config: Pick<Config, 'presenceTtlSeconds' | 'viewingTtlSeconds'>): number {
  return Math.round((Math.min(config.presenceTtlSeconds, config.viewingTtlSeconds) * 1000) / 3);
}

type RealtimeConfig = Pick<Config, 'redisUrl' | 'redisNamespace' | 'presenceTtlSeconds' | 'viewingTtlSeconds'>;

export async function createRealtime(db: Db, config: RealtimeConfig, log: Logger): Promise<Realtime> {
  const engine = await createPubSub(config.redisUrl, log, config.redisNamespace);
  const hub = new ChannelHub(engine, log);
  let stopped = false;
  let sweepTimer: NodeJS.Timeout | undefined;
  let sweeping: Promise<void> = Promise.resolve();
  let beating: Promise<unknown> = Promise.resolve();
  const sets = engine.redis ? new RedisEphemeralSets(engine.redis, config.redisNamespace) : new MemoryEphemeralSets();
  const held = new HeldMembers(sets, log);
  const realtime: Realtime = {
    hub,
    redis: engine.redis,
    feed: new EventFeed(db, hub, log),
    sets,
    streams: new LiveStreams(),
    onSocketOpen: [],
    onSocketClose: [],
    onLapsed: [],
    sweepIntervalMs: sweepIntervalMs(config),
    held,
    onHeartbeat: [() => held.renew()],
    heartbeatIntervalMs: heartbeatIntervalMs(config),
    onStop: [],
    async stop() {
      stopped = true;
      clearTimeout(sweepTimer);
      clearInterval(heartbeat);
      await Promise.all([sweeping, beating]);
      for (const hook of realtime.onStop) await hook();
      await hub.close();
    },
  };

  // One sweep at a time; the next is scheduled when this one is done (a full page means more are due: go on at once).
  const sweep = async () => {
    let page: number;
    do {
      const lapsed = await realtime.sets.sweep();
      page = lapsed.length;
      if (page === 0) break;
      for (const hook of realtime.onLapsed) {
        try {
          await hook(lapsed);
        } catch (err) {
          log.error({ err }, 'lapse hook failed');
        }
      }
    } while (page >= SWEEP_PAGE);
  };
  const schedule = () => {
    sweepTimer = setTimeout(() => {
      sweeping = sweep()
        .catch((err: Error) => log.warn({ err: { message: err.message } }, 'sweep of expiring sets failed'))
        .finally(() => {
          if (!stopped) schedule();
        });
    }, realtime.sweepIntervalMs).unref();
  };
  schedule();

  const heartbeat = setInterval(() => {
    beating = Promise.all(
      realtime.onHeartbeat.map(async (hook) => {
        try {
          await hook();
        } catch (err) {
          log.error({ err }, 'heartbeat hook failed');
        }
      }),
    );
  }, realtime.heartbeatIntervalMs).unref();
  return realtime;
}
