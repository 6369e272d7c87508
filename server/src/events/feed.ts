import { firstRow, type Db } from '../db/knex.js';
import type { EventRow } from '../db/rows.js';
import { badInput, cursorExpired } from '../errors.js';
import type { Logger } from '../logger.js';
import { tenantChannel, type EventsWakeUp } from './channels.js';
import { eventCursor, type EventTopic } from './eventLog.js';
import type { ChannelHub } from './channelHub.js';
import { prunedThrough } from './retention.js';

/** One committed event of the log, as the tail hands it to its listeners. */
export interface LoggedEvent {
  event: EventRow;
  /** Opaque resume point: pass as `after` to continue after this event. */
  cursor: string;
}

/** Hears a batch of new events; every listener of a tail gets the same array. */
export type FeedListener = (batch: readonly LoggedEvent[]) => void;

const PAGE = 500;

/** Committed events of a tenant after `afterSeq`, oldest first; optionally only some topics. */
export async function readEvents(
  db: Db,
  tenantId: string,
  afterSeq: number,
  limit: number,
  topics?: readonly EventTopic[],
): Promise<EventRow[]> {
  const query = db<EventRow>('events').where({ tenantId }).andWhere('seq', '>', afterSeq).orderBy('seq').limit(limit);
  if (topics) query.whereIn('topic', topics);
  return query;
}

/**
 * The newest committed event of a tenant, from its counter (written in the same transaction as the events, so its
 * committed value is the last committed seq), not from `max(seq)` of the log: pruning may have emptied the log.
 */
export async function latestSeq(db: Db, tenantId: string): Promise<number> {
  // Written out rather than built: every WebSocket connection's acknowledgement reads it (see CLINIC_OF_USER).
  const row = await firstRow<{ lastSeq: number | string }>(
    db,
    'select last_seq from event_counters where tenant_id = ?',
    [tenantId],
  );
  return Number(row?.lastSeq ?? 0);
}

/**
 * The cursor of a tenant's newest committed event: a subscription resumed after it receives everything committed from
 * now on. WebSocket connections are acknowledged with it (docs/architecture.md, "Retention").
 */
export async function newestCursor(db: Db, tenantId: string): Promise<string> {
  return eventCursor(tenantId, await latestSeq(db, tenantId));
}

/** A resume replays the log this many events at a time, and waits for its subscriber between pages. */
export const REPLAY_PAGE = 500;

/**
 * Refuses a resume point ahead of everything committed (`since`: where the live tail stands): a cursor this clinic
 * never gave out; and one behind what the log keeps (events after it were pruned): `CURSOR_EXPIRED`.
 */
export async function assertResumable(db: Db, tenantId: string, after: number, since: number): Promise<void> {
  if (after > since && after > (await latestSeq(db, tenantId)))
    throw badInput('after is not an event cursor of your clinic', 'after');
  await assertKept(db, tenantId, after);
}

/**
 * Throws `CURSOR_EXPIRED` when events after `after` were pruned, with the cursor of where the log stands now: the
 * client reads again what the stream feeds, then resumes after that cursor.
 */
async function assertKept(db: Db, tenantId: string, after: number): Promise<void> {
  if (after >= (await prunedThrough(db, tenantId))) return;
  throw cursorExpired(eventCursor(tenantId, await latestSeq(db, tenantId)));
}

/**
 * One page of a resume's replay: the events after `after`, checked against the watermark once read. Pruning may
 * overtake a replay that runs at its client's pace; the rows are read first and the watermark after, so a page read
 * across a prune that took events after `after` is never passed off as complete.
 */
export async function readReplayPage(
  db: Db,
  tenantId: string,
  after: number,
  topics: readonly EventTopic[],
): Promise<LoggedEvent[]> {
  const rows = await readEvents(db, tenantId, after, REPLAY_PAGE, topics);
  await assertKept(db, tenantId, after);
  return toLoggedEvents(tenantId, rows);
}

/** Log rows with their cursors, as listeners and replays take them. */
export function toLoggedEvents(tenantId: string, rows: readonly EventRow[]): LoggedEvent[] {
  return rows.map((event) => ({ event, cursor: eventCursor(tenantId, event.seq) }));
}

interface TenantTail {
  tenantId: string;
  listeners: Set<FeedListener>;
  /** Everything up to here has been read and handed to the listeners. */
  lastSeq: number;
  /** The newest event of the tenant this instance has heard of (a wake-up, its own commit, a read): metrics' lag. */
  heardSeq: number;
  ready: Promise<void>;
  /** `lastSeq` has been read: the tail is listening and knows where it stands. */
  live: boolean;
  reading: boolean;
  readAgain: boolean;
  /** Stops listening for the tenant's wake-ups. */
  unsubscribe: (() => void) | null;
  closed: boolean;
}

/**
 * Tails the event log of each tenant that has live subscribers on this instance (docs/architecture.md, invariant 2).
 *
 * A Redis message is only a wake-up ("tenant T has events up to seq N"). On a wake-up the instance reads the new
 * rows of that tenant once, whatever its number of subscribers, and hands them to each listener in order. Wake-ups
 * that arrive while a read runs fold into one more read. The instance that committed rows needs no wake-up: it hands
 * them over itself when they are the next ones (`announce`). After Redis comes back from an outage every tail reads
 * what it missed: live delivery, backfill and a client's resume are all the same read of the log.
 */
export class EventFeed {
  private readonly tails = new Map<string, TenantTail>();

  constructor(
    private readonly db: Db,
    private readonly hub: ChannelHub,
    private readonly log: Logger,
  ) {
    hub.onReconnect(() => {
      for (const tail of this.tails.values()) this.read(tail);
    });
  }

  /**
   * Tells every instance that a tenant's log grew, with the rows this instance just committed (oldest first). Called
   * after the commit. This instance's own tail takes the rows as they are when they are the very next ones it waits
   * for: a tenant's numbers have no gaps (a rolled-back transaction takes its counter increment with it) and become
   * visible in order (eventLog.ts), so nothing can sit between. Otherwise (another writer's events came first, or a
   * read is under way) it reads the log as on any wake-up (docs/architecture.md, "The path of an event").
   */
  announce(tenantId: string, committed: readonly EventRow[]): void {
    const seq = committed[committed.length - 1].seq;
    const tail = this.tails.get(tenantId);
    if (tail) {
      tail.heardSeq = Math.max(tail.heardSeq, seq);
      if (tail.live && !tail.reading && !tail.closed && committed[0].seq === tail.lastSeq + 1) {
        tail.lastSeq = seq;
        this.hand(tail, toLoggedEvents(tenantId, committed));
      } else if (seq > tail.lastSeq) this.read(tail);
    }
    const wakeUp: EventsWakeUp = { tenantId, seq };
    this.hub.publish(tenantChannel({ tenantId }, 'events'), wakeUp).catch((err: Error) => {
      // Not lost: the rows are in the log, and subscribers read them on the next wake-up or after reconnecting.
      this.log.warn({ err: { message: err.message }, tenantId }, 'could not publish event wake-up');
    });
  }

  /**
   * Adds a listener to a tenant's tail. Resolves once the tail is live, with the sequence number the live stream
   * starts after: every event with a greater number reaches the listener.
   */
  async listen(tenantId: string, listener: FeedListener): Promise<{ since: number; stop: () => void }> {
    let tail = this.tails.get(tenantId);
    if (!tail) {
      tail = this.open(tenantId);
      this.tails.set(tenantId, tail);
    }
    tail.listeners.add(listener);
    try {
      await tail.ready;
    } catch (err) {
      this.remove(tail, listener);
      throw err;
    }
    const since = tail.lastSeq;
    const current = tail;
    return { since, stop: () => this.remove(current, listener) };
  }

  /**
   * The newest event of a tenant this instance has heard of, while it tails that tenant: a wake-up, a commit of its
   * own, or a read. Delivery lags behind it while wake-ups wait for their read or groups for their execution.
   */
  newestHeard(tenantId: string): number | undefined {
    return this.tails.get(tenantId)?.heardSeq;
  }

  /** Live listeners over all tenants, for metrics and leak checks. */
  get listenerCount(): number {
    let n = 0;
    for (const tail of this.tails.values()) n += tail.listeners.size;
    return n;
  }

  private open(tenantId: string): TenantTail {
    const tail: TenantTail = {
      tenantId,
      listeners: new Set(),
      lastSeq: 0,
      heardSeq: 0,
      ready: Promise.resolve(),
      live: false,
      reading: false,
      readAgain: false,
      unsubscribe: null,
      closed: false,
    };
    tail.ready = (async () => {
      // Listen before reading the position: a wake-up for anything after it cannot slip between the two. While Redis
      // is unreachable this resolves at once; the reconnection's backfill covers what is published meanwhile.
      const unsubscribe = await this.hub.subscribe<EventsWakeUp>(tenantChannel({ tenantId }, 'events'), (wakeUp) => {
        tail.heardSeq = Math.max(tail.heardSeq, wakeUp.seq);
        if (wakeUp.seq > tail.lastSeq) this.read(tail);
      });
      if (tail.closed) {
        unsubscribe();
        return;
      }
      tail.unsubscribe = unsubscribe;
      tail.lastSeq = await latestSeq(this.db, tenantId);
      tail.heardSeq = Math.max(tail.heardSeq, tail.lastSeq);
      tail.live = true;
    })();
    return tail;
  }

  private remove(tail: TenantTail, listener: FeedListener): void {
    tail.listeners.delete(listener);
    if (tail.listeners.size > 0 || tail.closed) return;
    tail.closed = true;
    if (this.tails.get(tail.tenantId) === tail) this.tails.delete(tail.tenantId);
    tail.unsubscribe?.();
  }

  /** Hands one batch, in order after everything handed before, to each listener of a tail. */
  private hand(tail: TenantTail, batch: readonly LoggedEvent[]): void {
    for (const listener of tail.listeners) {
      try {
        listener(batch);
      } catch (err) {
        this.log.error({ err }, 'event listener failed');
      }
    }
  }

  private read(tail: TenantTail): void {
    if (tail.closed) return;
    if (tail.reading) {
      tail.readAgain = true;
      return;
    }
    tail.reading = true;
    (async () => {
      await tail.ready;
      do {
        tail.readAgain = false;
        let rows: EventRow[];
        do {
          rows = await readEvents(this.db, tail.tenantId, tail.lastSeq, PAGE);
          if (rows.length === 0 || tail.closed) break;
          tail.lastSeq = rows[rows.length - 1].seq;
          tail.heardSeq = Math.max(tail.heardSeq, tail.lastSeq);
          this.hand(tail, toLoggedEvents(tail.tenantId, rows));
        } while (rows.length === PAGE);
      } while (tail.readAgain && !tail.closed);
    })()
      .catch((err) =>
        this.log.error({ err, tenantId: tail.tenantId }, 'reading the event log failed; retrying on the next wake-up'),
      )
      .finally(() => {
        tail.reading = false;
      });
  }
}
