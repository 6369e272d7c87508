import { randomBytes } from 'node:crypto';
import { appendFileSync, cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import knexPkg from 'knex';
import { createDb, type Db } from '../../src/db/knex.js';
import { migrateLatest } from '../../src/db/migrate.js';
import { DEMO_CLINICS, seedDemoIfEmpty } from '../../src/db/seeds/demo.js';
import { ADMIN_DATABASE_URL, TEST_PASSWORD_HASH_COST } from './services.js';

/**
 * Migrating and seeding a database costs seconds (PGlite's initdb alone takes 3-8 s; the seed hashes a password), and
 * every test file needs a fresh one. So the run prepares one seeded template per engine, once, in the global set-up,
 * and each test database is a copy: `CREATE DATABASE … TEMPLATE` on PostgreSQL, a copied data directory for PGlite.
 *
 * The set-up runs in vitest's main process; the test workers and the server processes they spawn inherit these
 * variables from it.
 */
const ENV = {
  postgres: 'DERM_TEST_PG_TEMPLATE',
  pglite: 'DERM_TEST_PGLITE_TEMPLATE',
  seededDays: 'DERM_TEST_SEEDED_DAYS',
} as const;

/**
 * Where copies go: memory-backed when the machine has /dev/shm, so a copied database is as fast as an in-memory one.
 */
const SCRATCH = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();

/** The test databases' buffer pool: they hold a few MB. */
const TEST_PGLITE_CONF = 'shared_buffers = 16MB';

/** The demo seed books "today" in each clinic's zone: the days it saw, to tell whether a template is still current. */
function clinicDays(): string {
  return DEMO_CLINICS.map((c) => new Intl.DateTimeFormat('en-CA', { timeZone: c.timeZone }).format(new Date())).join(
    ',',
  );
}

/** Migrates a database and loads the demo clinics: a template, or a database made when none is current. */
export async function seedDemoDatabase(db: Db): Promise<void> {
  await migrateLatest(db);
  await seedDemoIfEmpty(db, TEST_PASSWORD_HASH_COST);
}

/** Creates both templates; resolves with a function that removes them. */
export async function prepareTemplates(): Promise<() => Promise<void>> {
  const days = clinicDays();
  const name = `derm_template_${randomBytes(6).toString('hex')}`;
  const admin = knexPkg.knex({ client: 'pg', connection: ADMIN_DATABASE_URL, pool: { min: 0, max: 1 } });
  const dir = mkdtempSync(path.join(SCRATCH, 'derm-template-'));
  const pgliteDir = path.join(dir, 'pglite');
  const postgres = (async () => {
    await admin.raw(`create database ${name}`);
    const url = new URL(ADMIN_DATABASE_URL);
    url.pathname = `/${name}`;
    const db = createDb({ databaseUrl: url.toString() });
    try {
      await seedDemoDatabase(db);
    } finally {
      await db.destroy();
    }
  })();
  const pglite = (async () => {
    const db = createDb({ embeddedDir: pgliteDir });
    try {
      await seedDemoDatabase(db);
      await db.raw('checkpoint');
    } finally {
      await db.destroy();
    }
    // Every copy starts a PostgreSQL of its own in WebAssembly, which zeroes its buffer pool at start: 128 MB by
    // default, about a third of a start's CPU (page faults) for databases of a few MB. Each copy reads this at start.
    appendFileSync(path.join(pgliteDir, 'postgresql.conf'), `\n${TEST_PGLITE_CONF}\n`);
  })();
  await Promise.all([postgres, pglite]);
  process.env[ENV.postgres] = name;
  process.env[ENV.pglite] = pgliteDir;
  process.env[ENV.seededDays] = days;
  return async () => {
    rmSync(dir, { recursive: true, force: true });
    await admin.raw(`drop database if exists ${name} with (force)`);
    await admin.destroy();
  };
}

/**
 * The template of an engine, if the global set-up made one and the clinics' "today" is still the day it was seeded
 * (a run that crosses a clinic's midnight seeds afresh from then on, as the demo seed would at that moment).
 */
export function currentTemplate(engine: 'postgres' | 'pglite'): string | null {
  const template = process.env[engine === 'postgres' ? ENV.postgres : ENV.pglite];
  if (!template || process.env[ENV.seededDays] !== clinicDays()) return null;
  return template;
}

/** A fresh scratch directory, memory-backed where possible. */
export function scratchDir(prefix: string): string {
  return mkdtempSync(path.join(SCRATCH, prefix));
}

/**
 * A seeded embedded database directory at `target` (a data folder's `pglite/`): a copy of the template, or null
 * when there is no current template (the caller's server then migrates and seeds it itself).
 */
export function copyPgliteTemplate(target: string): boolean {
  const template = currentTemplate('pglite');
  if (!template) return false;
  cpSync(template, target, { recursive: true });
  return true;
}

/**
 * A seeded embedded database directory at `target` (a test's database, or one an operator's command opens before any
 * server has): a copy of the run's template, or, when the template is no longer current (a clinic's midnight passed
 * since the run began), migrated and seeded there as the template was.
 */
export async function seededPgliteDir(target: string): Promise<void> {
  if (copyPgliteTemplate(target)) return;
  const db = createDb({ embeddedDir: target });
  try {
    await seedDemoDatabase(db);
  } finally {
    await db.destroy();
  }
}
