import { expect, vi } from 'vitest';
import type { Db } from '../../src/db/knex.js';

/**
 * Resolves once one statement whose text holds `fragment` waits on a lock (PostgreSQL's `pg_stat_activity`): a change
 * that a test holds up from a second connection has reached the row it holds. PostgreSQL only: the embedded database
 * has one connection, on which the change would wait for ever.
 */
export async function waitingOnLock(db: Db, fragment: string): Promise<void> {
  await vi.waitFor(
    async () => {
      const { rows } = (await db.raw(
        `select count(*)::int as waiting from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock' and query like ?`,
        [`%${fragment}%`],
      )) as { rows: { waiting: number }[] };
      expect(rows[0].waiting).toBe(1);
    },
    { timeout: 10_000, interval: 20 },
  );
}
