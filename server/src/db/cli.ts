import { loadConfig } from '../config.js';
import { pruneEvents } from '../events/retention.js';
import { createDb } from './knex.js';
import { migrateLatest, migrateRollback } from './migrate.js';
import { seedDemoIfEmpty } from './seeds/demo.js';

/**
 * `npm run db -- migrate | rollback | seed | prune [--before <instant>]`, against DATABASE_URL or the embedded
 * database. `prune` runs one round of what every server does every 10 minutes: it deletes the events older than
 * EVENT_RETENTION, or committed before `--before` (an ISO 8601 instant), in small batches.
 */
const command = process.argv[2];
const config = loadConfig();
const db = createDb({ databaseUrl: config.databaseUrl, embeddedDir: `${config.dataDir}/pglite` });
try {
  if (command === 'migrate')
    console.log('applied:', (await migrateLatest(db)).join(', ') || 'nothing, already up to date');
  else if (command === 'rollback') console.log('reverted:', (await migrateRollback(db)).join(', ') || 'nothing');
  else if (command === 'seed') {
    await migrateLatest(db);
    console.log(
      (await seedDemoIfEmpty(db, config.passwordHashCost))
        ? 'demo clinics loaded'
        : 'database already has clinics; nothing loaded',
    );
  } else if (command === 'prune') {
    const flag = process.argv.indexOf('--before');
    const before =
      flag > 0 ? new Date(process.argv[flag + 1] ?? '') : new Date(Date.now() - config.eventRetentionDays * 86_400_000);
    if (Number.isNaN(before.getTime())) {
      console.error('--before takes an instant such as 2026-11-01T00:00:00Z');
      process.exitCode = 2;
    } else {
      await migrateLatest(db);
      const { deleted, batches } = await pruneEvents(db, { before });
      console.log(`pruned ${deleted} events committed before ${before.toISOString()} in ${batches} batches`);
    }
  } else {
    console.error('usage: npm run db -- migrate | rollback | seed | prune [--before <instant>]');
    process.exitCode = 2;
  }
} finally {
  await db.destroy();
}
