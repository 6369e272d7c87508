import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('messages', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.bigIncrements('seq', { primaryKey: false }).notNullable().unique();
    t.uuid('tenantId').notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.uuid('threadId').notNullable();
    t.uuid('senderId').notNullable();
    t.text('body').notNullable();
    t.timestamp('createdAt', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.foreign(['tenantId', 'threadId']).references(['tenantId', 'id']).inTable('threads').onDelete('CASCADE');
    t.foreign(['tenantId', 'senderId']).references(['tenantId', 'id']).inTable('users');
    t.index(['threadId', 'seq']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('messages');
}
