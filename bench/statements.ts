/**
 * What one SQL statement costs the server's own process, by the path it takes (docs/benchmark-history.md): the
 * server's knex (`createDb`: tarn's pool and the case mapping, as every statement of the server goes), pg's client
 * directly (the baseline), and pg's client with the statement prepared (named: parsed and planned once per
 * connection); then a transaction of one statement through knex and through pg. Each path runs a small statement one
 * after the other, after a warm-up, and is read by this process's CPU (`process.cpuUsage`: user and system, all
 * threads) and wall time per statement; the paths take turns ROUNDS times, and the median round is reported. What
 * PostgreSQL spends is not counted: this says what a change of path would save the server.
 *
 *   npm run bench:statements
 *   npm run bench:statements -- --statements=6000 --rounds=5
 *
 * Options: --statements (per path and round, default 6,000), --warmup (per path, before the first round, default
 * 3,000), --rounds (default 3), BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres; it only
 * reads).
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createDb } from '../server/src/db/knex.js';

const { values: args } = parseArgs({
  options: {
    statements: { type: 'string', default: '6000' },
    warmup: { type: 'string', default: '3000' },
    rounds: { type: 'string', default: '3' },
  },
});
const STATEMENTS = Number(args.statements);
const WARMUP = Number(args.warmup);
const ROUNDS = Number(args.rounds);
for (const [name, value] of [
  ['statements', STATEMENTS],
  ['warmup', WARMUP],
  ['rounds', ROUNDS],
] as const) {
  if (!Number.isInteger(value) || value < (name === 'warmup' ? 0 : 1)) {
    console.error(`--${name} must be a whole number${name === 'warmup' ? '' : ' above 0'}`);
    process.exit(2);
  }
}
const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** The statement every path runs: one bind parameter, one row back. */
const SQL = 'select $1::int as n';

const db = createDb({ databaseUrl: DATABASE_URL });
const client = new pg.Client({ connectionString: DATABASE_URL });

interface Path {
  name: string;
  run(i: number): Promise<unknown>;
}

const PATHS: Path[] = [
  { name: 'pg client (baseline)', run: (i) => client.query(SQL, [i]) },
  { name: 'pg client, prepared', run: (i) => client.query({ name: 'bench-statement', text: SQL, values: [i] }) },
  // knex's raw bindings are `?`; it numbers them for pg.
  { name: "the server's knex (`db.raw`)", run: (i) => db.raw('select ?::int as n', [i]) },
  {
    name: 'pg client: BEGIN, the statement, COMMIT',
    run: async (i) => {
      await client.query('begin');
      await client.query(SQL, [i]);
      await client.query('commit');
    },
  },
  {
    name: "the server's knex: `db.transaction` of the statement",
    run: (i) => db.transaction((trx) => trx.raw('select ?::int as n', [i])),
  },
];

interface Reading {
  cpuUs: number;
  wallUs: number;
}

async function measure(path: Path, count: number): Promise<Reading> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < count; i++) await path.run(i);
  const spent = process.cpuUsage(cpu);
  return { cpuUs: (spent.user + spent.system) / count, wallUs: ((performance.now() - start) * 1000) / count };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];

async function main(): Promise<void> {
  await client.connect();
  console.log(
    `statements: ${STATEMENTS} per path and round, ${ROUNDS} round(s), ${WARMUP} warm-up ones per path first; ` +
      `Node ${process.version}; PostgreSQL at ${new URL(DATABASE_URL).host || 'its socket'}`,
  );
  for (const path of PATHS) await measure(path, WARMUP);
  const readings = new Map<string, Reading[]>(PATHS.map((p) => [p.name, []]));
  for (let round = 0; round < ROUNDS; round++)
    for (const path of PATHS) readings.get(path.name)!.push(await measure(path, STATEMENTS));
  const cpuOf = (name: string) => median(readings.get(name)!.map((r) => r.cpuUs));
  const baseline = cpuOf(PATHS[0].name);
  console.log('\n| path | CPU per statement (µs) | wall per statement (µs) | CPU against the pg client |');
  console.log('|---|--:|--:|--:|');
  for (const { name } of PATHS) {
    const cpu = cpuOf(name);
    const wall = median(readings.get(name)!.map((r) => r.wallUs));
    console.log(`| ${name} | ${cpu.toFixed(1)} | ${wall.toFixed(1)} | ${(cpu / baseline).toFixed(2)}× |`);
  }
  console.log(
    '\nCPU: this process, user and system, all its threads (V8 compiles and collects on its own); PostgreSQL not ' +
      'counted. The transactions are three statements each.',
  );
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => Promise.allSettled([db.destroy(), client.end()]));
