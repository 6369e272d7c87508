import { randomUUID } from 'node:crypto';
import { connectionId } from '../ids.js';
import type { Viewer } from '../auth/tokens.js';
import type { ChannelHub } from '../events/channelHub.js';
import { tenantChannel } from '../events/channels.js';
import type { Logger } from '../logger.js';
import type { ActivityBucket, ClinicActivity } from './clinicActivity.js';

/** The transport of a connection on the board. */
export type BoardTransport = 'ws' | 'sse';

/** One live connection (a WebSocket, an SSE stream) of a clinic on one instance. */
export interface BoardConnection {
  /** Unique over all instances. */
  id: string;
  transport: BoardTransport;
  kind: 'user' | 'integration';
  /** The user's id, or the integration client's. */
  callerId: string;
  /** Epoch ms. */
  openedAt: number;
  /** Its live subscriptions. */
  subscriptions: number;
}

/** What one instance holds and observed of one clinic, as it is shared with the instances whose admins watch. */
export interface InstanceSnapshot {
  instanceId: string;
  /** When it was taken, epoch ms. */
  at: number;
  connections: BoardConnection[];
  /** The clinic's activity window on that instance (clinicActivity.ts), oldest bucket first. */
  activity: ActivityBucket[];
}

/** What travels on a clinic's `dashboard` channel. Ids and counts only: no name, nothing of a patient. */
export type DashboardSignal = { kind: 'watch' } | { kind: 'snapshot'; snapshot: InstanceSnapshot };

/**
 * One connection on the board, held by its transport's session (http/session.ts): its record and its place in one
 * object, a class, so that thousands of connections share its methods instead of each holding closures
 * (docs/architecture.md, "Per-connection cost"). A snapshot copies the record's fields (`record`).
 */
export class BoardEntry implements BoardConnection {
  private open = true;
  subscriptions = 0;
  readonly kind: BoardConnection['kind'];
  readonly callerId: string;
  readonly openedAt = Date.now();

  constructor(
    private readonly board: ConnectionBoard,
    private readonly tenantId: string,
    readonly id: string,
    readonly transport: BoardTransport,
    viewer: Viewer,
  ) {
    this.kind = viewer.kind;
    this.callerId = viewer.kind === 'user' ? viewer.userId : viewer.clientId;
  }

  /** A subscription started on the connection: counted until `unsubscribed()`. */
  subscribed(): void {
    this.subscriptions += 1;
    this.board.changed(this.tenantId);
  }

  unsubscribed(): void {
    this.subscriptions -= 1;
    this.board.changed(this.tenantId);
  }

  /** The connection is gone; `closeCode` is the WebSocket's close code, counted as an error unless 1000 or 1001. */
  closed(closeCode?: number): void {
    if (!this.open) return;
    this.open = false;
    this.board.closed(this.tenantId, this, closeCode);
  }

  /** The record as a snapshot carries it. */
  record(): BoardConnection {
    const { id, transport, kind, callerId, openedAt, subscriptions } = this;
    return { id, transport, kind, callerId, openedAt, subscriptions };
  }
}

export interface BoardTiming {
  /** How often a watched clinic's changes are published, at most: the dashboard's pace. @default 1000 */
  publishMs: number;
  /** How often a watcher asks again, and an instance publishes a watched clinic even without a change. @default 2000 */
  refreshMs: number;
  /** A snapshot not renewed for this long is dropped (its instance crashed or lost Redis). @default 10000 */
  staleMs: number;
}

const DEFAULT_TIMING: BoardTiming = { publishMs: 1000, refreshMs: 2000, staleMs: 10_000 };

/** Housekeeping (old activity, unneeded channels) runs every this many `publishMs`. */
const HOUSEKEEPING_TICKS = 10;

/** The close codes of a connection that ended normally: a client leaving, a server draining. */
const NORMAL_CLOSE = new Set([1000, 1001]);

/**
 * A close code as an error code: the standard ones (1002 to 1015) and those of graphql-ws and ours (4400 to 4599) each
 * count apart; any other (a client may close with any code it likes) is `CLOSE_OTHER`, so the set of keys stays small.
 */
function closeCodeKey(code: number): string {
  return (code >= 1002 && code <= 1015) || (code >= 4400 && code <= 4599) ? `CLOSE_${code}` : 'CLOSE_OTHER';
}

interface Watching {
  listeners: Set<() => void>;
  /** The snapshots heard, by instance, and when each arrived (this instance's clock: another's may be off). */
  snapshots: Map<string, { snapshot: InstanceSnapshot; heardAt: number }>;
  askedAt: number;
}

/**
 * The connection dashboard's shared state (docs/architecture.md, "Connection dashboard"). Each instance keeps its
 * clinics' connections here (the transports add and remove them through their sessions); the activity comes from
 * `Metrics.clinics`. Nothing leaves the instance until an admin watches: the instance serving the admin asks on the
 * clinic's `dashboard` channel, every `refreshMs` while watched, and each instance holding connections or activity of
 * that clinic (and so listening on its channel) answers with its snapshot, then publishes it at most every `publishMs`
 * when it changes and every `refreshMs` anyway. The watching instance merges the latest snapshot of each instance and
 * drops one that went stale. One timer per instance; a clinic nobody watches costs a channel subscription per instance
 * that serves it, and nothing per event beyond the activity counters.
 */
export class ConnectionBoard {
  readonly instanceId = randomUUID();
  private readonly timing: BoardTiming;
  /** This instance's live connections, per clinic. */
  private readonly connections = new Map<string, Set<BoardEntry>>();
  /** The clinics whose channel this instance listens on. */
  private readonly channels = new Map<string, Promise<() => void>>();
  /** Clinics someone watches (asked recently), until when; and whether something changed since last published. */
  private readonly watched = new Map<string, { until: number; publishedAt: number; dirty: boolean }>();
  /** The clinics watched from this instance. */
  private readonly watching = new Map<string, Watching>();
  private timer: NodeJS.Timeout | undefined;
  /** When the timer is due (epoch ms). */
  private dueAt = 0;
  /** When old activity was last forgotten and unneeded channels released. */
  private housekeptAt = Date.now();
  private stopped = false;
  /** Publishing fails (pub/sub unreachable): logged once until it works again. */
  private failing = false;

  constructor(
    private readonly hub: ChannelHub,
    private readonly activity: ClinicActivity,
    private readonly log: Logger,
    timing: Partial<BoardTiming> = {},
  ) {
    this.timing = { ...DEFAULT_TIMING, ...timing };
    activity.onChange = (tenantId) => this.changed(tenantId);
    this.schedule();
  }

  /**
   * A connection authenticated as `viewer` opened on this instance; `id`, unique over all instances, is the
   * transport's own when it has one (a WebSocket's), so that the connection keeps one id.
   */
  opened(viewer: Viewer, transport: BoardTransport, id = connectionId()): BoardEntry {
    const { tenantId } = viewer;
    const entry = new BoardEntry(this, tenantId, id, transport, viewer);
    let clinic = this.connections.get(tenantId);
    if (!clinic) this.connections.set(tenantId, (clinic = new Set()));
    clinic.add(entry);
    void this.listen(tenantId);
    this.changed(tenantId);
    return entry;
  }

  /** A connection's entry closed (`BoardEntry.closed`, once). */
  closed(tenantId: string, entry: BoardEntry, closeCode: number | undefined): void {
    if (closeCode !== undefined && !NORMAL_CLOSE.has(closeCode)) this.activity.error(tenantId, closeCodeKey(closeCode));
    const current = this.connections.get(tenantId);
    current?.delete(entry);
    if (current?.size === 0) this.connections.delete(tenantId);
    this.changed(tenantId);
  }

  /**
   * Watches a clinic from this instance: `onChange` runs whenever an instance's snapshot arrives or one is dropped.
   * Resolves once the channel listens and the instances were asked.
   */
  async watch(tenantId: string, onChange: () => void): Promise<{ snapshots(): InstanceSnapshot[]; stop(): void }> {
    let watching = this.watching.get(tenantId);
    if (!watching) {
      watching = { listeners: new Set(), snapshots: new Map(), askedAt: 0 };
      this.watching.set(tenantId, watching);
      this.schedule();
    }
    watching.listeners.add(onChange);
    await this.listen(tenantId);
    await this.ask(tenantId, watching);
    const w = watching;
    return {
      snapshots: () => [...w.snapshots.values()].map(({ snapshot }) => snapshot),
      stop: () => {
        w.listeners.delete(onChange);
        if (w.listeners.size > 0 || this.watching.get(tenantId) !== w) return;
        this.watching.delete(tenantId);
        this.release(tenantId);
      },
    };
  }

  /** This instance's snapshot of a clinic now. */
  snapshot(tenantId: string, now = Date.now()): InstanceSnapshot {
    return {
      instanceId: this.instanceId,
      at: now,
      connections: [...(this.connections.get(tenantId) ?? [])].map((entry) => entry.record()),
      activity: this.activity.window(tenantId, now),
    };
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.activity.onChange = null;
    for (const tenantId of [...this.channels.keys()]) this.unlisten(tenantId);
  }

  /** Something of the clinic changed here: published at the next tick if someone watches it. */
  changed(tenantId: string): void {
    const watched = this.watched.get(tenantId);
    if (watched) watched.dirty = true;
  }

  /** Listens on the clinic's channel (once per clinic). */
  private listen(tenantId: string): Promise<() => void> {
    let channel = this.channels.get(tenantId);
    if (!channel) {
      channel = this.hub.subscribe<DashboardSignal>(tenantChannel({ tenantId }, 'dashboard'), (signal) =>
        this.heard(tenantId, signal),
      );
      this.channels.set(tenantId, channel);
    }
    return channel;
  }

  private unlisten(tenantId: string): void {
    const channel = this.channels.get(tenantId);
    if (!channel) return;
    this.channels.delete(tenantId);
    this.watched.delete(tenantId);
    void channel.then((unsubscribe) => unsubscribe());
  }

  /** Stops listening on a clinic's channel once nothing here needs it (checked again on each tick). */
  private release(tenantId: string): void {
    if (this.connections.has(tenantId) || this.watching.has(tenantId)) return;
    if (this.activity.window(tenantId).length > 0) return;
    this.unlisten(tenantId);
  }

  private heard(tenantId: string, signal: DashboardSignal): void {
    if (signal.kind === 'watch') {
      const watched = this.watched.get(tenantId);
      this.watched.set(tenantId, {
        until: Date.now() + this.timing.staleMs,
        publishedAt: watched?.publishedAt ?? 0,
        dirty: watched?.dirty ?? true,
      });
      if (!watched) this.schedule();
      // A new watcher waits for nobody: answered at once, unless answered a moment ago.
      if (!watched || Date.now() - watched.publishedAt > this.timing.publishMs) void this.publish(tenantId);
      return;
    }
    const watching = this.watching.get(tenantId);
    if (!watching) return;
    watching.snapshots.set(signal.snapshot.instanceId, { snapshot: signal.snapshot, heardAt: Date.now() });
    for (const listener of watching.listeners) listener();
  }

  private async ask(tenantId: string, watching: Watching): Promise<void> {
    watching.askedAt = Date.now();
    try {
      await this.hub.publish(tenantChannel({ tenantId }, 'dashboard'), { kind: 'watch' } satisfies DashboardSignal);
      this.failing = false;
    } catch (err) {
      // Asked again on the next refresh.
      this.failed(err);
    }
  }

  private async publish(tenantId: string): Promise<void> {
    const watched = this.watched.get(tenantId);
    if (!watched) return;
    const now = Date.now();
    watched.publishedAt = now;
    watched.dirty = false;
    const snapshot = this.snapshot(tenantId, now);
    try {
      await this.hub.publish(tenantChannel({ tenantId }, 'dashboard'), {
        kind: 'snapshot',
        snapshot,
      } satisfies DashboardSignal);
      this.failing = false;
    } catch (err) {
      // Published again on the next refresh.
      watched.dirty = true;
      this.failed(err);
    }
  }

  private failed(err: unknown): void {
    if (this.failing) return;
    this.failing = true;
    this.log.warn(
      { err: { message: (err as Error).message } },
      'dashboard: could not publish on pub/sub; the dashboard waits until it can',
    );
  }

  /**
   * Arms the one timer for the next tick: every `publishMs` while a clinic is watched from or through this instance,
   * otherwise only for the housekeeping every ten of those. An idle instance is not woken every second for nothing
   * (docs/architecture.md, "CPU at rest"). Re-arms sooner when a clinic becomes watched.
   */
  private schedule(): void {
    if (this.stopped) return;
    const now = Date.now();
    const busy = this.watched.size > 0 || this.watching.size > 0;
    const at = busy ? now + this.timing.publishMs : this.housekeptAt + HOUSEKEEPING_TICKS * this.timing.publishMs;
    if (this.timer && this.dueAt <= at) return;
    clearTimeout(this.timer);
    this.dueAt = at;
    this.timer = setTimeout(() => this.tick(), Math.max(0, at - now)).unref();
  }

  private tick(): void {
    this.timer = undefined;
    const now = Date.now();
    for (const [tenantId, watched] of this.watched) {
      if (watched.until <= now) {
        this.watched.delete(tenantId);
        continue;
      }
      if (watched.dirty || now - watched.publishedAt >= this.timing.refreshMs) void this.publish(tenantId);
    }
    for (const [tenantId, watching] of this.watching) {
      if (now - watching.askedAt >= this.timing.refreshMs) void this.ask(tenantId, watching);
      let dropped = false;
      for (const [instanceId, { heardAt }] of watching.snapshots) {
        if (heardAt < now - this.timing.staleMs) dropped = watching.snapshots.delete(instanceId);
      }
      if (dropped) for (const listener of watching.listeners) listener();
    }
    // Every ten ticks' time: forget old activity, listen on the channels of clinics with activity here but no
    // connection (HTTP callers' errors), and stop listening where nothing is left.
    if (now - this.housekeptAt >= HOUSEKEEPING_TICKS * this.timing.publishMs) {
      this.housekeptAt = now;
      this.activity.prune(now);
      for (const tenantId of this.activity.tenants()) void this.listen(tenantId);
      for (const tenantId of [...this.channels.keys()]) this.release(tenantId);
    }
    this.schedule();
  }
}
