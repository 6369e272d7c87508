import type { Knex } from 'knex';

/**
 * A staff member's TOTP authenticator (RFC 6238; docs/architecture.md, "Second factor"). One row per user: pending
 * while `confirmedAt` is null (enrolment started, no code proven yet), active once confirmed. The secret is stored as
 * given to the authenticator app (base32), not encrypted: the deployment has no key facility yet (JWT_SECRET signs
 * tokens and may be rotated, so it cannot also be the key of stored secrets).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('secondFactors', (t) => {
    t.uuid('tenantId').notNullable();
    t.uuid('userId').notNullable();
    t.string('secret', 64).notNullable();
    t.timestamp('createdAt', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('confirmedAt', { useTz: true });
    // The newest time step a code was accepted for: a code of that step or an earlier one is refused (no replay).
    t.bigInteger('lastUsedStep');
    t.primary(['tenantId', 'userId']);
    t.foreign(['tenantId', 'userId']).references(['tenantId', 'id']).inTable('users').onDelete('CASCADE');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('secondFactors');
}
