import type { Viewer } from '../../auth/tokens.js';
import type { Config } from '../../config.js';
import { tenantChannel, type PresenceSignal } from '../../events/channels.js';
import type { Logger } from '../../logger.js';
import { EphemeralKey, onlineMember, parseEphemeralKey, userOfOnlineMember } from '../../realtime/keys.js';
import type { LapsedMember, Realtime, SocketInfo } from '../../realtime/service.js';
import { MemoryStatusStore, RedisStatusStore, type ChosenStatus, type PresenceStatusStore } from './statusStore.js';

type Scope = Pick<Viewer, 'tenantId' | 'userId'>;

const connectionsOf = (members: string[], userId: string) => members.filter((m) => userOfOnlineMember(m) === userId).length;

/**
 * Who is online (DESIGN.md invariant 3). A user is online while any of their WebSocket connections, on any instance,
 * is open: each connection is a member `userId|socketId` of the tenant's expiring online set, renewed by its own
 * instance every third of the time to live. The first connection of a user announces ONLINE and the last one to go
 * announces OFFLINE, whether it closed or lapsed with a crashed instance (found by the sweep of any instance).
 *
 * Whether a connection is a user's first or last is read in the same atomic step as the change (`touchAndList`,
 * `removeAndList`), so two instances racing on one user's connections announce it once. On this instance the
 * changes of one user run one after the other, so a connection that opens and closes at once is announced in order.
 */
export class PresenceService {
  private readonly ttlMs: number;
  private readonly statuses: PresenceStatusStore;
  /** This instance's open connections: the heartbeat renews them, a graceful shutdown removes them. */
  private readonly sockets = new Map<string, SocketInfo>();
  /** The tail of each user's changes on this instance. */
  private readonly queues = new Map<string, Promise<void>>();
  private readonly heartbeat: NodeJS.Timeout;
  private renewing = false;
  private stopped = false;

  constructor(
    private readonly realtime: Realtime,
    config: Pick<Config, 'presenceTtlSeconds'>,
    private readonly log: Logger,
  ) {
    this.ttlMs = config.presenceTtlSeconds * 1000;
    this.statuses = realtime.pubsub.redis ? new RedisStatusStore(realtime.pubsub.redis) : new MemoryStatusStore();
    realtime.onSocketOpen.push((socket) => this.connected(socket));
    realtime.onSocketClose.push((socket) => this.disconnected(socket));
    realtime.onLapsed.push((lapsed) => this.lapsed(lapsed));
    realtime.onStop.push(() => this.stop());
    this.heartbeat = setInterval(() => void this.renew(), this.ttlMs / 3).unref();
  }

  /** The users of the tenant with a live connection, with their status. */
  async online(tenantId: string): Promise<PresenceSignal[]> {
    const userIds = [...new Set((await this.realtime.sets.members(EphemeralKey.online({ tenantId }))).map(userOfOnlineMember))];
    const statuses = await this.statuses.get(tenantId, userIds);
    const now = new Date().toISOString();
    return userIds.map((userId) => ({ userId, status: statuses.get(userId) ?? 'ONLINE', lastSeenAt: now }));
  }

  async isOnline(scope: Scope): Promise<boolean> {
    return connectionsOf(await this.realtime.sets.members(EphemeralKey.online(scope)), scope.userId) > 0;
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
    // Never fails the connection: if the store is unreachable, the next heartbeat adds it.
    await this.serially(socket.viewer, () => (this.sockets.has(socket.id) ? this.join(socket) : undefined)).catch((err) =>
      this.log.warn({ err, socketId: socket.id }, 'could not record the connection for presence'),
    );
  }

  private async disconnected(socket: SocketInfo): Promise<void> {
    if (!this.sockets.delete(socket.id)) return;
    await this.serially(socket.viewer, () => this.leave(socket));
  }

  /** Adds a new connection; announces ONLINE when it is the user's only one. */
  private async join({ id, viewer }: SocketInfo): Promise<void> {
    const change = await this.realtime.sets.touchAndList(EphemeralKey.online(viewer), onlineMember(viewer.userId, id), this.ttlMs);
    if (connectionsOf(change.members, viewer.userId) !== 1) return;
    await this.statuses.clear(viewer.tenantId, viewer.userId);
    await this.publish(viewer.tenantId, { userId: viewer.userId, status: 'ONLINE', lastSeenAt: new Date().toISOString() });
  }

  /** Removes a connection; announces OFFLINE when it was the user's last. */
  private async leave({ id, viewer }: SocketInfo): Promise<void> {
    const change = await this.realtime.sets.removeAndList(EphemeralKey.online(viewer), onlineMember(viewer.userId, id));
    // Not stored: the sweep already reported it, and whoever got it announced the lapse.
    if (!change.wasStored || connectionsOf(change.members, viewer.userId) > 0) return;
    await this.offline(viewer, new Date());
  }

  private async offline(scope: Scope, lastSeenAt: Date): Promise<void> {
    await this.statuses.clear(scope.tenantId, scope.userId);
    await this.publish(scope.tenantId, { userId: scope.userId, status: 'OFFLINE', lastSeenAt: lastSeenAt.toISOString() });
  }

  /** Connections that lapsed (their instance stopped renewing them): a user left with none is offline. */
  private async lapsed(lapsed: LapsedMember[]): Promise<void> {
    const users = new Map<string, Scope>();
    for (const { key, member } of lapsed) {
      const parsed = parseEphemeralKey(key);
      if (parsed?.kind !== 'online') continue;
      const userId = userOfOnlineMember(member);
      users.set(`${parsed.tenantId}|${userId}`, { tenantId: parsed.tenantId, userId });
    }
    // Its last renewal was at least one time to live ago.
    const lastSeenAt = new Date(Date.now() - this.ttlMs);
    await Promise.all(
      [...users.values()].map((scope) =>
        this.serially(scope, async () => {
          if (!(await this.isOnline(scope))) await this.offline(scope, lastSeenAt);
        }),
      ),
    );
  }

  /** Renews this instance's connections; one that had lapsed meanwhile (a stall, a Redis outage) is added back. */
  private async renew(): Promise<void> {
    if (this.renewing || this.stopped) return;
    this.renewing = true;
    try {
      await Promise.all(
        [...this.sockets.values()].map((socket) =>
          this.serially(socket.viewer, async () => {
            if (!this.sockets.has(socket.id)) return;
            const { viewer } = socket;
            const revived = await this.realtime.sets.touch(EphemeralKey.online(viewer), onlineMember(viewer.userId, socket.id), this.ttlMs);
            // Rare, so not read atomically: at worst a second ONLINE for a lapse that was never announced.
            if (revived && connectionsOf(await this.realtime.sets.members(EphemeralKey.online(viewer)), viewer.userId) === 1) {
              const status = (await this.statuses.get(viewer.tenantId, [viewer.userId])).get(viewer.userId) ?? 'ONLINE';
              await this.publish(viewer.tenantId, { userId: viewer.userId, status, lastSeenAt: new Date().toISOString() });
            }
          }).catch((err) => this.log.warn({ err, socketId: socket.id }, 'could not renew a connection for presence')),
        ),
      );
    } finally {
      this.renewing = false;
    }
  }

  /** On shutdown: stop renewing, and remove this instance's connections so that their users go offline now. */
  private async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.heartbeat);
    await Promise.all(
      [...this.sockets.values()].map((socket) =>
        this.disconnected(socket).catch((err) => this.log.warn({ err, socketId: socket.id }, 'could not remove a connection at shutdown')),
      ),
    );
    await Promise.all([...this.queues.values()]);
  }

  private async publish(tenantId: string, signal: PresenceSignal): Promise<void> {
    await this.realtime.pubsub.engine.publish(tenantChannel({ tenantId }, 'presence'), signal);
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
