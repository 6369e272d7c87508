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

/**
 * Notes events that a change's own statement appended to the log already (`APPEND_EVENTS`, eventLog.ts), with the
 * rows their delivery may take as read: the change's listeners hear of them with the rest after the commit.
 */
export type RecordAppended = (events: readonly EventRow[], rows?: CommittedRows) => void;

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
 * (docs/architecture.md, "The path of an event", step 2). A change may instead append its events in the statement
 * that writes its rows, and note them with `appended`. Listeners hear of the events only after the commit.
 */
export async function commitChange<T>(
  ctx: ChangeContext,
  tenantId: string,
  change: (trx: Trx, record: RecordEvents, appended: RecordAppended) => Promise<T>,
): Promise<T> {
  const raised: NewEvent[] = [];
  const committed: CommittedRows[] = [];
  const written: EventRow[] = [];
  const result = await ctx.db.transaction(async (trx) => {
    const changed = await change(
      trx,
      (events, rows) => {
        raised.push(...events);
        if (rows) committed.push(rows);
      },
      (events, rows) => {
        written.push(...events);
        if (rows) committed.push(rows);
      },
    );
    written.push(...(await appendEvents(trx, tenantId, raised)));
    return changed;
  });
  announceCommitted(ctx, tenantId, written, committed);
  return result;
}

/**
 * A change that is one statement, its events appended by that statement too (`APPEND_EVENTS`): it commits on its own,
 * with no transaction around it, which spares the change the round trips of BEGIN and COMMIT and a separate append
 * (docs/architecture.md, "The path of an event", step 2). `write` runs the statement and gives what it appended with
 * the rows their delivery may take as read, or undefined when it wrote nothing; listeners then hear of the events as
 * `commitChange`'s do.
 */
export async function commitStatement<T>(
  ctx: ChangeContext,
  tenantId: string,
  write: (db: Db) => Promise<{ result: T; events: EventRow[]; rows: CommittedRows } | undefined>,
): Promise<T | undefined> {
  const written = await write(ctx.db);
  if (!written) return undefined;
  announceCommitted(ctx, tenantId, written.events, [written.rows]);
  return written.result;
}

/** Tells the listeners of committed events, in the order of the log; one that throws is logged, not the change's. */
function announceCommitted(
  ctx: ChangeContext,
  tenantId: string,
  events: EventRow[],
  committed: readonly CommittedRows[],
): void {
  if (events.length === 0) return;
  events.sort((a, b) => a.seq - b.seq);
  for (const listener of ctx.services.onEventsCommitted) {
    try {
      listener(tenantId, events, committed);
    } catch (err) {
      ctx.log.error({ err }, 'event listener failed after commit');
    }
  }
}
