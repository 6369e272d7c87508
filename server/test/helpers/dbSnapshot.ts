import type { Db } from '../../src/db/knex.js';

/** Every table the API writes, each with an order that makes a read of it deterministic. */
const TABLES: Record<string, string[]> = {
  tenants: ['id'],
  users: ['id'],
  patients: ['id'],
  appointments: ['id'],
  threads: ['id'],
  messages: ['seq'],
  threadParticipants: ['threadId', 'userId'],
  tasks: ['id'],
  notifications: ['id'],
  eventCounters: ['tenantId'],
  events: ['tenantId', 'seq'],
  patientAccessLog: ['id'],
};

export type Snapshot = Record<string, unknown[]>;

/**
 * Every row of every table the API writes, optionally only one clinic's. Compare two snapshots with `toEqual` to
 * show that an operation wrote nothing at all (no partial write, no event, no audit row).
 */
export async function snapshotRows(db: Db, tenantId?: string): Promise<Snapshot> {
  const snapshot: Snapshot = {};
  for (const [table, order] of Object.entries(TABLES)) {
    const query = db(table).orderBy(order.map((column) => ({ column })));
    if (tenantId) query.where(table === 'tenants' ? { id: tenantId } : { tenantId });
    snapshot[table] = await query;
  }
  return snapshot;
}

/** The newest event sequence number of a clinic (0 before its first event). */
export async function lastEventSeq(db: Db, tenantId: string): Promise<number> {
  const row = await db('events').where({ tenantId }).max('seq as seq').first();
  return Number(row?.seq ?? 0);
}

/** The events a clinic logged after `seq`, oldest first. */
export async function eventsAfter(db: Db, tenantId: string, seq: number) {
  return db('events').where({ tenantId }).andWhere('seq', '>', seq).orderBy('seq');
}
