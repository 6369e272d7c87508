import { loadConfig } from '../config.js';
import { createDb } from './knex.js';
import { migrateLatest, migrateRollback } from './migrate.js';
import { seedDemoIfEmpty } from './seeds/demo.js';

/** `npm run db -- migrate | rollback | seed`, against DATABASE_URL or the embedded database. */
const command = process.argv[2];
const config = loadConfig();
const db = createDb({ databaseUrl: config.databaseUrl, embeddedDir: `${config.dataDir}/pglite` });
try {
  if (command === 'migrate')
    console.log('applied:', (await migrateLatest(db)).join(', ') || 'nothing, already up to date');
  else if (command === 'rollback') console.log('reverted:', (await migrateRollback(db)).join(', ') || 'nothing');
  else if (command === 'seed') {
    await migrateLatest(db);
    console.log((await seedDemoIfEmpty(db)) ? 'demo clinics loaded' : 'database already has clinics; nothing loaded');
  } else {
    console.error('usage: npm run db -- migrate | rollback | seed');
    process.exitCode = 2;
  }
} finally {
  await db.destroy();
}
