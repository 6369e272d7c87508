import type { Knex } from 'knex';

/** Who opened which patient's record, and when (docs/architecture.md, invariant 6). */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('patientAccessLog', (t) => {
    t.bigIncrements('id');
    t.uuid('tenantId').notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.uuid('patientId').notNullable();
    t.uuid('userId').notNullable();
    t.string('action', 32).notNullable();
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.foreign(['tenantId', 'patientId']).references(['tenantId', 'id']).inTable('patients').onDelete('CASCADE');
    t.foreign(['tenantId', 'userId']).references(['tenantId', 'id']).inTable('users');
    t.index(['tenantId', 'patientId', 'at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('patientAccessLog');
}
