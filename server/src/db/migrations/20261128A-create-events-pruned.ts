import type { Knex } from 'knex';

/**
 * How far each tenant's event log has been pruned (docs/architecture.md, "Retention"): every event with
 * `seq <= throughSeq` is gone, every later one is kept. Written in the same transaction as each delete, so a resume
 * cursor is checked against it exactly with one read. A table of its own, not a column of `event_counters`: writers
 * lock their counter row for their whole transaction, and pruning must never wait on them or make them wait.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('eventsPruned', (t) => {
    t.uuid('tenantId').primary().references('id').inTable('tenants').onDelete('CASCADE');
    t.bigInteger('throughSeq').notNullable();
    t.timestamp('prunedAt', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('eventsPruned');
}
