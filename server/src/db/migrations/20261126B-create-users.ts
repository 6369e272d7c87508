import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('users', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('tenantId').notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.string('email', 254).notNullable();
    t.string('name', 120).notNullable();
    t.string('role', 16).notNullable();
    t.text('passwordHash').notNullable();
    t.timestamp('createdAt', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['tenantId', 'email']);
    // Lets other tables reference (tenant, user) so a row can never point at another clinic's user.
    t.unique(['tenantId', 'id']);
    t.check(`role in ('ADMIN', 'PROVIDER', 'NURSE', 'FRONT_DESK')`, [], 'users_role_check');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('users');
}
