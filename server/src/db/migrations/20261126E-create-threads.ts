import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('threads', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('tenantId').notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.string('subject', 200).notNullable();
    t.uuid('patientId');
    t.uuid('createdBy').notNullable();
    t.timestamp('createdAt', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('lastActivityAt', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.foreign(['tenantId', 'patientId']).references(['tenantId', 'id']).inTable('patients');
    t.foreign(['tenantId', 'createdBy']).references(['tenantId', 'id']).inTable('users');
    t.unique(['tenantId', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('threads');
}
