import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('threadParticipants', (t) => {
    t.uuid('tenantId').notNullable();
    t.uuid('threadId').notNullable();
    t.uuid('userId').notNullable();
    // Everything up to this message sequence number has been read.
    t.bigInteger('lastReadSeq').notNullable().defaultTo(0);
    t.uuid('lastReadMessageId').references('id').inTable('messages').onDelete('SET NULL');
    t.timestamp('lastReadAt', { useTz: true });
    t.primary(['threadId', 'userId']);
    t.foreign(['tenantId', 'threadId']).references(['tenantId', 'id']).inTable('threads').onDelete('CASCADE');
    t.foreign(['tenantId', 'userId']).references(['tenantId', 'id']).inTable('users');
    t.index(['tenantId', 'userId']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('threadParticipants');
}
