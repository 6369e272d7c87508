import { firstRow, type Db } from '../../db/knex.js';
import type { Role, TenantRow, UserRow } from '../../db/rows.js';
import { isUuid } from '../../validation.js';
import type { ClinicStanding } from '../clinics/standing.js';

export async function tenantBySlug(db: Db, slug: string): Promise<TenantRow | undefined> {
  return db<TenantRow>('tenants').where({ slug }).first();
}

export async function tenantsByIds(db: Db, ids: string[]): Promise<TenantRow[]> {
  return ids.length ? db<TenantRow>('tenants').whereIn('id', ids) : [];
}

export async function userByEmail(db: Db, tenantId: string, email: string): Promise<UserRow | undefined> {
  return db<UserRow>('users').where({ tenantId, email: email.toLowerCase() }).first();
}

/** Whether the user exists in the clinic; an id that is not a UUID is nobody's. */
export async function isUserOfTenant(db: Db, tenantId: string, userId: string): Promise<boolean> {
  if (!isUuid(userId) || !isUuid(tenantId)) return false;
  return (await db('users').where({ tenantId, id: userId }).first('id')) !== undefined;
}

/**
 * What the door reads of a staff token, in one indexed query: its clinic's standing (domains/clinics/standing.ts) when
 * the user is a user of that clinic, undefined otherwise.
 */
export async function clinicOfUser(db: Db, tenantId: string, userId: string): Promise<ClinicStanding | undefined> {
  if (!isUuid(userId) || !isUuid(tenantId)) return undefined;
  return firstRow<ClinicStanding>(db, CLINIC_OF_USER, [tenantId, userId]);
}

/**
 * Written out rather than built by knex's query builder, which the door would run on every request and connection: with
 * the acknowledgement's counter read (events/feed.ts, `latestSeq`) it took a tenth off what a WebSocket allocates while
 * connecting (docs/benchmark-history.md, "Two reads written out").
 */
const CLINIC_OF_USER = `select t.disabled_at, t.sessions_ended_at from users u join tenants t on t.id = u.tenant_id
  where u.tenant_id = ? and u.id = ? limit 1`;

export async function usersByIds(db: Db, tenantId: string, ids: string[]): Promise<UserRow[]> {
  return db<UserRow>('users').where({ tenantId }).whereIn('id', ids);
}

export async function listStaff(db: Db, tenantId: string, role?: Role | null): Promise<UserRow[]> {
  const query = db<UserRow>('users')
    .where({ tenantId })
    .orderBy([{ column: 'name' }, { column: 'id' }]);
  if (role) query.andWhere({ role });
  return query;
}

export async function insertUser(
  db: Db,
  tenantId: string,
  user: Pick<UserRow, 'email' | 'name' | 'role' | 'passwordHash'>,
): Promise<UserRow> {
  const [row] = await db<UserRow>('users')
    .insert({ ...user, tenantId })
    .returning('*');
  return row as UserRow;
}

/** Sets a user's password hash (the caller has checked the password against the rules). */
export async function setPasswordHash(db: Db, tenantId: string, userId: string, passwordHash: string): Promise<void> {
  await db('users').where({ tenantId, id: userId }).update({ passwordHash });
}
