import type { Redis } from 'ioredis';
import type { Viewer } from '../../auth/tokens.js';
import { tenantChannel, type SessionSignal } from '../../events/channels.js';
import { redisCall } from '../../events/pubsub.js';
import type { Logger } from '../../logger.js';
import type { Realtime } from '../../realtime/service.js';

/** A connection (a WebSocket, an SSE stream) of one session on this instance, closed when its session ends. */
export interface TrackedConnection {
  /** Who the connection runs as now: a renewal replaces it (same caller, a newer token). */
  viewer: Viewer;
  /** Ends the connection because its session was signed out. */
  signedOut(): void;
  /** An SSE stream: the id its response carried (`x-request-id`), by which `renewStream` finds it on any instance. */
  streamId?: string;
  /** Runs the connection on a newer token of the same caller (throws FORBIDDEN for anyone else's). */
  renew?(viewer: Viewer): void;
}

/**
 * What has been signed out, kept as long as a token of it could still be presented: a session (every token a sign-in
 * and its renewals were given) by id, and "every session of this user that started before T". Redis when configured
 * (every instance reads the same), else this process.
 */
interface EndedSessions {
  endSession(sessionId: string, ttlSeconds: number): Promise<void>;
  endUserSessions(tenantId: string, userId: string, before: number, ttlSeconds: number): Promise<void>;
  /** Whether the session is ended, and the instant before which the user's sessions are (0: none). */
  read(viewer: Viewer): Promise<{ ended: boolean; userBefore: number }>;
}

/** The signals that end sessions (the others renew a stream). */
type EndSignal = Exclude<SessionSignal, { kind: 'renewStream' }>;

const userKey = (tenantId: string, userId: string) => `${tenantId}:${userId}`;

class MemoryEndedSessions implements EndedSessions {
  /** Key → [value, expiry in ms]. */
  private readonly sessions = new Map<string, number>();
  private readonly users = new Map<string, [before: number, until: number]>();

  async endSession(sessionId: string, ttlSeconds: number): Promise<void> {
    this.prune();
    this.sessions.set(sessionId, Date.now() + ttlSeconds * 1000);
  }

  async endUserSessions(tenantId: string, userId: string, before: number, ttlSeconds: number): Promise<void> {
    this.prune();
    const key = userKey(tenantId, userId);
    const known = this.users.get(key)?.[0] ?? 0;
    this.users.set(key, [Math.max(known, before), Date.now() + ttlSeconds * 1000]);
  }

  async read(viewer: Viewer): Promise<{ ended: boolean; userBefore: number }> {
    return this.readNow(viewer);
  }

  /** The same answer, synchronously: what this process learned. */
  readNow(viewer: Viewer): { ended: boolean; userBefore: number } {
    const now = Date.now();
    const until = viewer.sessionId ? this.sessions.get(viewer.sessionId) : undefined;
    const user = viewer.kind === 'user' ? this.users.get(userKey(viewer.tenantId, viewer.userId)) : undefined;
    return { ended: until !== undefined && until > now, userBefore: user && user[1] > now ? user[0] : 0 };
  }

  /** Drops what has expired, now and then (on writes: sign-outs are rare). */
  private prune(): void {
    const now = Date.now();
    for (const [key, until] of this.sessions) if (until <= now) this.sessions.delete(key);
    for (const [key, [, until]] of this.users) if (until <= now) this.users.delete(key);
  }
}

class RedisEndedSessions implements EndedSessions {
  constructor(
    private readonly redis: Redis,
    private readonly namespace: string,
  ) {}

  private sessionKey(sessionId: string): string {
    return `${this.namespace}:session-ended:${sessionId}`;
  }

  private userKey(tenantId: string, userId: string): string {
    return `${this.namespace}:sessions-ended-before:${userKey(tenantId, userId)}`;
  }

  async endSession(sessionId: string, ttlSeconds: number): Promise<void> {
    await redisCall(() => this.redis.set(this.sessionKey(sessionId), '1', 'EX', ttlSeconds));
  }

  async endUserSessions(tenantId: string, userId: string, before: number, ttlSeconds: number): Promise<void> {
    // The later instant wins (two admins at once), and the key lives as long as the newest token could.
    const key = this.userKey(tenantId, userId);
    await redisCall(() =>
      this.redis.eval(
        "local known = tonumber(redis.call('GET', KEYS[1]) or '0') " +
          "redis.call('SET', KEYS[1], math.max(known, tonumber(ARGV[1])), 'EX', ARGV[2])",
        1,
        key,
        String(before),
        String(ttlSeconds),
      ),
    );
  }

  async read(viewer: Viewer): Promise<{ ended: boolean; userBefore: number }> {
    const keys = [viewer.sessionId ? this.sessionKey(viewer.sessionId) : null];
    if (viewer.kind === 'user') keys.push(this.userKey(viewer.tenantId, viewer.userId));
    const present = keys.filter((k): k is string => k !== null);
    if (present.length === 0) return { ended: false, userBefore: 0 };
    // One round trip for both.
    const values = await redisCall(() => this.redis.mget(...present));
    const sessionValue = viewer.sessionId ? values[0] : null;
    const userValue = viewer.kind === 'user' ? values[values.length - 1] : null;
    return { ended: sessionValue !== null, userBefore: Number(userValue ?? 0) };
  }
}

/**
 * Sign-out that signs out (docs/architecture.md, "Sessions"). Signing out ends the session on the server: its tokens
 * (the sign-in's and every renewal's) are refused on every transport from then on, and its live connections close
 * within moments on every instance. "Everywhere" ends every session of the user that started before now; an admin
 * can do that to another user of the clinic.
 *
 * Every instance learns each sign-out on the tenant's `sessions` channel: it closes its matching connections, and
 * remembers the sign-out itself, so while Redis is unreachable it still refuses what it was told of. A sign-out made
 * during an outage is kept here, refused here at once, and written and announced when Redis is back.
 */
export class SessionService {
  private readonly store: EndedSessions;
  /** What this instance learned, from its own sign-outs and the channel: read first, and alone when Redis is away. */
  private readonly known = new MemoryEndedSessions();
  /** Live connections per tenant; one listener on the tenant's channel while the tenant has any here. */
  private readonly live = new Map<string, { connections: Set<TrackedConnection>; unsubscribe: Promise<() => void> }>();
  /** Sign-outs not yet written or announced (Redis unreachable): redone on reconnection. */
  private readonly pending: Array<{ tenantId: string; signal: EndSignal }> = [];
  /** Set while what reconnection has to do has not all succeeded yet: tried again shortly. */
  private retry: NodeJS.Timeout | undefined;
  private catchingUp = false;

  constructor(
    private readonly realtime: Realtime,
    private readonly ttlSeconds: number,
    redisNamespace: string,
    private readonly log: Logger,
  ) {
    this.store = realtime.redis ? new RedisEndedSessions(realtime.redis, redisNamespace) : this.known;
    realtime.hub.onReconnect(() => this.catchUp());
    realtime.onStop.push(() => clearTimeout(this.retry));
  }

  /** Whether the token's session has been signed out. Redis unreachable: what this instance knows. */
  async isSignedOut(viewer: Viewer): Promise<boolean> {
    try {
      return await this.readSignedOut(viewer);
    } catch (err) {
      this.log.warn({ err: { message: (err as Error).message } }, 'could not read sign-outs; known ones only');
      return false;
    }
  }

  /** The same, but a store that cannot answer throws. */
  private async readSignedOut(viewer: Viewer): Promise<boolean> {
    if (this.ended(viewer, this.known.readNow(viewer))) return true;
    if (this.store === this.known) return false;
    return this.ended(viewer, await this.store.read(viewer));
  }

  /** Ends this token's session. */
  async signOut(viewer: Viewer): Promise<void> {
    if (!viewer.sessionId) return;
    await this.end(viewer.tenantId, { kind: 'session', sessionId: viewer.sessionId });
  }

  /**
   * Moves the SSE stream `streamId` of this caller, wherever it is served, to the caller's newer token (`viewer`,
   * already verified). A stream on this instance is renewed here (another caller's: FORBIDDEN); otherwise every
   * instance is told, and the one serving it renews it if it is the same caller's.
   */
  async renewStream(viewer: Viewer, streamId: string): Promise<void> {
    const here = this.streams(viewer.tenantId, streamId);
    if (here.length > 0) {
      for (const connection of here) connection.renew!(viewer);
      return;
    }
    await this.realtime.hub.publish(tenantChannel(viewer, 'sessions'), { kind: 'renewStream', streamId, viewer });
  }

  /** Ends every session of the user that started before now (theirs, or an admin's doing). */
  async signOutUser(tenantId: string, userId: string): Promise<void> {
    await this.end(tenantId, { kind: 'user', userId, before: Date.now() });
  }

  /**
   * Closes the connection when its session is signed out, from now on. Returns how to stop (when the connection ends).
   * Checks once more after listening, so a sign-out between the token check and now is not missed.
   */
  async track(connection: TrackedConnection): Promise<() => void> {
    const { tenantId } = connection.viewer;
    let tenant = this.live.get(tenantId);
    if (!tenant) {
      const connections = new Set<TrackedConnection>();
      tenant = {
        connections,
        unsubscribe: this.realtime.hub.subscribe<SessionSignal>(tenantChannel({ tenantId }, 'sessions'), (signal) =>
          this.apply(tenantId, signal),
        ),
      };
      this.live.set(tenantId, tenant);
    }
    tenant.connections.add(connection);
    await tenant.unsubscribe;
    const stop = () => {
      const current = this.live.get(tenantId);
      if (!current) return;
      current.connections.delete(connection);
      if (current.connections.size > 0) return;
      this.live.delete(tenantId);
      void current.unsubscribe.then((unsubscribe) => unsubscribe());
    };
    if (await this.isSignedOut(connection.viewer)) this.close(connection, 'signed out before tracking');
    return stop;
  }

  private ended(viewer: Viewer, { ended, userBefore }: { ended: boolean; userBefore: number }): boolean {
    if (ended) return true;
    return userBefore > 0 && (viewer.sessionStartedAt ?? 0) < userBefore;
  }

  private async end(tenantId: string, signal: EndSignal): Promise<void> {
    // Known here first: refused on this instance from now on, whatever Redis does.
    this.apply(tenantId, signal);
    try {
      await this.persist(tenantId, signal);
    } catch (err) {
      this.pending.push({ tenantId, signal });
      this.log.warn({ err: { message: (err as Error).message } }, 'sign-out kept here; written when Redis is back');
    }
  }

  private async persist(tenantId: string, signal: EndSignal): Promise<void> {
    if (signal.kind === 'session') await this.store.endSession(signal.sessionId, this.ttlSeconds);
    else await this.store.endUserSessions(tenantId, signal.userId, signal.before, this.ttlSeconds);
    await this.realtime.hub.publish(tenantChannel({ tenantId }, 'sessions'), signal);
  }

  /**
   * After an outage: writes and announces the sign-outs kept meanwhile, then checks this instance's connections
   * against what Redis holds (a sign-out announced while this instance was not listening never reached it; it listens
   * again before this runs, so one written after the check is heard). Until all of it succeeds (Redis's command
   * connection may come back after the subscriber's), it is tried again every second.
   */
  private catchUp(): void {
    clearTimeout(this.retry);
    this.retry = undefined;
    if (this.catchingUp) return;
    this.catchingUp = true;
    void (async () => {
      let done = true;
      for (const entry of this.pending.splice(0)) {
        try {
          await this.persist(entry.tenantId, entry.signal);
        } catch {
          this.pending.push(entry);
          done = false;
        }
      }
      const connections = [...this.live.values()].flatMap(({ connections }) => [...connections]);
      await Promise.all(
        connections.map(async (connection) => {
          try {
            if (await this.readSignedOut(connection.viewer)) this.close(connection, 'signed out during an outage');
          } catch {
            done = false;
          }
        }),
      );
      this.catchingUp = false;
      if (!done) this.retry = setTimeout(() => this.catchUp(), 1000).unref();
    })();
  }

  private streams(tenantId: string, streamId: string): TrackedConnection[] {
    return [...(this.live.get(tenantId)?.connections ?? [])].filter((c) => c.streamId === streamId && c.renew);
  }

  /** A sign-out, from this instance or another: remembered, and the matching connections here closed. */
  private apply(tenantId: string, signal: SessionSignal): void {
    if (signal.kind === 'renewStream') {
      for (const connection of this.streams(tenantId, signal.streamId)) {
        try {
          connection.renew!(signal.viewer);
        } catch (err) {
          this.log.info(
            { err: { message: (err as Error).message } },
            'a stream renewal for another caller was ignored',
          );
        }
      }
      return;
    }
    if (signal.kind === 'session') void this.known.endSession(signal.sessionId, this.ttlSeconds);
    else void this.known.endUserSessions(tenantId, signal.userId, signal.before, this.ttlSeconds);
    const tenant = this.live.get(tenantId);
    if (!tenant) return;
    for (const connection of [...tenant.connections]) {
      const { viewer } = connection;
      const matches =
        signal.kind === 'session'
          ? viewer.sessionId === signal.sessionId
          : viewer.kind === 'user' && viewer.userId === signal.userId && (viewer.sessionStartedAt ?? 0) < signal.before;
      if (matches) this.close(connection, 'signed out');
    }
  }

  private close(connection: TrackedConnection, why: string): void {
    const tenant = this.live.get(connection.viewer.tenantId);
    if (!tenant?.connections.delete(connection)) return;
    this.log.info({ tenantId: connection.viewer.tenantId, why }, 'closing a signed-out connection');
    connection.signedOut();
  }
}
