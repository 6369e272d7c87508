import type { Knex } from 'knex';

/** Whether the clinic's admin requires a second factor of every staff member at sign-in (off unless set). */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tenants', (t) => {
    t.boolean('secondFactorRequired').notNullable().defaultTo(false);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tenants', (t) => {
    t.dropColumn('secondFactorRequired');
  });
}
