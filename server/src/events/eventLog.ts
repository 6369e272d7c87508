import type { Trx } from '../db/knex.js';
import type { EventRow } from '../db/rows.js';
import { badInput } from '../errors.js';

/** What the durable event log records, and the kinds of each. */
export const EventTopic = {
  appointment: ['CREATED', 'UPDATED', 'CANCELLED', 'CHECKED_IN'],
  message: ['ADDED'],
  readReceipt: ['READ'],
  notification: ['CREATED', 'READ'],
  task: ['ASSIGNED', 'COMPLETED'],
} as const;
export type EventTopic = keyof typeof EventTopic;
export type EventKind<T extends EventTopic> = (typeof EventTopic)[T][number];

export type NewEvent = {
  [T in EventTopic]: {
    topic: T;
    kind: EventKind<T>;
    entityId: string;
    userId?: string | null;
    threadId?: string | null;
    providerId?: string | null;
    /** Small non-PHI facts only: never message bodies or diagnoses. */
    data?: Record<string, unknown>;
  };
}[EventTopic];

/**
 * Appends events to the tenant's log inside the caller's transaction.
 *
 * The tenant's counter row is incremented first and stays locked until the transaction ends, so two writers of one
 * tenant take turns and sequence numbers become visible in the order they were handed out (commit order). A plain
 * global sequence would not give that: a transaction holding seq 7 can commit after one holding seq 8, and a reader
 * resuming "after 8" would skip 7 forever.
 */
export async function appendEvents(trx: Trx, tenantId: string, events: NewEvent[]): Promise<EventRow[]> {
  if (events.length === 0) return [];
  const [{ lastSeq }] = (await trx('eventCounters')
    .insert({ tenantId, lastSeq: events.length })
    .onConflict('tenantId')
    .merge({ lastSeq: trx.raw('event_counters.last_seq + ?', [events.length]) })
    .returning('lastSeq')) as { lastSeq: number }[];
  const first = Number(lastSeq) - events.length + 1;
  const rows = events.map((e, i) => ({
    tenantId,
    seq: first + i,
    topic: e.topic,
    kind: e.kind,
    entityId: e.entityId,
    userId: e.userId ?? null,
    threadId: e.threadId ?? null,
    providerId: e.providerId ?? null,
    data: JSON.stringify(e.data ?? {}),
  }));
  return (await trx('events').insert(rows).returning('*')) as EventRow[];
}

/**
 * Event cursors are opaque to clients: base64url of `e1:<tenant>:<seq>`. The tenant is inside so that a cursor from
 * another clinic is refused rather than silently read against this clinic's log.
 */
export function eventCursor(tenantId: string, seq: number): string {
  return Buffer.from(`e1:${tenantId}:${seq}`).toString('base64url');
}

export function parseEventCursor(tenantId: string, cursor: string, field = 'after'): number {
  const [version, owner, seqText] = Buffer.from(cursor, 'base64url').toString('utf8').split(':');
  const seq = Number(seqText);
  if (version !== 'e1' || owner !== tenantId || !Number.isSafeInteger(seq) || seq < 0) {
    throw badInput(`${field} is not an event cursor of your clinic`, field);
  }
  return seq;
}
