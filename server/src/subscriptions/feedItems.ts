import type { Db } from '../db/knex.js';
import type { EventRow } from '../db/rows.js';
import type { CommittedRows } from '../events/outbox.js';
import type { LoggedEvent } from '../events/feed.js';
import { createTenantLoaders, groupRows, type TenantLoaders } from '../loaders.js';

/** One event of the log as a subscription's resolvers receive it. */
export interface FeedItem extends LoggedEvent {
  /** Tenant loaders shared by every subscriber of this batch: what they all select is read once. */
  loaders: TenantLoaders;
}

const shared = new WeakMap<readonly LoggedEvent[], FeedItem[]>();

/** The rows that changes committed on this instance wrote with their events (`primeDelivery`), by event. */
const committedRows = new WeakMap<EventRow, readonly CommittedRows[]>();

/**
 * Hands the rows a change committed to its events' delivery on this instance: the feed passes the committed events
 * on as they are (events/feed.ts, `announce`), and the loaders of their batch then start with these rows instead of
 * reading them back. Events read from the log (another instance's, or after a gap) have none: their rows are read.
 */
export function primeDelivery(events: readonly EventRow[], rows: readonly CommittedRows[]): void {
  if (rows.length === 0) return;
  for (const event of events) committedRows.set(event, rows);
}

function prime(loaders: TenantLoaders, sets: readonly CommittedRows[]): void {
  for (const rows of sets) {
    for (const row of rows.appointment ?? []) loaders.appointment.prime(row.id, row);
    for (const row of rows.user ?? []) loaders.user.prime(row.id, row);
    for (const row of rows.patient ?? []) loaders.patient.prime(row.id, row);
    for (const row of rows.message ?? []) loaders.message.prime(row.id, row);
    for (const row of rows.lastMessage ?? []) loaders.lastMessage.prime(row.threadId, row);
    for (const row of rows.notification ?? []) loaders.notification.prime(row.id, row);
    for (const row of rows.thread ?? []) loaders.thread.prime(row.id, row);
    if (rows.readStates)
      for (const [threadId, states] of groupRows(rows.readStates, 'threadId'))
        loaders.readStates.prime(threadId, states);
  }
}

/**
 * The events of one batch with one set of tenant loaders for all of them. The feed hands the same batch to every
 * listener of a tenant's tail, so every group and stream on this instance that hears it reads through the same
 * loaders (docs/architecture.md, invariant 4). The event core knows no loaders; they are added here, above it.
 */
export function feedItems(db: Db, tenantId: string, batch: readonly LoggedEvent[]): FeedItem[] {
  let items = shared.get(batch);
  if (!items) {
    const loaders = createTenantLoaders(db, tenantId);
    // The events of one commit are next to each other and share their rows.
    let primed: readonly CommittedRows[] | undefined;
    for (const { event } of batch) {
      const rows = committedRows.get(event);
      if (rows && rows !== primed) prime(loaders, (primed = rows));
    }
    items = batch.map((logged) => ({ ...logged, loaders }));
    shared.set(batch, items);
  }
  return items;
}
