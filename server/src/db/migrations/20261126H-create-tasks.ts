import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('tasks', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('tenantId').notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.string('title', 200).notNullable();
    t.string('details', 2000);
    t.string('priority', 8).notNullable().defaultTo('NORMAL');
    t.string('status', 12).notNullable().defaultTo('OPEN');
    t.timestamp('dueAt', { useTz: true });
    t.uuid('patientId');
    t.uuid('assigneeId').notNullable();
    t.uuid('createdBy').notNullable();
    t.timestamp('createdAt', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('completedAt', { useTz: true });
    t.foreign(['tenantId', 'patientId']).references(['tenantId', 'id']).inTable('patients');
    t.foreign(['tenantId', 'assigneeId']).references(['tenantId', 'id']).inTable('users');
    t.foreign(['tenantId', 'createdBy']).references(['tenantId', 'id']).inTable('users');
    t.unique(['tenantId', 'id']);
    t.index(['tenantId', 'assigneeId', 'status', 'createdAt']);
    t.check(`priority in ('LOW', 'NORMAL', 'HIGH', 'URGENT')`, [], 'tasks_priority_check');
    t.check(`status in ('OPEN', 'COMPLETED')`, [], 'tasks_status_check');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('tasks');
}
