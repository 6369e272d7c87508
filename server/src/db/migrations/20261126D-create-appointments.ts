import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('appointments', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('tenantId').notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.uuid('providerId').notNullable();
    t.uuid('patientId').notNullable();
    t.timestamp('startsAt', { useTz: true }).notNullable();
    t.timestamp('endsAt', { useTz: true }).notNullable();
    t.string('room', 40);
    t.string('reason', 500);
    t.string('status', 16).notNullable().defaultTo('SCHEDULED');
    t.string('cancellationReason', 500);
    t.timestamp('checkedInAt', { useTz: true });
    t.timestamp('createdAt', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updatedAt', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.foreign(['tenantId', 'providerId']).references(['tenantId', 'id']).inTable('users');
    t.foreign(['tenantId', 'patientId']).references(['tenantId', 'id']).inTable('patients');
    t.index(['tenantId', 'startsAt']);
    t.index(['tenantId', 'providerId', 'startsAt']);
    t.index(['tenantId', 'patientId', 'startsAt']);
    t.check('ends_at > starts_at', [], 'appointments_ends_after_starts');
    t.check(
      `status in ('SCHEDULED', 'CHECKED_IN', 'IN_PROGRESS', 'COMPLETED', 'CANCELLED', 'NO_SHOW')`,
      [],
      'appointments_status_check',
    );
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('appointments');
}
