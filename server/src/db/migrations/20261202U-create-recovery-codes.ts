import type { Knex } from 'knex';

/**
 * One-time recovery codes of a user's second factor, shown once when the factor is confirmed. Only a SHA-256 of each
 * is kept: a code is 80 random bits, so a slow hash adds nothing (as for integration secrets), and the hash is looked
 * up directly.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('recoveryCodes', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('tenantId').notNullable();
    t.uuid('userId').notNullable();
    t.string('codeHash', 64).notNullable();
    t.timestamp('createdAt', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('usedAt', { useTz: true });
    t.foreign(['tenantId', 'userId']).references(['tenantId', 'id']).inTable('users').onDelete('CASCADE');
    t.unique(['tenantId', 'userId', 'codeHash']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('recoveryCodes');
}
