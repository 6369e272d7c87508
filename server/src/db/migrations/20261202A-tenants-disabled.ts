import type { Knex } from 'knex';

/**
 * A clinic can be disabled by the operators (`npm run clinics -- disable`): its tokens are refused on every transport
 * and sign-in to it is refused while `disabledAt` is set. `sessionsEndedAt` is when it was last disabled: a session
 * that started before it stays over once the clinic is enabled again (docs/architecture.md, "Clinics").
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tenants', (t) => {
    t.timestamp('disabledAt', { useTz: true });
    t.timestamp('sessionsEndedAt', { useTz: true });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tenants', (t) => {
    t.dropColumn('disabledAt');
    t.dropColumn('sessionsEndedAt');
  });
}
