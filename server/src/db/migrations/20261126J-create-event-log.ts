import type { Knex } from 'knex';

/**
 * The transactional outbox (docs/architecture.md, invariant 2). `seq` is handed out from the tenant's counter row,
 * which the writing transaction keeps locked until it commits: within a tenant, sequence order is commit order, so a
 * reader that resumes after seq N can never miss a row committed later with a smaller number.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('eventCounters', (t) => {
    t.uuid('tenantId').primary().references('id').inTable('tenants').onDelete('CASCADE');
    t.bigInteger('lastSeq').notNullable().defaultTo(0);
  });
  await knex.schema.createTable('events', (t) => {
    t.uuid('tenantId').notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.bigInteger('seq').notNullable();
    t.string('topic', 32).notNullable();
    t.string('kind', 32).notNullable();
    t.uuid('entityId').notNullable();
    t.uuid('userId');
    t.uuid('threadId');
    t.uuid('providerId');
    t.jsonb('data').notNullable().defaultTo('{}');
    t.timestamp('occurredAt', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['tenantId', 'seq']);
    t.index(['tenantId', 'topic', 'seq']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('events');
  await knex.schema.dropTable('eventCounters');
}
