import type { Db } from '../../db/knex.js';
import type { TenantRow } from '../../db/rows.js';
import type { ClinicStanding } from './standing.js';

/** A clinic as the operators list it: with its number of staff accounts. */
export interface ClinicSummary extends TenantRow {
  staff: number;
}

export async function insertTenant(db: Db, tenant: Pick<TenantRow, 'slug' | 'name' | 'timeZone'>): Promise<TenantRow> {
  const [row] = await db<TenantRow>('tenants').insert(tenant).returning('*');
  return row as TenantRow;
}

/** Every clinic, oldest first, with its number of staff accounts (one query). */
export async function clinicSummaries(db: Db): Promise<ClinicSummary[]> {
  const rows = (await db('tenants')
    .leftJoin('users', 'users.tenantId', 'tenants.id')
    .groupBy('tenants.id')
    .orderBy([{ column: 'tenants.createdAt' }, { column: 'tenants.slug' }])
    .select('tenants.*', db.raw('count(users.id)::int as staff'))) as ClinicSummary[];
  return rows;
}

/**
 * Disables the clinic: `disabledAt` keeps the first time, `sessionsEndedAt` is now (every session that started before
 * it is over). Undefined when no clinic has the slug.
 */
export async function disableTenant(db: Db, slug: string): Promise<TenantRow | undefined> {
  const [row] = await db<TenantRow>('tenants')
    .where({ slug })
    .update({
      disabledAt: db.raw('coalesce(disabled_at, now())') as unknown as Date,
      sessionsEndedAt: db.fn.now() as unknown as Date,
    })
    .returning('*');
  return row;
}

/** Enables the clinic again (its earlier sessions stay over). Undefined when no clinic has the slug. */
export async function enableTenant(db: Db, slug: string): Promise<TenantRow | undefined> {
  const [row] = await db<TenantRow>('tenants').where({ slug }).update({ disabledAt: null }).returning('*');
  return row;
}

/**
 * The standing of those of these clinics that were ever disabled (the others admit every token): one query, for the
 * periodic check of live connections.
 */
export async function standingsOfDisabled(db: Db, ids: readonly string[]): Promise<Map<string, ClinicStanding>> {
  if (ids.length === 0) return new Map();
  const rows = (await db('tenants')
    .whereIn('id', ids)
    .whereNotNull('sessionsEndedAt')
    .select('id', 'disabledAt', 'sessionsEndedAt')) as Array<ClinicStanding & { id: string }>;
  return new Map(rows.map(({ id, ...standing }) => [id, standing]));
}
