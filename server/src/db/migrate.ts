import type { Db } from './knex.js';
import { migrationSource } from './migrations/index.js';

const migrationConfig = { migrationSource, tableName: 'knex_migrations' };

/** Brings the schema up to date; returns the names of the migrations it ran. */
export async function migrateLatest(db: Db): Promise<string[]> {
  const [, applied] = (await db.migrate.latest(migrationConfig)) as [number, string[]];
  return applied;
}

export async function migrateRollback(db: Db): Promise<string[]> {
  const [, reverted] = (await db.migrate.rollback(migrationConfig)) as [number, string[]];
  return reverted;
}
