// Presence, chart viewing and typing concern signed-in staff only.
import type { UserViewer as Viewer } from '../../auth/tokens.js';
import type { Config } from '../../config.js';
import { tenantChannel, type PresenceSignal } from '../../events/channels.js';
import type { Logger } from '../../logger.js';
import type { SetEntry } from '../../realtime/ephemeralSets.js';
import { EphemeralKey, parseEphemeralKey } from '../../realtime/keys.js';
import type { LapsedMember, Realtime, SocketInfo } from '../../realtime/service.js';
import { MemoryStatusStore, RedisStatusStore, type ChosenStatus, type PresenceStatusStore } from './statusStore.js';

type Scope = Pick<Viewer, 'tenantId' | 'userId'>;

/** A connection's entry in its user's set of connections. */
const connectionEntry = ({ id, viewer }: SocketInfo): SetEntry => ({
  key: EphemeralKey.connections(viewer, viewer.userId),
  member: id,
});

/** A user's entry in the clinic's online set. */
const userEntry = (scope: Scope): SetEntry => ({ key: EphemeralKey.online(scope), member: scope.userId });

/**
 * Who is online (docs/architecture.md, invariant 3). A user is online while any of their WebSocket connections, on any
 * instance, is open. Two expiring sets hold it: the user's connections (`connections`, one member per socket) and the
 * clinic's online users (`online`, one member per user); each instance renews its own sockets and their users on its
 * heartbeat (`Realtime.onHeartbeat`, at least every third of the time to live), all at once in a few round trips. A
 * join or a leave touches only that user's set, so it costs the same in a clinic of ten or ten thousand connections.
 *
 * ONLINE is announced by the connection that makes the user's set non-empty, and OFFLINE by whoever takes the user
 * out of `online`: a leave that empties the user's set, or the sweep (of any instance) reporting the lapsed member of
 * a crashed instance. Each of those is read in the same atomic step as the change, so two instances racing on one
 * user announce it once. On this instance the changes of one user run one after the other.
 */
export class PresenceService {
  private readonly ttlMs: number;
  private readonly statuses: PresenceStatusStore;
  /** This instance's open connections: the heartbeat renews them, a graceful shutdown removes them. */
  private readonly sockets = new Map<string, SocketInfo>();
  /** The tail of each user's changes on this instance. */
  private readonly queues = new Map<string, Promise<void>>();
  /**
   * Changes that failed while Redis was unreachable, redone when it is back (on reconnection, and at every heartbeat
   * until they succeed), announcing what they could not: connections that opened, and connections that closed.
   */
  private readonly failedJoins = new Set<string>();
  private readonly failedLeaves = new Map<string, SocketInfo>();
  private renewing = false;
  private stopped = false;

  constructor(
    private readonly realtime: Realtime,
    config: Pick<Config, 'presenceTtlSeconds' | 'redisNamespace'>,
    private readonly log: Logger,
  ) {
    this.ttlMs = config.presenceTtlSeconds * 1000;
    this.statuses = realtime.redis
      ? new RedisStatusStore(realtime.redis, config.redisNamespace)
      : new MemoryStatusStore();
    realtime.onSocketOpen.push((socket) => this.connected(socket));
    realtime.onSocketClose.push((socket) => this.disconnected(socket));
    realtime.onLapsed.push((lapsed) => this.lapsed(lapsed));
    realtime.onStop.push(() => this.stop());
    realtime.hub.onReconnect(() => void this.redo());
    // On the instance's one heartbeat (a third of the shortest time to live, so at most a third of PRESENCE_TTL).
    realtime.onHeartbeat.push(() => this.redo().then(() => this.renew()));
  }

  /** The users of the tenant with a live connection, with their status. */
  async online(tenantId: string): Promise<PresenceSignal[]> {
    const userIds = await this.realtime.sets.members(EphemeralKey.online({ tenantId }));
    const statuses = await this.statuses.get(tenantId, userIds);
    const now = new Date().toISOString();
    return userIds.map((userId) => ({ userId, status: statuses.get(userId) ?? 'ONLINE', lastSeenAt: now }));
  }

  async isOnline(scope: Scope): Promise<boolean> {
    return (await this.realtime.sets.members(EphemeralKey.connections(scope, scope.userId))).length > 0;
  }

  /** Sets and announces a connected user's status. */
  async setStatus(scope: Scope, status: ChosenStatus): Promise<PresenceSignal> {
    await this.statuses.set(scope.tenantId, scope.userId, status);
    const signal: PresenceSignal = { userId: scope.userId, status, lastSeenAt: new Date().toISOString() };
    await this.publish(scope.tenantId, signal);
    return signal;
  }

  private async connected(socket: SocketInfo): Promise<void> {
    if (this.stopped) return;
    this.sockets.set(socket.id, socket);
    // Never fails the connection: if the store is unreachable, it is redone when it is back.
    await this.serially(socket.viewer, () => (this.sockets.has(socket.id) ? this.join(socket) : undefined)).catch(
      (err) => {
        this.failedJoins.add(socket.id);
        this.log.warn({ err: { message: err.message }, socketId: socket.id }, 'presence join failed; redone later');
      },
    );
  }

  private async disconnected(socket: SocketInfo): Promise<void> {
    if (!this.sockets.delete(socket.id)) return;
    this.failedJoins.delete(socket.id);
    await this.serially(socket.viewer, () => this.leave(socket)).catch((err) => {
      // The user must not stay "online": redone when Redis is back (the sweep would also catch it within the TTL).
      this.failedLeaves.set(socket.id, socket);
      this.log.warn({ err: { message: err.message }, socketId: socket.id }, 'presence leave failed; redone later');
    });
  }

  /** Redoes the joins and leaves that failed; each is announced, since whether it was before is unknown. */
  private async redo(): Promise<void> {
    if (this.stopped) return;
    await Promise.all([
      ...[...this.failedLeaves.values()].map((socket) =>
        this.serially(socket.viewer, () => this.leave(socket, { announce: true })).then(
          () => this.failedLeaves.delete(socket.id),
          () => {},
        ),
      ),
      ...[...this.failedJoins].map((id) => {
        const socket = this.sockets.get(id);
        if (!socket) return this.failedJoins.delete(id);
        return this.serially(socket.viewer, () => this.join(socket, { announce: true })).then(
          () => this.failedJoins.delete(id),
          () => {},
        );
      }),
    ]);
  }

  /**
   * Adds a connection; announces ONLINE when it is the user's only one (or, redoing a failed join, in any case: a
   * repeated ONLINE is harmless, a missing one is not).
   */
  private async join(socket: SocketInfo, { announce = false } = {}): Promise<void> {
    const { viewer } = socket;
    // The connection and its user in one step (one round trip): the count of the user's connections tells the first.
    const [change] = await this.realtime.sets.touchAllAndCount(
      [connectionEntry(socket), userEntry(viewer)],
      this.ttlMs,
    );
    const first = change.live === 1;
    if (!first && !announce) return;
    if (first) await this.statuses.clear(viewer.tenantId, viewer.userId);
    const status = first
      ? 'ONLINE'
      : ((await this.statuses.get(viewer.tenantId, [viewer.userId])).get(viewer.userId) ?? 'ONLINE');
    await this.publish(viewer.tenantId, { userId: viewer.userId, status, lastSeenAt: new Date().toISOString() });
  }

  /**
   * Removes a connection; when it was the user's last, takes the user out of the clinic's online set (redoing a failed
   * leave, announcing OFFLINE even if it was taken out already: the failure may have been the announcement's).
   */
  private async leave(socket: SocketInfo, { announce = false } = {}): Promise<void> {
    const { viewer } = socket;
    // The connection and, when it was the user's last, the user in one step (one round trip).
    const [, user] = await this.realtime.sets.removeAndCountThen(connectionEntry(socket), userEntry(viewer));
    // Not the last connection; or, unless a failed leave is redone, the user was not stored: someone else took them
    // out (another instance's leave, or a sweep) and announced it.
    if (!user || (!user.wasStored && !announce)) return;
    await this.offline(viewer, new Date());
  }

  /** Removes the user from the online set, and announces OFFLINE if this call is the one that removed them. */
  private async takeOffline(scope: Scope, lastSeenAt: Date): Promise<void> {
    const removed = await this.realtime.sets.removeAndCount(EphemeralKey.online(scope), scope.userId);
    // Not stored: someone else removed it (another instance's leave, or a sweep), and announced it.
    if (!removed.wasStored) return;
    await this.offline(scope, lastSeenAt);
  }

  private async offline(scope: Scope, lastSeenAt: Date): Promise<void> {
    await this.statuses.clear(scope.tenantId, scope.userId);
    await this.publish(scope.tenantId, {
      userId: scope.userId,
      status: 'OFFLINE',
      lastSeenAt: lastSeenAt.toISOString(),
    });
  }

  /**
   * Members that lapsed (their instance stopped renewing them). A lapsed user of the online set is offline unless a
   * connection of theirs is still live (then they are put back). A user whose last connection lapsed is taken out
   * of the online set, announcing OFFLINE unless the sweep already took them out.
   */
  private async lapsed(lapsed: LapsedMember[]): Promise<void> {
    // Its last renewal was at least one time to live ago.
    const lastSeenAt = new Date(Date.now() - this.ttlMs);
    const tasks: Promise<void>[] = [];
    for (const { key, member } of lapsed) {
      const parsed = parseEphemeralKey(key);
      if (parsed?.kind === 'online') {
        const scope = { tenantId: parsed.tenantId, userId: member };
        tasks.push(
          this.serially(scope, async () => {
            if (await this.isOnline(scope))
              await this.realtime.sets.touch(EphemeralKey.online(scope), scope.userId, this.ttlMs);
            else await this.offline(scope, lastSeenAt);
          }),
        );
      } else if (parsed?.kind === 'connections') {
        const scope = { tenantId: parsed.tenantId, userId: parsed.userId };
        tasks.push(
          this.serially(scope, async () => {
            if (!(await this.isOnline(scope))) await this.takeOffline(scope, lastSeenAt);
          }),
        );
      }
    }
    await Promise.all(tasks);
  }

  /**
   * Renews this instance's connections and their users, all in a few round trips (renewLive). One that is not live
   * any more (lapsed in a stall or an outage, or removed meanwhile) is not brought back by that batch: it is redone
   * alone, in its user's order, where a lapsed one is added back and announced and a closed one is left out.
   */
  private async renew(): Promise<void> {
    if (this.renewing || this.stopped) return;
    this.renewing = true;
    try {
      const sockets = [...this.sockets.values()];
      const users = new Map(sockets.map(({ viewer }) => [`${viewer.tenantId}|${viewer.userId}`, viewer]));
      const renewed = await this.realtime.sets.renewLive(
        [...sockets.map(connectionEntry), ...[...users.values()].map(userEntry)],
        this.ttlMs,
      );
      const userRenewed = new Map([...users.keys()].map((user, i) => [user, renewed[sockets.length + i]]));
      await Promise.all(
        sockets
          .filter(({ viewer }, i) => !renewed[i] || !userRenewed.get(`${viewer.tenantId}|${viewer.userId}`))
          .map((socket) => this.renewOne(socket)),
      );
    } catch (err) {
      this.log.warn({ err }, 'could not renew the connections for presence');
    } finally {
      this.renewing = false;
    }
  }

  /** Renews one connection and its user, adding back what lapsed (and announcing the user if both had). */
  private async renewOne(socket: SocketInfo): Promise<void> {
    await this.serially(socket.viewer, async () => {
      if (!this.sockets.has(socket.id)) return;
      const { viewer } = socket;
      // Both in one step, as a join touches them.
      const [connection, user] = await this.realtime.sets.touchAllAndCount(
        [connectionEntry(socket), userEntry(viewer)],
        this.ttlMs,
      );
      // Rare: a lapse was announced (OFFLINE) while this instance stalled; the user is back.
      if (!connection.wasLive && !user.wasLive) {
        const status = (await this.statuses.get(viewer.tenantId, [viewer.userId])).get(viewer.userId) ?? 'ONLINE';
        await this.publish(viewer.tenantId, { userId: viewer.userId, status, lastSeenAt: new Date().toISOString() });
      }
    }).catch((err) => this.log.warn({ err, socketId: socket.id }, 'could not renew a connection for presence'));
  }

  /** On shutdown: stop renewing, and remove this instance's connections so that their users go offline now. */
  private async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(
      [...this.sockets.values()].map((socket) =>
        this.disconnected(socket).catch((err) =>
          this.log.warn({ err, socketId: socket.id }, 'could not remove a connection at shutdown'),
        ),
      ),
    );
    await Promise.all([...this.queues.values()]);
  }

  private async publish(tenantId: string, signal: PresenceSignal): Promise<void> {
    await this.realtime.hub.publish(tenantChannel({ tenantId }, 'presence'), signal);
  }

  /** Runs one user's changes on this instance one after the other. */
  private serially(scope: Scope, task: () => Promise<void> | undefined): Promise<void> {
    const key = `${scope.tenantId}|${scope.userId}`;
    const run = (this.queues.get(key) ?? Promise.resolve()).then(task);
    const tail = run.catch(() => {});
    this.queues.set(key, tail);
    void tail.then(() => {
      if (this.queues.get(key) === tail) this.queues.delete(key);
    });
    return run;
  }
}
