import { appendEvents, type NewEvent } from '../events/eventLog.js';
import type { Logger } from '../logger.js';
import type { EventRow } from './rows.js';
import type { Db, Trx } from './knex.js';

export type RecordEvents = (events: NewEvent[]) => Promise<EventRow[]>;

/** What a change needs of its operation (an operation's `Context` is one): the database, a log, who hears commits. */
export interface ChangeContext {
  db: Db;
  log: Logger;
  services: { onEventsCommitted: ReadonlyArray<(tenantId: string, events: EventRow[]) => void> };
}

/**
 * Runs a change and the events it raises in one transaction (the transactional outbox): both commit, or neither.
 * Listeners hear of the events only after the commit.
 */
export async function commitChange<T>(
  ctx: ChangeContext,
  tenantId: string,
  change: (trx: Trx, record: RecordEvents) => Promise<T>,
): Promise<T> {
  const written: EventRow[] = [];
  const result = await ctx.db.transaction(async (trx) =>
    change(trx, async (events) => {
      const rows = await appendEvents(trx, tenantId, events);
      written.push(...rows);
      return rows;
    }),
  );
  if (written.length > 0) {
    for (const listener of ctx.services.onEventsCommitted) {
      try {
        listener(tenantId, written);
      } catch (err) {
        ctx.log.error({ err }, 'event listener failed after commit');
      }
    }
  }
  return result;
}
