import type { Knex } from 'knex';

/** Integration clients of a clinic: OAuth 2.0 client credentials with scopes (docs/integrators.md). */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('integrationClients', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('tenantId').notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.string('name', 120).notNullable();
    t.specificType('scopes', 'text[]').notNullable();
    // The secret is shown once and never stored: only its SHA-256 (it is 256 random bits, so a slow hash adds nothing).
    t.string('secretHash', 64).notNullable();
    // Null when an operator created the client with `npm run integrations`.
    t.uuid('createdBy');
    t.timestamp('createdAt', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('lastUsedAt', { useTz: true });
    t.timestamp('revokedAt', { useTz: true });
    // Lets other tables reference (tenant, client) so a row can never point at another clinic's client.
    t.unique(['tenantId', 'id']);
    t.foreign(['tenantId', 'createdBy']).references(['tenantId', 'id']).inTable('users');
    t.index(['tenantId', 'createdAt']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('integrationClients');
}
