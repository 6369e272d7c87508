import { firstRow, type Db } from '../../db/knex.js';
import type { IntegrationClientRow } from '../../db/rows.js';
import type { Scope } from '../../auth/scopes.js';
import { isUuid } from '../../validation.js';
import type { ClinicStanding } from '../clinics/standing.js';

/** A client by its id alone: the token endpoint learns the tenant from the client, never from the request. */
export async function integrationClientById(db: Db, id: string): Promise<IntegrationClientRow | undefined> {
  if (!isUuid(id)) return undefined;
  return db<IntegrationClientRow>('integrationClients').where({ id }).first();
}

/** Written out rather than built, as the door's read of a staff token is (domains/identity/data.ts, CLINIC_OF_USER). */
const CLIENT_AT_DOOR = `select c.tenant_id, c.revoked_at, t.disabled_at, t.sessions_ended_at
  from integration_clients c join tenants t on t.id = c.tenant_id where c.id = ? limit 1`;

/**
 * What the door reads of an integration token, in one indexed query: its client's tenant and revocation, and the
 * clinic's standing (domains/clinics/standing.ts). Undefined when there is no such client.
 */
export async function integrationClientAtDoor(
  db: Db,
  id: string,
): Promise<(Pick<IntegrationClientRow, 'tenantId' | 'revokedAt'> & ClinicStanding) | undefined> {
  if (!isUuid(id)) return undefined;
  return firstRow(db, CLIENT_AT_DOOR, [id]);
}

export async function integrationClientsOfTenant(
  db: Db,
  tenantId: string,
  includeRevoked: boolean,
): Promise<IntegrationClientRow[]> {
  const query = db<IntegrationClientRow>('integrationClients')
    .where({ tenantId })
    .orderBy([{ column: 'createdAt' }, { column: 'id' }]);
  if (!includeRevoked) query.whereNull('revokedAt');
  return query;
}

export async function insertIntegrationClient(
  db: Db,
  tenantId: string,
  client: { name: string; scopes: readonly Scope[]; secretHash: string; createdBy: string | null },
): Promise<IntegrationClientRow> {
  const [row] = await db<IntegrationClientRow>('integrationClients')
    .insert({
      tenantId,
      name: client.name,
      scopes: [...client.scopes],
      secretHash: client.secretHash,
      createdBy: client.createdBy,
    })
    .returning('*');
  return row;
}

/**
 * Revokes a client of the tenant; revoking twice keeps the first time. Undefined when the tenant has no such client.
 */
export async function revokeIntegrationClientRow(
  db: Db,
  tenantId: string,
  id: string,
): Promise<IntegrationClientRow | undefined> {
  if (!isUuid(id)) return undefined;
  const [row] = await db<IntegrationClientRow>('integrationClients')
    .where({ tenantId, id })
    .update({ revokedAt: db.raw('coalesce(revoked_at, now())') as unknown as Date })
    .returning('*');
  return row;
}

export async function touchIntegrationClient(db: Db, id: string): Promise<void> {
  await db('integrationClients').where({ id }).update({ lastUsedAt: db.fn.now() });
}

/** Of these client ids, the ones that are revoked or gone. */
export async function inactiveClientIds(db: Db, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const active = await db('integrationClients').whereIn('id', ids).whereNull('revokedAt').pluck('id');
  const live = new Set(active as string[]);
  return new Set(ids.filter((id) => !live.has(id)));
}

/** Clients of one clinic by id (the access audit names the client that read). */
export async function integrationClientsByIds(
  db: Db,
  tenantId: string,
  ids: string[],
): Promise<IntegrationClientRow[]> {
  return db<IntegrationClientRow>('integrationClients').where({ tenantId }).whereIn('id', ids);
}
