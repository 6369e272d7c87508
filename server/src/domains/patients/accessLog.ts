import { LocalDateResolver } from 'graphql-scalars';
import type { Db } from '../../db/knex.js';
import type { PatientAccessRow } from '../../db/rows.js';
import { badInput } from '../../errors.js';
import { decodeCursor, encodeCursor, isUuid, pageSize } from '../../validation.js';

/**
 * The admins' search of the access audit (`patientAccessLog`, and its CSV at `/audit/patient-access.csv`): the same
 * filters, checked the same way, for both.
 */
export interface AccessLogFilter {
  patientId: string | null;
  userId: string | null;
  integrationClientId: string | null;
  /** First day included, `YYYY-MM-DD` in the clinic's zone. */
  from: string | null;
  /** Last day included. */
  to: string | null;
}

export interface AccessLogInput {
  patientId?: string | null;
  userId?: string | null;
  integrationClientId?: string | null;
  from?: string | null;
  to?: string | null;
}

/**
 * A real calendar day, checked by the LocalDate scalar's own parser (graphql-scalars): the API's arguments have been
 * through it already; the CSV's query string comes here as it was typed.
 */
function day(value: string | null | undefined, field: string): string | null {
  if (value === null || value === undefined || value === '') return null;
  try {
    LocalDateResolver.parseValue(value);
  } catch {
    throw badInput(`${field} must be a day written YYYY-MM-DD`, field);
  }
  return value;
}

function id(value: string | null | undefined, field: string): string | null {
  if (value === null || value === undefined || value === '') return null;
  if (!isUuid(value)) throw badInput(`${field} is not an id`, field);
  return value;
}

/** The filter of a search, or BAD_USER_INPUT naming the field at fault. */
export function accessLogFilter(input: AccessLogInput): AccessLogFilter {
  const filter = {
    patientId: id(input.patientId, 'patientId'),
    userId: id(input.userId, 'userId'),
    integrationClientId: id(input.integrationClientId, 'integrationClientId'),
    from: day(input.from, 'from'),
    to: day(input.to, 'to'),
  };
  if (filter.from && filter.to && filter.from > filter.to) throw badInput('from must not be after to', 'to');
  return filter;
}

export const ACCESS_LOG_PAGE = { fallback: 50, max: 200 };

export function accessLogPageSize(first: number | null | undefined): number {
  return pageSize(first, 'first', ACCESS_LOG_PAGE.fallback, ACCESS_LOG_PAGE.max);
}

/** Position after an entry: its instant (as PostgreSQL wrote it, to the microsecond) and its id. */
export type AccessLogPosition = [string, number];

export function accessLogPosition(cursor: string | null | undefined, field = 'after'): AccessLogPosition | null {
  if (cursor === null || cursor === undefined) return null;
  const [at, entryId] = decodeCursor(cursor, field, 2);
  if (typeof at !== 'string' || Number.isNaN(Date.parse(at)) || !Number.isSafeInteger(entryId)) {
    throw badInput(`${field} is not a cursor this API gave out`, field);
  }
  return [at, entryId as number];
}

export type AccessLogEntry = PatientAccessRow & { position: string };

/**
 * One page of a clinic's entries, newest first (`limit` rows after `after`). Days are the clinic's: a day starts at
 * midnight in its zone, whatever the offset that day.
 */
export async function readAccessLog(
  db: Db,
  tenantId: string,
  timeZone: string,
  filter: AccessLogFilter,
  limit: number,
  after: AccessLogPosition | null,
): Promise<AccessLogEntry[]> {
  const query = db('patientAccessLog')
    .where({ tenantId })
    .select('*', db.raw(`to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as position`))
    .orderBy([
      { column: 'at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ])
    .limit(limit);
  if (filter.patientId) query.andWhere({ patientId: filter.patientId });
  if (filter.userId) query.andWhere({ userId: filter.userId });
  if (filter.integrationClientId) query.andWhere({ integrationClientId: filter.integrationClientId });
  if (filter.from) query.andWhereRaw('at >= (?::date)::timestamp at time zone ?', [filter.from, timeZone]);
  if (filter.to) query.andWhereRaw('at < (?::date + 1)::timestamp at time zone ?', [filter.to, timeZone]);
  if (after) query.andWhereRaw('(at, id) < (?::timestamptz, ?)', after);
  return query as Promise<AccessLogEntry[]>;
}

export const cursorOfEntry = (entry: AccessLogEntry): string => encodeCursor([entry.position, entry.id]);
