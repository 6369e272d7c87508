import type { Knex } from 'knex';

/**
 * The access audit of every path a patient's record takes to a caller (docs/architecture.md, "Access audit"): through
 * what transport and which field path, under which request, at the instant of the read (written in batches, so `at`
 * is given, not the insert's time). Rows written before this have neither (null). Indexes for the admins' search by
 * clinic and time, by patient (20261126K's), by user and by integration client.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('patientAccessLog', (t) => {
    t.string('transport', 16);
    t.string('through', 500);
    t.string('requestId', 100);
    t.index(['tenantId', 'at', 'id']);
    t.index(['tenantId', 'userId', 'at']);
    t.index(['tenantId', 'integrationClientId', 'at']);
  });
  await knex.raw(
    "alter table patient_access_log add constraint patient_access_log_transport_check check (transport in ('HTTP', 'WEBSOCKET', 'SSE'))",
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table patient_access_log drop constraint patient_access_log_transport_check');
  await knex.schema.alterTable('patientAccessLog', (t) => {
    t.dropIndex(['tenantId', 'at', 'id']);
    t.dropIndex(['tenantId', 'userId', 'at']);
    t.dropIndex(['tenantId', 'integrationClientId', 'at']);
    t.dropColumn('transport');
    t.dropColumn('through');
    t.dropColumn('requestId');
  });
}
