import type { Knex } from 'knex';

const KINDS = ['TASK_ASSIGNED', 'ALERT', 'LAB_RESULT', 'NEW_MESSAGE'];

function kindCheck(kinds: string[]): string {
  return `alter table notifications add constraint notifications_kind_check check (kind in (${kinds.map((k) => `'${k}'`).join(', ')}))`;
}

/** Admins are told when a staff member's sign-in is locked after failed password attempts (auth/throttle.ts). */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table notifications drop constraint notifications_kind_check');
  await knex.raw(kindCheck([...KINDS, 'ACCOUNT_LOCKED']));
}

export async function down(knex: Knex): Promise<void> {
  await knex('notifications').where({ kind: 'ACCOUNT_LOCKED' }).delete();
  await knex.raw('alter table notifications drop constraint notifications_kind_check');
  await knex.raw(kindCheck(KINDS));
}
