import { getOperationAST, Kind, type DocumentNode } from 'graphql';
import type { Redis, Result } from 'ioredis';
import type { Viewer } from '../../auth/tokens.js';
import { tenantChannel, type SessionSignal } from '../../events/channels.js';
import { redisCall } from '../../events/pubsub.js';
import type { Logger } from '../../logger.js';
import type { Realtime } from '../../realtime/service.js';
import { clinicRefusal, type ClinicStanding } from '../clinics/standing.js';

/** A connection (a WebSocket, an SSE stream) of one session on this instance, closed when its session ends. */
export interface TrackedConnection {
  /** Who the connection runs as now: a renewal replaces it (same caller, a newer token). */
  viewer: Viewer;
  /** Ends the connection because its session was signed out. */
  signedOut(): void;
  /** Ends the connection because its session went idle (`SESSION_IDLE_TIMEOUT`). */
  idle(): void;
  /** Ends the connection because the operators disabled its clinic (`npm run clinics -- disable`). */
  clinicDisabled(): void;
  /** An SSE stream: the id its response carried (`x-request-id`), by which `renewStream` finds it on any instance. */
  streamId?: string;
  /** Runs the connection on a newer token of the same caller (throws FORBIDDEN for anyone else's). */
  renew?(viewer: Viewer): void;
}

/** What the store knows of one token's session. */
interface SessionState {
  /** The session was signed out. */
  ended: boolean;
  /** The instant before which the user's sessions are signed out (0: none). */
  userBefore: number;
  /**
   * The session's last activity (epoch ms) as last written; null when none is kept (not seen yet, or the store lost
   * it).
   */
  lastActive: number | null;
}

/**
 * What has been signed out, kept as long as a token of it could still be presented: a session (every token a sign-in
 * and its renewals were given) by id, and "every session of this user that started before T"; and each staff
 * session's last activity, kept as long as a token of the session could be presented. Redis when configured (every
 * instance reads the same), else this process.
 */
interface SessionStore {
  endSession(sessionId: string, ttlSeconds: number): Promise<void>;
  endUserSessions(tenantId: string, userId: string, before: number, ttlSeconds: number): Promise<void>;
  /** The sign-outs and the last activity of the token's session, in one read. */
  read(viewer: Viewer): Promise<SessionState>;
  /** Records sessions' last activity (a later instant never overwritten by an earlier one), kept for `ttlMs`. */
  writeActivity(entries: ReadonlyArray<[sessionId: string, at: number]>, ttlMs: number): Promise<void>;
  /** The last activity of each session, in the same order (null: none kept). */
  readActivity(sessionIds: readonly string[]): Promise<Array<number | null>>;
}

/** Sessions per batched activity command (one Lua call or MGET each). */
const ACTIVITY_BATCH = 500;

/** The signals of sign-outs, which an instance keeps (renewals and a disabled clinic are only acted on). */
type EndSignal = Exclude<SessionSignal, { kind: 'renewStream' } | { kind: 'tenantDisabled' }>;

/** Why this instance closes a tracked connection. */
type CloseWhy = SessionEnd | 'clinicDisabled';

/**
 * How an instance catches a clinic disabled without a signal reaching it (no Redis, an outage): a periodic read of
 * the clinics of its live connections.
 */
export interface ClinicCheck {
  /** The standing of those of these clinics that were ever disabled (domains/clinics/data.ts), in one query. */
  standings(tenantIds: readonly string[]): Promise<Map<string, ClinicStanding>>;
  /** How often, while this instance has live connections. @default 5000 */
  intervalMs?: number;
}

const userKey = (tenantId: string, userId: string) => `${tenantId}:${userId}`;

class MemorySessionStore implements SessionStore {
  /** Key → [value, expiry in ms]. */
  private readonly sessions = new Map<string, number>();
  private readonly users = new Map<string, [before: number, until: number]>();
  private readonly activity = new Map<string, [at: number, until: number]>();

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

  async read(viewer: Viewer): Promise<SessionState> {
    return this.readNow(viewer);
  }

  /** The same answer, synchronously: what this process learned. */
  readNow(viewer: Viewer): SessionState {
    const now = Date.now();
    const until = viewer.sessionId ? this.sessions.get(viewer.sessionId) : undefined;
    const user = viewer.kind === 'user' ? this.users.get(userKey(viewer.tenantId, viewer.userId)) : undefined;
    return {
      ended: until !== undefined && until > now,
      userBefore: user && user[1] > now ? user[0] : 0,
      lastActive: viewer.sessionId ? this.activeAt(viewer.sessionId, now) : null,
    };
  }

  async writeActivity(entries: ReadonlyArray<[string, number]>, ttlMs: number): Promise<void> {
    const now = Date.now();
    for (const [sessionId, at] of entries) {
      const known = this.activeAt(sessionId, now) ?? 0;
      if (at > known) this.activity.set(sessionId, [at, now + ttlMs]);
    }
    // Lapsed entries go now and then (each flush of the idle timer writes here).
    for (const [key, [, until]] of this.activity) if (until <= now) this.activity.delete(key);
  }

  async readActivity(sessionIds: readonly string[]): Promise<Array<number | null>> {
    const now = Date.now();
    return sessionIds.map((id) => this.activeAt(id, now));
  }

  private activeAt(sessionId: string, now: number): number | null {
    const entry = this.activity.get(sessionId);
    return entry && entry[1] > now ? entry[0] : null;
  }

  /** Drops what has expired, now and then (on writes: sign-outs are rare). */
  private prune(): void {
    const now = Date.now();
    for (const [key, until] of this.sessions) if (until <= now) this.sessions.delete(key);
    for (const [key, [, until]] of this.users) if (until <= now) this.users.delete(key);
  }
}

// The later instant wins (two admins at once), and the key lives as long as the newest token could.
const END_USER_SESSIONS =
  "local known = tonumber(redis.call('GET', KEYS[1]) or '0') " +
  "redis.call('SET', KEYS[1], math.max(known, tonumber(ARGV[1])), 'EX', ARGV[2])";

// Per key, the later instant wins (two instances flushing the same session), and each key lives ARGV[#ARGV] ms from
// its write.
const WRITE_ACTIVITY =
  'for i, key in ipairs(KEYS) do ' +
  "local known = tonumber(redis.call('GET', key) or '0') " +
  "if tonumber(ARGV[i]) > known then redis.call('SET', key, ARGV[i], 'PX', ARGV[#ARGV]) end " +
  'end';

// ioredis's way of typing a command added with `defineCommand` (its README, "Lua Scripting").
declare module 'ioredis' {
  interface RedisCommander<Context> {
    // The scripts above, defined on the client by `RedisSessionStore`: each run by EVALSHA.
    /** END_USER_SESSIONS. */
    sessionsEndUser(key: string, before: string, ttlSeconds: string): Result<null, Context>;
    /** WRITE_ACTIVITY: the keys (`numberOfKeys` given first), then their instants, then the time to live. */
    sessionsWriteActivity(numberOfKeys: number, ...keysThenArgs: string[]): Result<null, Context>;
  }
}

class RedisSessionStore implements SessionStore {
  constructor(
    private readonly redis: Redis,
    private readonly namespace: string,
  ) {
    // Each by its SHA1, sent whole only to a Redis that has not cached it yet (ioredis retries NOSCRIPT with EVAL).
    redis.defineCommand('sessionsEndUser', { numberOfKeys: 1, lua: END_USER_SESSIONS });
    // Without `numberOfKeys`: the call gives it first, as EVAL takes it (a batch has as many keys as sessions).
    redis.defineCommand('sessionsWriteActivity', { lua: WRITE_ACTIVITY });
  }

  private sessionKey(sessionId: string): string {
    return `${this.namespace}:session-ended:${sessionId}`;
  }

  private userKey(tenantId: string, userId: string): string {
    return `${this.namespace}:sessions-ended-before:${userKey(tenantId, userId)}`;
  }

  private activityKey(sessionId: string): string {
    return `${this.namespace}:session-active:${sessionId}`;
  }

  async endSession(sessionId: string, ttlSeconds: number): Promise<void> {
    await redisCall(() => this.redis.set(this.sessionKey(sessionId), '1', 'EX', ttlSeconds));
  }

  async endUserSessions(tenantId: string, userId: string, before: number, ttlSeconds: number): Promise<void> {
    const key = this.userKey(tenantId, userId);
    await redisCall(() => this.redis.sessionsEndUser(key, String(before), String(ttlSeconds)));
  }

  async read(viewer: Viewer): Promise<SessionState> {
    const { sessionId } = viewer;
    const keys = sessionId ? [this.sessionKey(sessionId), this.activityKey(sessionId)] : [];
    if (viewer.kind === 'user') keys.push(this.userKey(viewer.tenantId, viewer.userId));
    if (keys.length === 0) return { ended: false, userBefore: 0, lastActive: null };
    // One round trip for all three.
    const values = await redisCall(() => this.redis.mget(...keys));
    const userValue = viewer.kind === 'user' ? values[values.length - 1] : null;
    return {
      ended: sessionId !== undefined && values[0] !== null,
      userBefore: Number(userValue ?? 0),
      lastActive: sessionId !== undefined && values[1] !== null ? Number(values[1]) : null,
    };
  }

  async writeActivity(entries: ReadonlyArray<[string, number]>, ttlMs: number): Promise<void> {
    for (let i = 0; i < entries.length; i += ACTIVITY_BATCH) {
      const batch = entries.slice(i, i + ACTIVITY_BATCH);
      await redisCall(() =>
        this.redis.sessionsWriteActivity(
          batch.length,
          ...batch.map(([id]) => this.activityKey(id)),
          ...batch.map(([, at]) => String(at)),
          String(ttlMs),
        ),
      );
    }
  }

  async readActivity(sessionIds: readonly string[]): Promise<Array<number | null>> {
    const values: Array<number | null> = [];
    for (let i = 0; i < sessionIds.length; i += ACTIVITY_BATCH) {
      const keys = sessionIds.slice(i, i + ACTIVITY_BATCH).map((id) => this.activityKey(id));
      const batch = await redisCall(() => this.redis.mget(...keys));
      values.push(...batch.map((v) => (v === null ? null : Number(v))));
    }
    return values;
  }
}

/** Why a token's session is over: signed out, or idle for longer than `SESSION_IDLE_TIMEOUT`. */
export type SessionEnd = 'signedOut' | 'idle';

/**
 * Root fields a client sends on its own, with nobody at the keyboard: they keep a session's tokens and connections
 * going, or announce what is on screen, and never count as activity (or a heartbeat would keep an unattended session
 * open for ever). `viewPatient` is renewed every 20 s while a chart is open; opening it reads the chart, which counts.
 */
const HEARTBEAT_FIELDS = new Set([
  'renewToken',
  'renewConnection',
  'renewStream',
  'viewPatient',
  'leavePatient',
  'signOut',
  'signOutEverywhere',
]);

/**
 * Whether an operation is the user's doing, for the idle timeout: a query or a mutation, unless every root field is a
 * heartbeat (`HEARTBEAT_FIELDS`). Subscriptions, and the transports' own keep-alives, are not.
 */
export function isUserActivity(document: DocumentNode, operationName?: string | null): boolean {
  const operation = getOperationAST(document, operationName);
  if (!operation || operation.operation === 'subscription') return false;
  return operation.selectionSet.selections.some(
    (selection) =>
      selection.kind !== Kind.FIELD ||
      (selection.name.value !== '__typename' && !HEARTBEAT_FIELDS.has(selection.name.value)),
  );
}

/**
 * Sign-out that signs out, and automatic logoff (docs/architecture.md, "Sessions"). Signing out ends the session on
 * the server: its tokens (the sign-in's and every renewal's) are refused on every transport from then on, and its live
 * connections close within moments on every instance. "Everywhere" ends every session of the user that started before
 * now; an admin can do that to another user of the clinic.
 *
 * Every instance learns each sign-out on the tenant's `sessions` channel: it closes its matching connections, and
 * remembers the sign-out itself, so while Redis is unreachable it still refuses what it was told of. A sign-out made
 * during an outage is kept here, refused here at once, and written and announced when Redis is back.
 *
 * A staff session with no activity (`isUserActivity`) for the idle timeout ends too: its tokens are refused with
 * `SESSION_IDLE`, and its connections close. Each instance notes the activity it serves in memory and writes it to the
 * store on one timer, at most once per session per `flushMs`; the same timer reads the last activity of the sessions
 * of its live connections in one batch and closes the idle ones. A write lags by up to `flushMs`, so a session counts
 * as idle only `flushMs` after the timeout: never early, at most two ticks late. A session whose activity the store
 * does not hold (a token from before this feature, an embedded server restarted, a Redis flushed) starts its idle
 * clock when first seen, rather than being cut at once. Sessions without an id (tokens made
 * by hand with the signing key; the server never issues one) and integration clients are exempt. While Redis is
 * unreachable, and for two ticks after it returns (for every instance to write what it noted meanwhile), idleness is
 * not enforced.
 *
 * A clinic the operators disable (`npm run clinics -- disable`) ends every connection of it the same way: the command
 * publishes `tenantDisabled` on the clinic's channel, and a periodic read of the clinics of live connections
 * (`clinics`) catches a disable no signal announced (docs/architecture.md, "Clinics").
 */
export class SessionService {
  private readonly store: SessionStore;
  /** What this instance learned, from its own sign-outs and the channel: read first, and alone when Redis is away. */
  private readonly known = new MemorySessionStore();
  /** Live connections per tenant; one listener on the tenant's channel while the tenant has any here. */
  private readonly live = new Map<string, { connections: Set<TrackedConnection>; unsubscribe: Promise<() => void> }>();
  /** Sign-outs not yet written or announced (Redis unreachable): redone on reconnection. */
  private readonly pending: Array<{ tenantId: string; signal: EndSignal }> = [];
  /** Set while what reconnection has to do has not all succeeded yet: tried again shortly. */
  private retry: NodeJS.Timeout | undefined;
  private catchingUp = false;
  private readonly clinicTimer: NodeJS.Timeout | undefined;
  private checkingClinics = false;
  /** The clinic check's reads are failing (logged once per outage). */
  private clinicsFailing = false;
  /** The idle timeout, in ms. */
  private readonly idleMs: number;
  /** How often activity is written and live sessions checked: a tenth of the timeout, from 250 ms to 15 s. */
  readonly flushMs: number;
  /** The last activity this instance served, per session (kept until it is older than the timeout). */
  private readonly activity = new Map<string, number>();
  /** Sessions whose activity here is newer than what was written. */
  private readonly unwritten = new Set<string>();
  /** Idleness is not enforced before this instant (just after a Redis outage). */
  private enforceIdleFrom = 0;
  private readonly idleTimer: NodeJS.Timeout;
  private idleRound: Promise<void> = Promise.resolve();
  /** The idle timer's reads or writes are failing (logged once per outage). */
  private idleFailing = false;

  constructor(
    private readonly realtime: Realtime,
    private readonly ttlSeconds: number,
    idleTimeoutSeconds: number,
    redisNamespace: string,
    private readonly log: Logger,
    private readonly clinics?: ClinicCheck,
  ) {
    this.store = realtime.redis ? new RedisSessionStore(realtime.redis, redisNamespace) : this.known;
    this.idleMs = idleTimeoutSeconds * 1000;
    this.flushMs = Math.min(15_000, Math.max(250, Math.round(this.idleMs / 10)));
    this.idleTimer = setInterval(() => {
      this.idleRound = this.idleRound.then(() => this.idleTick());
    }, this.flushMs).unref();
    if (clinics) this.clinicTimer = setInterval(() => void this.checkClinics(), clinics.intervalMs ?? 5000).unref();
    realtime.hub.onReconnect(() => this.catchUp());
    realtime.onStop.push(() => {
      clearTimeout(this.retry);
      clearInterval(this.idleTimer);
      clearInterval(this.clinicTimer);
    });
  }

  /**
   * Whether the token's session is over, and why: signed out, or idle. Redis unreachable: the sign-outs this instance
   * knows, and no idle check.
   */
  async check(viewer: Viewer): Promise<SessionEnd | null> {
    const known = this.known.readNow(viewer);
    if (this.ended(viewer, known)) return 'signedOut';
    if (this.store === this.known) return this.isIdle(viewer, known.lastActive) ? 'idle' : null;
    try {
      const state = await this.store.read(viewer);
      if (this.ended(viewer, state)) return 'signedOut';
      return this.isIdle(viewer, state.lastActive) ? 'idle' : null;
    } catch (err) {
      this.log.warn(
        { err: { message: (err as Error).message } },
        'could not read sessions; known sign-outs only, no idle check',
      );
      return null;
    }
  }

  /** A new staff session (`login`): active from now, on every instance at once. */
  async started(viewer: Viewer): Promise<void> {
    if (!this.idleApplies(viewer)) return;
    this.noteActivity(viewer.sessionId!);
    try {
      await this.flush();
    } catch (err) {
      // Written at the next tick; until then the door does not check idleness (Redis is away).
      this.log.warn({ err: { message: (err as Error).message } }, 'could not record a new session yet');
    }
  }

  /** The user did something (`isUserActivity`): the session's idle clock starts again. Written on the next tick. */
  recordActivity(viewer: Viewer, document: DocumentNode, operationName?: string | null): void {
    if (!this.idleApplies(viewer) || !isUserActivity(document, operationName)) return;
    this.noteActivity(viewer.sessionId!);
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
   * Closes the connection when its session is signed out or goes idle, from now on, until `untrack`. Checks once more
   * after listening, so a sign-out between the token check and now is not missed.
   */
  async track(connection: TrackedConnection): Promise<void> {
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
    const end = await this.check(connection.viewer);
    if (end) this.close(connection, `${end === 'idle' ? 'idle' : 'signed out'} before tracking`, end);
  }

  /**
   * The connection ended: no longer tracked (nothing if it was not). A method, not a closure `track` would return: a
   * connection keeps none for it (docs/architecture.md, "Per-connection cost").
   */
  untrack(connection: TrackedConnection): void {
    const { tenantId } = connection.viewer;
    const current = this.live.get(tenantId);
    if (!current?.connections.delete(connection) || current.connections.size > 0) return;
    this.live.delete(tenantId);
    void current.unsubscribe.then((unsubscribe) => unsubscribe());
  }

  private idleApplies(viewer: Viewer): boolean {
    return viewer.kind === 'user' && viewer.sessionId !== undefined;
  }

  /**
   * Idle: no activity for longer than the timeout plus the lag of a write. A session with no activity kept anywhere is
   * taken as active from now (and written at the next tick).
   */
  private isIdle(viewer: Viewer, stored: number | null): boolean {
    if (!this.idleApplies(viewer) || Date.now() < this.enforceIdleFrom) return false;
    const local = this.activity.get(viewer.sessionId!);
    if (stored === null && local === undefined) {
      this.noteActivity(viewer.sessionId!);
      return false;
    }
    return Date.now() - Math.max(stored ?? 0, local ?? 0) > this.idleMs + this.flushMs;
  }

  private noteActivity(sessionId: string): void {
    this.activity.set(sessionId, Date.now());
    this.unwritten.add(sessionId);
  }

  /** Writes the activity noted here since the last write, in one batch; what fails is written next time. */
  private async flush(): Promise<void> {
    if (this.unwritten.size === 0) return;
    const entries = [...this.unwritten].map((id): [string, number] => [id, this.activity.get(id)!]);
    this.unwritten.clear();
    try {
      // Kept as long as a token of the session may be presented (a session without a record starts afresh).
      await this.store.writeActivity(entries, Math.max(this.ttlSeconds * 1000, this.idleMs + 2 * this.flushMs));
    } catch (err) {
      for (const [id, at] of entries) if (this.activity.get(id) === at) this.unwritten.add(id);
      throw err;
    }
  }

  /** One round of the idle timer: write what was noted, then close the connections of sessions gone idle. */
  private async idleTick(): Promise<void> {
    const now = Date.now();
    try {
      await this.flush();
      const bySession = new Map<string, TrackedConnection[]>();
      for (const { connections } of this.live.values()) {
        for (const connection of connections) {
          const { viewer } = connection;
          if (!this.idleApplies(viewer)) continue;
          const list = bySession.get(viewer.sessionId!);
          if (list) list.push(connection);
          else bySession.set(viewer.sessionId!, [connection]);
        }
      }
      if (bySession.size > 0 && now >= this.enforceIdleFrom) {
        const ids = [...bySession.keys()];
        const lastActive = await this.store.readActivity(ids);
        ids.forEach((id, i) => {
          const connections = bySession.get(id)!;
          if (this.isIdle(connections[0].viewer, lastActive[i])) {
            for (const connection of connections) this.close(connection, 'idle', 'idle');
          }
        });
      }
      if (this.idleFailing) this.log.info('idle sessions are checked again');
      this.idleFailing = false;
    } catch (err) {
      if (!this.idleFailing) {
        this.log.warn({ err: { message: (err as Error).message } }, 'could not check idle sessions; not enforced');
      }
      this.idleFailing = true;
    }
    // What is older than the timeout here can no longer keep a session going: forgotten.
    for (const [id, at] of this.activity) {
      if (now - at > this.idleMs + 2 * this.flushMs && !this.unwritten.has(id)) this.activity.delete(id);
    }
  }

  private ended(viewer: Viewer, { ended, userBefore }: SessionState): boolean {
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
   * connection may come back after the subscriber's), it is tried again every second. Idleness waits two ticks of the
   * idle timer, for every instance to write the activity it noted during the outage.
   */
  private catchUp(): void {
    clearTimeout(this.retry);
    this.retry = undefined;
    this.enforceIdleFrom = Date.now() + 2 * this.flushMs;
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
            const { viewer } = connection;
            if (this.ended(viewer, this.known.readNow(viewer)) || this.ended(viewer, await this.store.read(viewer)))
              this.close(connection, 'signed out during an outage');
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
    if (signal.kind === 'tenantDisabled') {
      // The door refuses the clinic's tokens from the database (auth/authenticate.ts); here, its connections close.
      for (const connection of [...(this.live.get(tenantId)?.connections ?? [])])
        this.close(connection, 'clinic disabled', 'clinicDisabled');
      return;
    }
    if (signal.kind === 'session') void this.known.endSession(signal.sessionId, this.ttlSeconds);
    else void this.known.endUserSessions(tenantId, signal.userId, signal.before, this.ttlSeconds);
    // Which connections it ends is what `ended` says of what is now known here: one rule for the door and for these.
    for (const connection of [...(this.live.get(tenantId)?.connections ?? [])]) {
      if (this.ended(connection.viewer, this.known.readNow(connection.viewer))) this.close(connection, 'signed out');
    }
  }

  private close(connection: TrackedConnection, why: string, end: CloseWhy = 'signedOut'): void {
    const tenant = this.live.get(connection.viewer.tenantId);
    if (!tenant?.connections.delete(connection)) return;
    this.log.info({ tenantId: connection.viewer.tenantId, why }, 'closing the connection of an ended session');
    if (end === 'idle') connection.idle();
    else if (end === 'clinicDisabled') connection.clinicDisabled();
    else connection.signedOut();
  }

  /**
   * The backstop of the `tenantDisabled` signal: reads, in one query, the clinics of this instance's live connections
   * and closes those the door would refuse now (`clinicRefusal`: one rule for both).
   */
  private async checkClinics(): Promise<void> {
    if (this.checkingClinics || this.live.size === 0) return;
    this.checkingClinics = true;
    try {
      const standings = await this.clinics!.standings([...this.live.keys()]);
      for (const [tenantId, standing] of standings) {
        for (const connection of [...(this.live.get(tenantId)?.connections ?? [])]) {
          if (!clinicRefusal(standing, connection.viewer)) continue;
          this.close(
            connection,
            'clinic disabled (periodic check)',
            standing.disabledAt ? 'clinicDisabled' : 'signedOut',
          );
        }
      }
      this.clinicsFailing = false;
    } catch (err) {
      if (!this.clinicsFailing)
        this.log.warn({ err: { message: (err as Error).message } }, 'could not check the clinics of live connections');
      this.clinicsFailing = true;
    } finally {
      this.checkingClinics = false;
    }
  }
}
