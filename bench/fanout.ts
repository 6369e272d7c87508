/**
 * Fan-out benchmark (docs/architecture.md, invariant 4: "an event costs little per subscriber").
 *
 * For each N: N graphql-ws subscribers of `appointmentChanged` in one clinic, events triggered through the real
 * mutation path (createAppointment / updateAppointment over HTTP), against the real server as its own process on
 * PostgreSQL and Redis. Beside it, in the same run and interleaved event by event, a raw `ws` server
 * (bench/raw-ws-server.ts) broadcasts the very frame a GraphQL subscriber received to N plain sockets.
 * Reported per N, for each server and as a ratio: CPU time per delivered event, fan-out latency (trigger sent → last
 * subscriber received) p50/p99 over the events, and RSS per connection.
 *
 *   npm run bench                               1,000, 5,000 and 10,000 subscribers, 40 events each
 *   npm run bench -- --quick                    1,000 subscribers, 10 events (a minute)
 *   npm run bench -- --sizes=1000,5000 --events=30 --workers=2
 *
 * Options (flag or environment variable): --sizes / BENCH_SIZES, --events / BENCH_EVENTS, --warmup / BENCH_WARMUP,
 * --workers / BENCH_WORKERS (client processes), --gap-ms / BENCH_GAP_MS (pause after each event), --timeout /
 * BENCH_TIMEOUT
 * (seconds for the whole run), --quick / BENCH_QUICK=1, BENCH_DATABASE_URL (an admin connection; default
 * postgres://postgres@127.0.0.1:5432/postgres), BENCH_REDIS_URL (default redis://127.0.0.1:6379), BENCH_CPU_PROF=<dir>
 * (run the GraphQL server under --cpu-prof and leave its profiles there).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus, totalmem } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import {
  median,
  nowMs,
  openFileLimit,
  percentile,
  procCpuNs,
  procRssBytes,
  procStatCpuNs,
  ROOT,
  sleep,
  spawnListening,
  until,
  type Spawned,
  type Target,
  type WorkerCommand,
  type WorkerReport,
} from './support.js';

// ---------------------------------------------------------------------------------------------------------------------
// Options

const USAGE =
  'usage: npm run bench -- [--quick] [--sizes=1000,5000,10000] [--events=40] [--warmup=5] [--workers=2] [--gap-ms=100] [--timeout=1800]';

/** A bad option ends the run before anything is started. */
function badOption(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

const OPTIONS = {
  sizes: { type: 'string' },
  events: { type: 'string' },
  warmup: { type: 'string' },
  workers: { type: 'string' },
  'gap-ms': { type: 'string' },
  timeout: { type: 'string' },
  quick: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

let parsed;
try {
  parsed = parseArgs({ options: OPTIONS, strict: true });
} catch (err) {
  badOption((err as Error).message);
}
const flags = parsed.values;
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}

function intOption(
  name: string,
  flag: string | undefined,
  env: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = flag ?? env;
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max)
    badOption(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  return value;
}

const env = process.env;
const quick = flags.quick === true || /^(1|true|yes)$/i.test(env.BENCH_QUICK ?? '');
const sizes = (flags.sizes ?? env.BENCH_SIZES ?? (quick ? '1000' : '1000,5000,10000')).split(',').map((s) => {
  const n = Number(s.trim());
  if (!Number.isInteger(n) || n < 1 || n > 50_000) badOption(`sizes must be integers from 1 to 50000, got "${s}"`);
  return n;
});
const EVENTS = intOption('events', flags.events, env.BENCH_EVENTS, quick ? 10 : 40, 1, 1000);
const WARMUP = intOption('warmup', flags.warmup, env.BENCH_WARMUP, quick ? 3 : 5, 0, 100);
const WORKERS = intOption('workers', flags.workers, env.BENCH_WORKERS, 2, 1, 16);
const GAP_MS = intOption('gap-ms', flags['gap-ms'], env.BENCH_GAP_MS, 100, 0, 10_000);
const TIMEOUT_S = intOption('timeout', flags.timeout, env.BENCH_TIMEOUT, 1800, 10, 24 * 3600);
const ADMIN_DATABASE_URL = env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const CPU_PROF_DIR = env.BENCH_CPU_PROF ? path.resolve(env.BENCH_CPU_PROF) : undefined;

/** Time allowed for one event to reach every subscriber. */
const EVENT_TIMEOUT_MS = 60_000;
/** WebSocket handshakes in flight per worker. */
const CONNECT_CONCURRENCY = 100;
/** Connections opened and closed before the memory baseline, so the baseline includes the JIT code of those paths. */
const WARM_CONNECTIONS = 100;
/** Pause before reading RSS, so that the last handshakes' buffers are settled. */
const SETTLE_MS = 2000;
/** How long the servers are watched at rest with N connections (a presence renewal period: TTL / 3 = 10 s). */
const REST_MS = 10_000;

const TENANT = 'sunrise-derm';
const PASSWORD = 'derm-demo-2026';
/** The demo staff of the clinic: subscribers are spread over them round-robin; the front desk triggers the events. */
const STAFF = ['admin', 'lee', 'patel', 'nurse', 'frontdesk'].map((key) => `${key}@sunrise.example`);

/** What a schedule view shows of a change. */
const SUBSCRIPTION = `subscription AppointmentChanged {
  appointmentChanged {
    kind
    cursor
    occurredAt
    previousProviderId
    appointment {
      id
      status
      startsAt
      endsAt
      room
      reason
      updatedAt
      provider { id name }
      patient { id displayName }
    }
  }
}`;

// ---------------------------------------------------------------------------------------------------------------------
// Everything started here is stopped by `cleanup`, whatever happens.

const runId = randomBytes(4).toString('hex');
const dbName = `derm_bench_${runId}`;
const redisNamespace = `bench-${runId}`;
const epoch = process.hrtime.bigint();
const servers = new Set<Spawned>();
const workers = new Set<ChildProcess>();
let databaseCreated = false;
let databaseUrl = '';

const adminClient = () => new pg.Client({ connectionString: ADMIN_DATABASE_URL });

async function createDatabase(): Promise<string> {
  const admin = adminClient();
  await admin.connect();
  try {
    await admin.query(`create database ${dbName}`);
    databaseCreated = true;
  } finally {
    await admin.end();
  }
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${dbName}`;
  return url.toString();
}

let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const worker of workers) worker.kill('SIGKILL');
    workers.clear();
    await Promise.allSettled([...servers].map((s) => s.stop(10_000)));
    servers.clear();
    // The clinics' ids, to find their Redis keys (`tenant:<id>:…`) once the database is gone.
    let tenantIds: string[] = [];
    if (databaseCreated && databaseUrl) {
      const db = new pg.Client({ connectionString: databaseUrl });
      try {
        await db.connect();
        tenantIds = (await db.query<{ id: string }>('select id from tenants')).rows.map((row) => row.id);
      } catch {
        // not migrated yet: no clinic, no keys
      } finally {
        await db.end().catch(() => {});
      }
    }
    if (databaseCreated) {
      const admin = adminClient();
      try {
        await admin.connect();
        await admin.query(`drop database if exists ${dbName} with (force)`);
        databaseCreated = false;
      } catch (err) {
        console.error(`could not drop database ${dbName}: ${(err as Error).message}`);
      } finally {
        await admin.end().catch(() => {});
      }
    }
    // Presence and the like: keys of the run's namespace and of its clinics. They would expire; leave nothing anyway.
    const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      for (const pattern of [`${redisNamespace}:*`, ...tenantIds.map((id) => `tenant:${id}:*`)]) {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
          cursor = next;
          if (keys.length) await redis.del(...keys);
        } while (cursor !== '0');
      }
    } catch {
      // Redis unreachable: nothing of ours to clean there either
    } finally {
      redis.disconnect();
    }
  })();
  return cleaning;
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    console.error(`\n${signal}: cleaning up`);
    cleanup().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------------------------------------------------
// Client workers

interface Worker {
  child: ChildProcess;
  pid: number;
  send(command: WorkerCommand): void;
}

/** Event reports, keyed `target:index`, collected until every worker has sent its own. */
const reports = new Map<string, { got: Extract<WorkerReport, { type: 'event' }>[]; done?: () => void }>();
const connectedWaiters = new Map<string, { count: number; expected: number; done: () => void }>();
const failureWatchers = new Set<(err: Error) => void>();
let failureMessage: string | undefined;
/** Workers of the current phase: an event is complete once each of them has reported it. */
let activeWorkers = 0;

function onReport(report: WorkerReport, worker: number): void {
  if (report.type === 'event') {
    const key = `${report.target}:${report.index}`;
    const entry = reports.get(key) ?? { got: [] };
    reports.set(key, entry);
    entry.got.push(report);
    if (entry.got.length === activeWorkers && entry.done) entry.done();
  } else if (report.type === 'connected') {
    const waiter = connectedWaiters.get(report.target);
    if (waiter && ++waiter.count === waiter.expected) waiter.done();
  } else if (report.type === 'failed') {
    failureMessage ??= `client worker ${worker}: ${report.message}`;
    for (const reject of failureWatchers) reject(new Error(failureMessage));
  }
}

async function startWorkers(count: number): Promise<Worker[]> {
  activeWorkers = count;
  return Promise.all(
    Array.from({ length: count }, (_, i) => {
      const child = fork(path.join(ROOT, 'bench/clients.ts'), [], {
        cwd: ROOT,
        execArgv: ['--import', 'tsx'],
        env: { ...env, BENCH_EPOCH: epoch.toString() },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      workers.add(child);
      child.on('message', (report: WorkerReport) => onReport(report, i));
      child.once('exit', (code, signal) => {
        if (workers.has(child)) onReport({ type: 'failed', message: `exited unexpectedly (${code ?? signal})` }, i);
      });
      return new Promise<Worker>((resolve, reject) => {
        child.once('message', (report: WorkerReport) => {
          if (report.type === 'ready') resolve({ child, pid: report.pid, send: (command) => child.send(command) });
          else reject(new Error(`client worker ${i} did not start: ${JSON.stringify(report)}`));
        });
        child.once('error', reject);
      });
    }),
  );
}

async function stopWorkers(list: Worker[]): Promise<void> {
  await Promise.all(
    list.map(async ({ child }) => {
      workers.delete(child);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      if (child.connected) child.send({ type: 'close' } satisfies WorkerCommand);
      const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(force);
    }),
  );
}

/** Rejects as soon as a worker reports a failure, else settles with `promise`. */
function watched<T>(promise: Promise<T>): Promise<T> {
  if (failureMessage) return Promise.reject(new Error(failureMessage));
  return new Promise<T>((resolve, reject) => {
    failureWatchers.add(reject);
    promise.then(resolve, reject).finally(() => failureWatchers.delete(reject));
  });
}

/** Opens `count` sockets to a server, split over the workers; resolves when every worker has opened its share. */
async function connectClients(
  list: Worker[],
  target: Target,
  url: string,
  count: number,
  tokens: string[],
): Promise<void> {
  const done = new Promise<void>((resolve) =>
    connectedWaiters.set(target, { count: 0, expected: list.length, done: resolve }),
  );
  list.forEach((worker, i) => {
    const share = Math.floor(count / list.length) + (i < count % list.length ? 1 : 0);
    worker.send({
      type: 'connect',
      target,
      url: `${url.replace(/^http/, 'ws')}/graphql`,
      count: share,
      tokens,
      query: SUBSCRIPTION,
      concurrency: CONNECT_CONCURRENCY,
    });
  });
  await watched(withTimeout(done, 120_000 + count * 20, `connecting ${count} ${target} sockets`));
  connectedWaiters.delete(target);
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Resolves with every worker's report of event `index` of `target`. */
function eventReports(target: Target, index: number): Promise<Extract<WorkerReport, { type: 'event' }>[]> {
  const key = `${target}:${index}`;
  const entry = reports.get(key) ?? { got: [] };
  reports.set(key, entry);
  const all = new Promise<Extract<WorkerReport, { type: 'event' }>[]>((resolve) => {
    const finish = () => {
      reports.delete(key);
      resolve(entry.got);
    };
    if (entry.got.length === activeWorkers) finish();
    else entry.done = finish;
  });
  return watched(
    withTimeout(
      all,
      EVENT_TIMEOUT_MS,
      `${target} event ${index} (${entry.got.length}/${activeWorkers} workers complete)`,
    ),
  );
}

// ---------------------------------------------------------------------------------------------------------------------
// The servers

async function graphql<T>(url: string, query: string, variables: Record<string, unknown>, token?: string): Promise<T> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T; errors?: unknown[] };
  if (!body.data || body.errors)
    throw new Error(`GraphQL request failed (${res.status}): ${JSON.stringify(body.errors ?? body)}`);
  return body.data;
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = new RegExp(`^${name} (\\d+)`, 'm').exec(text);
  if (!match) throw new Error(`no ${name} in ${url}/metrics`);
  return Number(match[1]);
}

async function rawClients(url: string): Promise<number> {
  return ((await (await fetch(`${url}/stats`)).json()) as { clients: number }).clients;
}

const jwtSecret = randomBytes(32).toString('base64url');

async function startGraphQLServer(): Promise<Spawned> {
  const server = await spawnListening(
    'derm-realtime',
    'server/src/main.ts',
    {
      NODE_ENV: 'production',
      SEED_DEMO: 'true',
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: databaseUrl,
      REDIS_URL,
      REDIS_NAMESPACE: redisNamespace,
      JWT_SECRET: jwtSecret,
      // `info` is needed for the "listening" line; nothing on the measured path logs at that level.
      LOG_LEVEL: 'info',
    },
    { nodeArgs: CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF_DIR}`] : [] },
  );
  servers.add(server);
  return server;
}

async function startRawServer(): Promise<Spawned> {
  const server = await spawnListening(
    'raw ws server',
    'bench/raw-ws-server.ts',
    { PORT: '0', HOST: '127.0.0.1' },
    { ipc: true },
  );
  servers.add(server);
  return server;
}

/**
 * SIGTERM, then SIGKILL after a short grace: what is measured is over by then, and the server's graceful stop currently
 * runs into its own 15 s force-exit timer even when idle. Under --cpu-prof, wait for that exit, which writes the
 * profile.
 */
async function stopServer(server: Spawned): Promise<void> {
  await server.stop(CPU_PROF_DIR ? 20_000 : 3_000);
  servers.delete(server);
}

interface Clinic {
  tokens: string[];
  frontDesk: string;
  providerId: string;
  patientIds: string[];
}

async function signIn(url: string): Promise<Clinic> {
  const login =
    'mutation Login($t: String!, $e: String!, $p: String!) { login(tenant: $t, email: $e, password: $p) { token } }';
  const tokens: string[] = [];
  for (const email of STAFF)
    tokens.push(
      (await graphql<{ login: { token: string } }>(url, login, { t: TENANT, e: email, p: PASSWORD })).login.token,
    );
  const frontDesk = tokens[STAFF.indexOf('frontdesk@sunrise.example')];
  const ids = await graphql<{
    staff: { id: string; email: string }[];
    patients: { edges: { node: { id: string } }[] };
  }>(url, '{ staff(role: PROVIDER) { id email } patients(first: 12) { edges { node { id } } } }', {}, frontDesk);
  const provider = ids.staff.find((s) => s.email === 'lee@sunrise.example');
  if (!provider || ids.patients.edges.length === 0)
    throw new Error('the demo clinic is not as expected (no Dr. Lee or no patients)');
  return { tokens, frontDesk, providerId: provider.id, patientIds: ids.patients.edges.map((e) => e.node.id) };
}

// ---------------------------------------------------------------------------------------------------------------------
// Events

/**
 * Appointments are booked into consecutive 30-minute slots from a far-future date: one slot per even event of the run.
 */
const SLOT_BASE = Date.UTC(2031, 0, 6, 0, 0);
let eventCounter = 0;
let lastAppointmentId = '';

/** The next mutation: even events book an appointment, odd ones move the last booked one to another room. */
async function triggerMutation(url: string, clinic: Clinic): Promise<void> {
  const k = eventCounter++;
  if (k % 2 === 0) {
    const startsAt = new Date(SLOT_BASE + (k / 2) * 30 * 60_000);
    const data = await graphql<{ createAppointment: { id: string } }>(
      url,
      'mutation Book($input: CreateAppointmentInput!) { createAppointment(input: $input) { id } }',
      {
        input: {
          providerId: clinic.providerId,
          patientId: clinic.patientIds[(k / 2) % clinic.patientIds.length],
          startsAt: startsAt.toISOString(),
          endsAt: new Date(startsAt.getTime() + 20 * 60_000).toISOString(),
          room: `Room ${(k % 9) + 1}`,
          reason: 'Mole check',
        },
      },
      clinic.frontDesk,
    );
    lastAppointmentId = data.createAppointment.id;
  } else {
    await graphql(
      url,
      'mutation Move($id: ID!, $input: UpdateAppointmentInput!) { updateAppointment(id: $id, input: $input) { id } }',
      { id: lastAppointmentId, input: { room: `Room ${(k % 9) + 1}`, reason: 'Mole check, moved' } },
      clinic.frontDesk,
    );
  }
}

interface EventSample {
  /** Trigger sent → first / last subscriber received, ms. */
  first: number;
  last: number;
  /** Trigger sent → its HTTP answer (the mutation's response), ms. */
  answered: number;
  /** CPU of the server from just before the trigger to the end of the pause after the event, ns. */
  serverCpuNs: number;
  /** CPU of all client workers over the same window, ns. */
  clientCpuNs: number;
}

function sumCpu(pids: number[]): number {
  return pids.reduce((sum, pid) => sum + procCpuNs(pid), 0);
}

/** Runs one event against one server and measures it; `trigger` sends it. Returns the frame a subscriber got. */
async function runEvent(
  target: Target,
  index: number,
  server: Spawned,
  clientPids: number[],
  trigger: () => Promise<void>,
): Promise<{ sample: EventSample; frame: string }> {
  const delivered = eventReports(target, index);
  const cpu0 = procCpuNs(server.pid);
  const clients0 = sumCpu(clientPids);
  const t0 = nowMs(epoch);
  await watched(trigger());
  const answered = nowMs(epoch) - t0;
  const got = await delivered;
  const first = Math.min(...got.map((r) => r.first)) - t0;
  const last = Math.max(...got.map((r) => r.last)) - t0;
  await sleep(GAP_MS);
  const frame = got.find((r) => r.sample !== undefined)?.sample;
  if (frame === undefined) throw new Error(`no sample frame for ${target} event ${index}`);
  return {
    sample: {
      first,
      last,
      answered,
      serverCpuNs: procCpuNs(server.pid) - cpu0,
      clientCpuNs: sumCpu(clientPids) - clients0,
    },
    frame,
  };
}

/** Checks that a GraphQL frame is a clean `next` with the event in it, and nothing else. */
function checkFrame(frame: string): void {
  const message = JSON.parse(frame) as {
    type?: string;
    id?: string;
    payload?: { data?: { appointmentChanged?: { kind?: string } }; errors?: unknown };
  };
  if (message.type !== 'next' || message.payload?.errors || !message.payload?.data?.appointmentChanged?.kind) {
    throw new Error(`unexpected subscription frame: ${frame.slice(0, 500)}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// One size

interface Side {
  samples: EventSample[];
  /** utime + stime over the whole measured span (a cross-check of the per-event sums), ns. */
  statCpuNs: number;
  rssBefore: number;
  rssConnected: number;
  rssEnd: number;
  /** CPU while holding the N connections with no event, ns per second (timers, keep-alive pings, presence renewals). */
  restCpuNsPerS: number;
  /** From the first handshake to the last subscription live (graphql) or socket open (raw), ms. */
  connectMs: number;
}
interface SizeResult {
  n: number;
  graphql: Side;
  raw: Side;
  frameBytes: number;
}

async function runSize(n: number): Promise<SizeResult> {
  const perWorker = Math.ceil(n / WORKERS) * 2;
  const limit = openFileLimit();
  if (perWorker + 200 > limit) {
    throw new Error(
      `${perWorker} sockets per client worker exceed the open-file limit (${limit}); raise it (ulimit -n) or use more --workers`,
    );
  }
  if (n + 200 > limit)
    throw new Error(`${n} connections exceed the servers' open-file limit (${limit}); raise it with ulimit -n`);

  log(`\n== N = ${n.toLocaleString('en-US')}: starting both servers`);
  const gqlServer = await startGraphQLServer();
  const rawServer = await startRawServer();
  const clinic = await signIn(gqlServer.url);

  // Warm the connection paths of both servers (JIT, pools) before the memory baseline.
  const warm = await startWorkers(1);
  await connectClients(warm, 'raw', rawServer.url, WARM_CONNECTIONS, []);
  await connectClients(warm, 'graphql', gqlServer.url, WARM_CONNECTIONS, clinic.tokens);
  await until(
    async () => (await metric(gqlServer.url, 'derm_subscription_streams')) >= WARM_CONNECTIONS,
    30_000,
    () => 'warm-up subscriptions',
  );
  await stopWorkers(warm);
  await until(
    async () =>
      (await metric(gqlServer.url, 'derm_subscription_streams')) === 0 && (await rawClients(rawServer.url)) === 0,
    30_000,
    () => 'warm-up sockets to close',
  );
  await sleep(SETTLE_MS);

  const list = await startWorkers(WORKERS);
  const clientPids = list.map((w) => w.pid);
  const rssBefore = { graphql: procRssBytes(gqlServer.pid), raw: procRssBytes(rawServer.pid) };

  const t = Date.now();
  await connectClients(list, 'raw', rawServer.url, n, []);
  await until(
    async () => (await rawClients(rawServer.url)) === n,
    60_000,
    () => `${n} raw sockets`,
  );
  await sleep(SETTLE_MS);
  const rawConnectMs = Date.now() - t - SETTLE_MS;
  const rawConnected = procRssBytes(rawServer.pid);
  log(`   ${n} raw sockets open (${(rawConnectMs / 1000).toFixed(1)} s)`);

  const t2 = Date.now();
  await connectClients(list, 'graphql', gqlServer.url, n, clinic.tokens);
  let streams = 0;
  await until(
    async () => (streams = await metric(gqlServer.url, 'derm_subscription_streams')) >= n,
    120_000 + n * 20,
    () => `${n} live subscriptions (the server counts ${streams})`,
    500,
  );
  await sleep(SETTLE_MS);
  const gqlConnectMs = Date.now() - t2 - SETTLE_MS;
  const gqlConnected = procRssBytes(gqlServer.pid);
  log(`   ${n} graphql-ws subscriptions live (${(gqlConnectMs / 1000).toFixed(1)} s)`);

  // What holding N connections costs with nothing happening, so that it can be told apart from the events' cost.
  const rest0 = { graphql: procCpuNs(gqlServer.pid), raw: procCpuNs(rawServer.pid), at: nowMs(epoch) };
  await sleep(REST_MS);
  const restSeconds = (nowMs(epoch) - rest0.at) / 1000;

  const side = (): Side => ({
    samples: [],
    statCpuNs: 0,
    rssBefore: 0,
    rssConnected: 0,
    rssEnd: 0,
    restCpuNsPerS: 0,
    connectMs: 0,
  });
  const result: SizeResult = { n, graphql: side(), raw: side(), frameBytes: 0 };
  result.graphql.rssBefore = rssBefore.graphql;
  result.graphql.rssConnected = gqlConnected;
  result.raw.rssBefore = rssBefore.raw;
  result.raw.rssConnected = rawConnected;
  result.graphql.connectMs = gqlConnectMs;
  result.raw.connectMs = rawConnectMs;
  result.graphql.restCpuNsPerS = (procCpuNs(gqlServer.pid) - rest0.graphql) / restSeconds;
  result.raw.restCpuNsPerS = (procCpuNs(rawServer.pid) - rest0.raw) / restSeconds;

  // Interleaved, event by event, so that both servers see the same machine noise.
  let index = 0;
  const pair = async (measure: boolean) => {
    const g = await runEvent('graphql', index, gqlServer, clientPids, () => triggerMutation(gqlServer.url, clinic));
    checkFrame(g.frame);
    const r = await runEvent('raw', index, rawServer, clientPids, async () => {
      const res = await fetch(`${rawServer.url}/broadcast`, { method: 'POST', body: g.frame });
      if (res.status !== 204) throw new Error(`raw broadcast answered ${res.status}`);
    });
    if (r.frame !== g.frame) throw new Error('the raw server delivered other bytes than the GraphQL frame');
    result.frameBytes = Buffer.byteLength(g.frame);
    index++;
    if (measure) {
      result.graphql.samples.push(g.sample);
      result.raw.samples.push(r.sample);
    }
  };
  for (let i = 0; i < WARMUP; i++) await pair(false);
  const stat0 = { graphql: procStatCpuNs(gqlServer.pid), raw: procStatCpuNs(rawServer.pid) };
  for (let i = 0; i < EVENTS; i++) {
    await pair(true);
    if ((i + 1) % 10 === 0 || i + 1 === EVENTS) {
      const g = result.graphql.samples;
      log(
        `   ${i + 1}/${EVENTS} events; last: graphql ${g[g.length - 1].last.toFixed(1)} ms, raw ${result.raw.samples[result.raw.samples.length - 1].last.toFixed(1)} ms`,
      );
    }
  }
  result.graphql.statCpuNs = procStatCpuNs(gqlServer.pid) - stat0.graphql;
  result.raw.statCpuNs = procStatCpuNs(rawServer.pid) - stat0.raw;
  result.graphql.rssEnd = procRssBytes(gqlServer.pid);
  result.raw.rssEnd = procRssBytes(rawServer.pid);

  await stopWorkers(list);
  await Promise.all([stopServer(gqlServer), stopServer(rawServer)]);
  return result;
}

// ---------------------------------------------------------------------------------------------------------------------
// Report

function log(line: string): void {
  console.log(line);
}

interface Figures {
  cpuUs: number;
  cpuMeanUs: number;
  cpuStatUs: number;
  p50: number;
  p99: number;
  firstP50: number;
  answeredP50: number;
  rssKiB: number;
  rssEndKiB: number;
  clientCpuUs: number;
  restMsPerS: number;
}

function figures(side: Side, n: number): Figures {
  const deliveries = side.samples.length * n;
  return {
    cpuUs: median(side.samples.map((s) => s.serverCpuNs)) / n / 1000,
    cpuMeanUs: side.samples.reduce((sum, s) => sum + s.serverCpuNs, 0) / deliveries / 1000,
    cpuStatUs: side.statCpuNs / deliveries / 1000,
    p50: median(side.samples.map((s) => s.last)),
    p99: percentile(
      side.samples.map((s) => s.last),
      99,
    ),
    firstP50: median(side.samples.map((s) => s.first)),
    answeredP50: median(side.samples.map((s) => s.answered)),
    rssKiB: (side.rssConnected - side.rssBefore) / n / 1024,
    rssEndKiB: (side.rssEnd - side.rssBefore) / n / 1024,
    clientCpuUs: median(side.samples.map((s) => s.clientCpuNs)) / n / 1000,
    restMsPerS: side.restCpuNsPerS / 1e6,
  };
}

const fmt = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const ratio = (a: number, b: number) => (b > 0 && Number.isFinite(a / b) ? `${(a / b).toFixed(1)}×` : 'n/a');

/** A Markdown table, numbers right-aligned: paste-able into the README as is. */
function markdown(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const line = (row: string[]) =>
    `| ${row.map((cell, c) => (c >= 2 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join(' | ')} |`;
  const rule = `|${widths.map((w, c) => (c >= 2 ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(rows[0]), rule, ...rows.slice(1).map(line)].join('\n');
}

const HEADER = ['N', 'metric', 'derm-realtime', 'raw ws', 'ratio'];

/** The headline figures. */
function table(results: SizeResult[]): string {
  const rows = [HEADER];
  for (const r of results) {
    const g = figures(r.graphql, r.n);
    const w = figures(r.raw, r.n);
    const n = r.n.toLocaleString('en-US');
    rows.push(
      [
        n,
        'server CPU per delivered event (µs, median of events)',
        fmt(g.cpuUs, 1),
        fmt(w.cpuUs, 2),
        ratio(g.cpuUs, w.cpuUs),
      ],
      [n, 'fan-out latency p50 (ms, sent → last subscriber)', fmt(g.p50, 1), fmt(w.p50, 1), ratio(g.p50, w.p50)],
      [
        n,
        `fan-out latency p99 (ms, of ${r.graphql.samples.length} events)`,
        fmt(g.p99, 1),
        fmt(w.p99, 1),
        ratio(g.p99, w.p99),
      ],
      [n, 'server RSS per connection (KiB)', fmt(g.rssKiB, 1), fmt(w.rssKiB, 1), ratio(g.rssKiB, w.rssKiB)],
    );
  }
  return markdown(rows);
}

/** Figures that explain the headline ones. */
function details(results: SizeResult[]): string {
  const rows = [HEADER];
  for (const r of results) {
    const g = figures(r.graphql, r.n);
    const w = figures(r.raw, r.n);
    const n = r.n.toLocaleString('en-US');
    rows.push(
      [
        n,
        'trigger answered p50 (ms: mutation / broadcast POST)',
        fmt(g.answeredP50, 1),
        fmt(w.answeredP50, 1),
        ratio(g.answeredP50, w.answeredP50),
      ],
      [n, 'first subscriber received p50 (ms)', fmt(g.firstP50, 1), fmt(w.firstP50, 1), ratio(g.firstP50, w.firstP50)],
      [
        n,
        'server CPU per delivery, mean of events (µs)',
        fmt(g.cpuMeanUs, 1),
        fmt(w.cpuMeanUs, 2),
        ratio(g.cpuMeanUs, w.cpuMeanUs),
      ],
      [
        n,
        'same, from utime+stime over the whole span (µs)',
        fmt(g.cpuStatUs, 1),
        fmt(w.cpuStatUs, 2),
        ratio(g.cpuStatUs, w.cpuStatUs),
      ],
      [
        n,
        'server RSS per connection after the events (KiB)',
        fmt(g.rssEndKiB, 1),
        fmt(w.rssEndKiB, 1),
        ratio(g.rssEndKiB, w.rssEndKiB),
      ],
      [
        n,
        'time to connect the N clients (s; graphql: until subscribed)',
        fmt(r.graphql.connectMs / 1000, 1),
        fmt(r.raw.connectMs / 1000, 1),
        ratio(r.graphql.connectMs, r.raw.connectMs),
      ],
      [
        n,
        'server CPU at rest with the N connections open (ms/s)',
        fmt(g.restMsPerS, 1),
        fmt(w.restMsPerS, 1),
        w.restMsPerS >= 1 ? ratio(g.restMsPerS, w.restMsPerS) : '—',
      ],
      [
        n,
        'load generator CPU per received frame (µs)',
        fmt(g.clientCpuUs, 1),
        fmt(w.clientCpuUs, 1),
        ratio(g.clientCpuUs, w.clientCpuUs),
      ],
    );
  }
  return `${markdown(rows)}\nframe: ${results.map((r) => `${r.frameBytes} B`).join(', ')} (the same bytes to both servers' subscribers)`;
}

// ---------------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const deadline = setTimeout(() => {
    console.error(`\nthe run exceeded --timeout=${TIMEOUT_S} s: cleaning up`);
    cleanup().finally(() => process.exit(1));
  }, TIMEOUT_S * 1000);

  log(
    `fan-out benchmark: sizes ${sizes.join(', ')}; ${WARMUP} warm-up + ${EVENTS} measured events per size, ` +
      `each sent to derm-realtime then replayed to a raw ws server; ${WORKERS} client worker process(es)`,
  );
  log(
    `machine: ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; ` +
      `open-file limit ${openFileLimit()} per process. The load generator runs on the same cores as the servers.`,
  );
  log(`PostgreSQL: throwaway database ${dbName}; Redis: ${REDIS_URL} (namespace ${redisNamespace})`);

  const started = Date.now();
  databaseUrl = await createDatabase();
  const results: SizeResult[] = [];
  for (const n of sizes) results.push(await runSize(n));
  clearTimeout(deadline);

  log('\n' + table(results));
  log('\nSupporting figures:\n' + details(results));
  log(
    `\nCPU: per event, summed over the server's threads (/proc/<pid>/task/*/schedstat) from the trigger to ${GAP_MS} ms after the ` +
      "last delivery, divided by N; the median over events. derm-realtime's figure includes the mutation itself (HTTP, transaction, " +
      'Redis wake-up, log read), the raw figure its HTTP trigger. Latency: monotonic clock shared by all processes. RSS: VmRSS after ' +
      `connecting minus before, over N. ${cpus().length} cores shared with ${WORKERS} client process(es): read ratios, not absolutes.`,
  );
  log(`\nRun time: ${((Date.now() - started) / 1000).toFixed(0)} s.`);
}

main()
  .catch((err: Error) => {
    process.exitCode = 1;
    // What fails while the run is being torn down is a consequence, not news.
    if (interrupted) return;
    console.error(`\nbenchmark failed: ${err.stack ?? err.message}`);
    for (const server of servers) console.error(`--- last output of ${server.name}:\n${server.output().slice(-3000)}`);
  })
  .finally(async () => {
    await cleanup();
    // Nothing should be left running; exit in case a stray handle would keep the process alive.
    process.exit();
  });
