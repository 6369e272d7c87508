import { appendEvents, type NewEvent } from './eventLog.js';
import type { Logger } from '../logger.js';
import type {
  AppointmentRow,
  EventRow,
  MessageRow,
  NotificationRow,
  PatientRow,
  ReadStateRow,
  ThreadRow,
  UserRow,
} from '../db/rows.js';
import type { Db, Trx } from '../db/knex.js';

/**
 * Rows a change wrote or locked, as they are at its commit, named as the tenant loader that reads each kind
 * (loaders.ts). The events' delivery on the committing instance starts from them instead of reading them back
 * (subscriptions/feedItems.ts).
 */
export interface CommittedRows {
  appointment?: AppointmentRow[];
  user?: UserRow[];
  patient?: PatientRow[];
  message?: MessageRow[];
  /** A thread's newest message as the change left it, one per thread (a message's post: messaging/data.ts). */
  lastMessage?: MessageRow[];
  notification?: NotificationRow[];
  thread?: ThreadRow[];
  /** Every participant's read state of a thread, all of them (the `readStates` loader answers by thread). */
  readStates?: ReadStateRow[];
}

/**
 * Raises events of a change, with `rows`, what their delivery may take as read. They are appended to the log when the
 * change is done, in its transaction (`commitChange`).
 */
export type RecordEvents = (events: NewEvent[], rows?: CommittedRows) => void;

export type EventsCommitted = (tenantId: string, events: EventRow[], rows: readonly CommittedRows[]) => void;

/** What a change needs of its operation (an operation's `Context` is one): the database, a log, who hears commits. */
export interface ChangeContext {
  db: Db;
  log: Logger;
  services: { onEventsCommitted: readonly EventsCommitted[] };
}

/**
 * Runs a change and the events it raises in one transaction (the transactional outbox): both commit, or neither.
 * The events the change recorded, however many times it called `record`, are appended once it is done, in one
 * statement just before the commit: one round trip, and the clinic's counter row locked only from there to the commit
 * (docs/architecture.md, "The path of an event", step 2). Listeners hear of the events only after the commit.
 */
export async function commitChange<T>(
  ctx: ChangeContext,
  tenantId: string,
  change: (trx: Trx, record: RecordEvents) => Promise<T>,
): Promise<T> {
  const raised: NewEvent[] = [];
  const committed: CommittedRows[] = [];
  let written: EventRow[] = [];
  const result = await ctx.db.transaction(async (trx) => {
    const changed = await change(trx, (events, rows) => {
      raised.push(...events);
      if (rows) committed.push(rows);
    });
    written = await appendEvents(trx, tenantId, raised);
    return changed;
  });
  if (written.length > 0) {
    for (const listener of ctx.services.onEventsCommitted) {
      try {
        listener(tenantId, written, committed);
      } catch (err) {
        ctx.log.error({ err }, 'event listener failed after commit');
      }
    }
  }
  return result;
}
