import type { Knex } from 'knex';

/**
 * An integration client holding `patients:read` reads patient records too, and every read is audited: an entry of the
 * access log names either the user or the integration client who read, exactly one of them.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('patientAccessLog', (t) => {
    t.uuid('integrationClientId');
    t.foreign(['tenantId', 'integrationClientId']).references(['tenantId', 'id']).inTable('integrationClients');
  });
  await knex.raw('alter table patient_access_log alter column user_id drop not null');
  await knex.raw(
    'alter table patient_access_log add constraint patient_access_log_reader_check check (num_nonnulls(user_id, integration_client_id) = 1)',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex('patientAccessLog').whereNotNull('integrationClientId').delete();
  await knex.raw('alter table patient_access_log drop constraint patient_access_log_reader_check');
  await knex.raw('alter table patient_access_log alter column user_id set not null');
  await knex.schema.alterTable('patientAccessLog', (t) => {
    t.dropForeign(['tenantId', 'integrationClientId']);
    t.dropColumn('integrationClientId');
  });
}
