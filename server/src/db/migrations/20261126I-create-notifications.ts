import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('notifications', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('tenantId').notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.uuid('userId').notNullable();
    t.string('kind', 16).notNullable();
    t.string('priority', 8).notNullable().defaultTo('NORMAL');
    t.string('title', 200).notNullable();
    t.uuid('taskId');
    t.uuid('threadId');
    t.uuid('patientId');
    t.timestamp('readAt', { useTz: true });
    t.timestamp('createdAt', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.foreign(['tenantId', 'userId']).references(['tenantId', 'id']).inTable('users');
    t.foreign(['tenantId', 'taskId']).references(['tenantId', 'id']).inTable('tasks').onDelete('CASCADE');
    t.foreign(['tenantId', 'threadId']).references(['tenantId', 'id']).inTable('threads').onDelete('CASCADE');
    t.foreign(['tenantId', 'patientId']).references(['tenantId', 'id']).inTable('patients');
    t.index(['tenantId', 'userId', 'createdAt']);
    t.check(`kind in ('TASK_ASSIGNED', 'ALERT', 'LAB_RESULT', 'NEW_MESSAGE')`, [], 'notifications_kind_check');
    t.check(`priority in ('LOW', 'NORMAL', 'HIGH', 'URGENT')`, [], 'notifications_priority_check');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('notifications');
}
