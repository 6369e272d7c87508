// Ad hoc (not committed): a built server, 4 graphql-ws subscribers in the benchmark's 4 groups, events as the benchmark's.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { prepareScenario } from './scenarios.js';
import { spawnListening, SERVER_BUILD, SERVER_NODE_FLAGS, sleep } from './support.js';

const N = Number(process.env.N ?? 200), BATCH = Number(process.env.BATCH ?? 20), GAP = Number(process.env.GAP ?? 30);
const name = `derm_loop_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
await admin.connect();
await admin.query(`create database ${name}`);
if (process.env.LOGSQL) await admin.query(`alter database ${name} set log_statement = 'all'`);
const databaseUrl = `postgres://postgres@127.0.0.1:5432/${name}`;
const jwtSecret = randomBytes(32).toString('hex');
const server = await spawnListening('derm', SERVER_BUILD, {
  NODE_ENV: 'production', SEED_DEMO: 'true', PORT: '0', HOST: '127.0.0.1', DATABASE_URL: databaseUrl,
  REDIS_URL: 'redis://127.0.0.1:6379', REDIS_NAMESPACE: name, JWT_SECRET: jwtSecret, OAUTH_TOKEN_TTL: '3600',
  SUBSCRIPTION_LIMIT_CALLER: '1000000', SUBSCRIPTION_LIMIT_CLINIC: '1000000', RATE_LIMIT_CALLER: '1000000',
  RATE_LIMIT_CLINIC: '1000000', LOG_LEVEL: 'info',
}, { nodeArgs: [...SERVER_NODE_FLAGS, ...(process.env.PROF ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.PROF, '--cpu-prof-interval=50'] : [])] });
const cpu = () => {
  let ns = 0;
  for (const t of require_tasks(server.pid)) ns += Number(readFileSync(`/proc/${server.pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
  return ns;
};
function require_tasks(pid: number) { return (await_readdir(`/proc/${pid}/task`)); }
import { readdirSync } from 'node:fs';
function await_readdir(p: string) { return readdirSync(p); }
try {
  const scenario = await prepareScenario({ kind: 'clinics', clinics: 1 }, { url: server.url, databaseUrl, jwtSecret }, 4);
  const aud = scenario.audiences[0];
  let received = 0;
  const clients = aud.tokens.slice(0, 4).map((token) => createClient({ url: server.url.replace('http', 'ws') + '/graphql', webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` } }));
  for (const c of clients) c.subscribe({ query: aud.query }, { next: () => { received++; }, error: (e) => console.error(e), complete: () => {} });
  await sleep(1000);
  const marks: number[] = [];
  const { statSync } = await import('node:fs');
  const LOG = '/var/log/postgresql/postgresql-15-main.log';
  const startAt = statSync(LOG).size;
  for (let i = 0; i < N; i++) {
    const before = received;
    const c0 = cpu();
    await scenario.next().send();
    const t0 = Date.now();
    while (received < before + 4 && Date.now() - t0 < 5000) await sleep(1);
    await sleep(GAP);
    marks.push((cpu() - c0) / 1e6);
    if (marks.length === BATCH) { console.log('ms/event', (marks.reduce((a, b) => a + b) / BATCH).toFixed(2), 'min', Math.min(...marks).toFixed(2)); marks.length = 0; }
  }
  await sleep(500);
  if (process.env.LOGSQL) { const { readFileSync: r } = await import('node:fs'); const text = r(LOG, 'utf8').slice(startAt); require_write(text); }
  for (const c of clients) await c.dispose();
} finally {
  await server.stop(20_000);
  await admin.query(`drop database ${name} with (force)`);
  await admin.end();
}

import { writeFileSync } from 'node:fs';
function require_write(t: string) { writeFileSync('/tmp/trace/sql.log', t); }
