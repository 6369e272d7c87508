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
 * The common table expressions that append events to a tenant's log, for the end of a `with` whose earlier part
 * defines the events as a relation `e (ord, topic, kind, entity_id, user_id, thread_id, provider_id, data)`, `ord`
 * numbering them from 1: `counter` increments the tenant's counter row by their number (none: no increment) and
 * `appended` inserts them numbered from it, for the statement to return (`select * from appended`). One binding: the
 * tenant id. A row's seq is the new last_seq minus the events after it.
 *
 * The counter row stays locked until the transaction ends, so two writers of one tenant take turns and sequence
 * numbers become visible in the order they were handed out (commit order). A plain global sequence would not give
 * that: a transaction holding seq 7 can commit after one holding seq 8, and a reader resuming "after 8" would skip 7
 * forever. `appendEvents` runs it on a list of events; a change that writes its row and its event in one statement
 * defines `e` from the rows it wrote (domains/appointments/data.ts), its event then numbered in that statement
 * (docs/architecture.md, "The path of an event", step 2).
 */
export const APPEND_EVENTS = `counter as (
       insert into event_counters (tenant_id, last_seq) select ?::uuid, count(*) from e having count(*) > 0
       on conflict (tenant_id) do update set last_seq = event_counters.last_seq + excluded.last_seq
       returning tenant_id, last_seq
     ),
     appended as (
       insert into events (tenant_id, seq, topic, kind, entity_id, user_id, thread_id, provider_id, data)
       select counter.tenant_id, counter.last_seq - (select count(*) from e) + e.ord, e.topic, e.kind, e.entity_id,
         e.user_id, e.thread_id, e.provider_id, e.data
       from counter, e
       returning *
     )`;

/**
 * Appends events to the tenant's log inside the caller's transaction, in one statement: one round trip, the counter's
 * increment and the rows numbered from it (`APPEND_EVENTS`).
 */
export async function appendEvents(trx: Trx, tenantId: string, events: NewEvent[]): Promise<EventRow[]> {
  if (events.length === 0) return [];
  const row = '(?::int, ?::text, ?::text, ?::uuid, ?::uuid, ?::uuid, ?::uuid, ?::jsonb)';
  const values = events.flatMap((e, i) => [
    i + 1,
    e.topic,
    e.kind,
    e.entityId,
    e.userId ?? null,
    e.threadId ?? null,
    e.providerId ?? null,
    JSON.stringify(e.data ?? {}),
  ]);
  const { rows } = (await trx.raw(
    `with e (ord, topic, kind, entity_id, user_id, thread_id, provider_id, data) as (
       values ${events.map(() => row).join(', ')}
     ),
     ${APPEND_EVENTS}
     select * from appended`,
    [...values, tenantId],
  )) as { rows: EventRow[] };
  return rows.sort((a, b) => a.seq - b.seq);
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
