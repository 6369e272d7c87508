import { ALL_SCOPES, parseScopes } from '../../auth/scopes.js';
import type { Db } from '../../db/knex.js';
import type { IntegrationClientRow } from '../../db/rows.js';
import { badInput } from '../../errors.js';
import { requiredText } from '../../validation.js';
import { insertIntegrationClient } from './data.js';
import { hashClientSecret, newClientSecret } from './secrets.js';

export interface NewIntegrationClient {
  name: string;
  scopes: readonly string[];
  /** The admin creating it; null for the operators' script. */
  createdBy: string | null;
}

/**
 * Creates a client of the tenant with a fresh secret, and returns the secret this once (only its hash is stored).
 * Shared by the admin mutation and `npm run integrations`, so both check the same things.
 */
export async function createIntegrationClient(
  db: Db,
  tenantId: string,
  input: NewIntegrationClient,
): Promise<{ client: IntegrationClientRow; secret: string }> {
  const name = requiredText(input.name, 'name', { max: 120 });
  const { scopes, unknown } = parseScopes(input.scopes);
  if (unknown.length > 0)
    throw badInput(
      `Unknown scope ${unknown.map((s) => `"${s}"`).join(', ')}; the scopes are ${ALL_SCOPES.join(', ')}`,
      'scopes',
    );
  if (scopes.length === 0) throw badInput(`Grant at least one scope: ${ALL_SCOPES.join(', ')}`, 'scopes');
  const secret = newClientSecret();
  const client = await insertIntegrationClient(db, tenantId, {
    name,
    scopes,
    secretHash: hashClientSecret(secret),
    createdBy: input.createdBy,
  });
  return { client, secret };
}
