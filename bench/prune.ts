/**
 * Pruning benchmark (docs/architecture.md, "Retention"): what deleting a large backlog of old events costs the
 * writers of the same clinic, on PostgreSQL.
 *
 * A throwaway database gets the demo clinics and ROWS old events (40 days) in one clinic's log. Writers then append
 * one event per transaction to that same clinic's log, as a mutation does (appendEvents: the counter row locked until
 * commit), WRITERS at a time, first alone for SECONDS, then while `pruneEvents` deletes the backlog with its defaults
 * (2,000 rows a batch, 20 ms between batches). Reported: rows pruned per second, and the writers' transaction latency
 * p50/p99/max without and during pruning.
 *
 *   npm run bench:prune
 *   npm run bench:prune -- --rows=200000 --writers=2 --seconds=5
 *
 * Options: --rows (default 1,000,000), --writers (concurrent writers, default 4), --seconds (the baseline phase,
 * default 15), --batch (rows per delete), --pause-ms (between batches), BENCH_DATABASE_URL (an admin connection;
 * default postgres://postgres@127.0.0.1:5432/postgres).
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createDb, type Db } from '../server/src/db/knex.js';
import { migrateLatest } from '../server/src/db/migrate.js';
import { seedDemoIfEmpty } from '../server/src/db/seeds/demo.js';
import { appendEvents } from '../server/src/events/eventLog.js';
import { prunedThrough, pruneEvents } from '../server/src/events/retention.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    writers: { type: 'string', default: '4' },
    seconds: { type: 'string', default: '15' },
    batch: { type: 'string' },
    'pause-ms': { type: 'string' },
  },
});
const ROWS = Number(args.rows);
const WRITERS = Number(args.writers);
const BASELINE_MS = Number(args.seconds) * 1000;
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DAY = 86_400_000;

const dbName = `derm_bench_prune_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client({ connectionString: ADMIN_URL });
let db: Db | null = null;

async function cleanUp(): Promise<void> {
  await db?.destroy();
  db = null;
  await admin.query(`drop database if exists ${dbName} with (force)`).catch((err: Error) => {
    console.error(`could not drop database ${dbName}: ${err.message}`);
  });
  await admin.end().catch(() => {});
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void cleanUp().finally(() => process.exit(130)));
}

/** Latencies (ms) of the writers' transactions while `running()` holds. */
async function write(tenantId: string, running: () => boolean): Promise<number[]> {
  const latencies: number[] = [];
  const writer = async () => {
    while (running()) {
      const started = performance.now();
      await db!.transaction((trx) =>
        appendEvents(trx, tenantId, [
          { topic: 'appointment', kind: 'UPDATED', entityId: '00000000-0000-4000-8000-000000000000' },
        ]),
      );
      latencies.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: WRITERS }, writer));
  return latencies;
}

function summary(latencies: number[]): string {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return `${sorted.length} commits, p50 ${at(0.5).toFixed(1)} ms, p99 ${at(0.99).toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms`;
}

try {
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${dbName}`;
  db = createDb({ databaseUrl: url.toString() });
  await migrateLatest(db);
  await seedDemoIfEmpty(db);
  const { id: tenantId } = (await db('tenants').where({ slug: 'sunrise-derm' }).first('id')) as { id: string };

  let t = performance.now();
  const base = Number((await db('eventCounters').where({ tenantId }).first('lastSeq'))?.lastSeq ?? 0);
  await db.raw(
    `insert into events (tenant_id, seq, topic, kind, entity_id, occurred_at)
     select ?, ? + g, 'appointment', 'UPDATED', gen_random_uuid(), now() - interval '40 days'
     from generate_series(1, ?) g`,
    [tenantId, base, ROWS],
  );
  await db('eventCounters')
    .insert({ tenantId, lastSeq: base + ROWS })
    .onConflict('tenantId')
    .merge();
  await db.raw('vacuum analyze events');
  console.log(`${ROWS.toLocaleString('en')} old events inserted in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  // The same writers, first alone, then while the backlog is pruned.
  const alone = await (() => {
    const until = performance.now() + BASELINE_MS;
    return write(tenantId, () => performance.now() < until);
  })();
  let pruning = true;
  const during = write(tenantId, () => pruning);
  t = performance.now();
  const pruned = await pruneEvents(db, {
    before: new Date(Date.now() - 30 * DAY),
    ...(args.batch ? { batchSize: Number(args.batch) } : {}),
    ...(args['pause-ms'] ? { pauseMs: Number(args['pause-ms']) } : {}),
  });
  const seconds = (performance.now() - t) / 1000;
  pruning = false;
  const withPruning = await during;

  console.log(
    `pruned ${pruned.deleted.toLocaleString('en')} events in ${pruned.batches} batches, ${seconds.toFixed(1)} s: ` +
      `${Math.round(pruned.deleted / seconds).toLocaleString('en')} rows/s (watermark ${await prunedThrough(db, tenantId)})`,
  );
  console.log(`writers (${WRITERS}) alone:        ${summary(alone)}`);
  console.log(`writers (${WRITERS}) while pruning: ${summary(withPruning)}`);
} finally {
  await cleanUp();
}
