import { describe, expect, it } from 'vitest';
import { rowOfJson } from '../src/db/knex.js';
import { useTestServer } from './helpers/setup.js';

const t = useTestServer();

/**
 * A change's statement may return a joined table's rows whole, as JSON (`rowOfJson`): an appointment's lock brings the
 * provider and patient its delivery shows. Such a row must be the row a plain read gives, or a subscriber would be
 * shown something the schedule's query does not show.
 */
describe('rows read as JSON', () => {
  it('are the rows a plain read gives, for the tables a change reads that way', async () => {
    const { db } = t.server.app.services;
    for (const table of ['users', 'patients', 'appointments', 'tenants']) {
      const { rows } = (await db.raw('select to_jsonb(t) as json_of_row, t.* from ?? as t order by t.id', [table])) as {
        rows: Record<string, unknown>[];
      };
      expect(rows.length, table).toBeGreaterThan(0);
      for (const { jsonOfRow, ...plain } of rows) expect(rowOfJson(jsonOfRow), table).toEqual(plain);
    }
  });

  it('relies on a naming rule the schema keeps: its timestamps, and only they, are named …_at', async () => {
    const { db } = t.server.app.services;
    const columns = (await db('information_schema.columns')
      .where({ tableSchema: 'public' })
      .andWhereNot('tableName', 'like', 'knex\\_%') // knex's own migration bookkeeping
      .select('tableName', 'columnName', 'dataType')) as { tableName: string; columnName: string; dataType: string }[];
    const named = (c: { columnName: string }) => /(^|_)at$/.test(c.columnName);
    const misnamed = columns
      .filter((c) => named(c) !== (c.dataType === 'timestamp with time zone'))
      .map((c) => `${c.tableName}.${c.columnName} (${c.dataType})`);
    expect(columns.length).toBeGreaterThan(20);
    expect(misnamed).toEqual([]);
  });

  it('leave a missing row out', () => {
    expect(rowOfJson(null)).toBeUndefined();
  });
});
