import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('patients', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('tenantId').notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.string('mrn', 40).notNullable();
    t.string('firstName', 100).notNullable();
    t.string('lastName', 100).notNullable();
    t.date('dateOfBirth').notNullable();
    t.string('phone', 40);
    t.string('email', 254);
    t.timestamp('createdAt', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['tenantId', 'mrn']);
    t.unique(['tenantId', 'id']);
    t.index(['tenantId', 'lastName', 'firstName', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('patients');
}
