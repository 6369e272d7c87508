/**
 * Fan-out benchmark (docs/architecture.md, invariant 4: "an event costs little per subscriber").
 *
 * For each N and case: N graphql-ws subscribers of the real server, run as its own process on PostgreSQL and Redis
 * with the Node flags `npm start` gives (package.json `config.nodeFlags`, the raw server's too),
 * and events triggered through the real mutation path over HTTP. Beside it, in the same run and interleaved event by
 * event, a raw `ws` server (bench/raw-ws-server.ts) broadcasts the very frames the GraphQL subscribers received to as
 * many plain sockets: each event to as many receivers, each receiver the bytes its GraphQL counterpart got.
 * The cases (bench/scenarios.ts): one clinic's schedule; with --clinics=C, also C clinics, each event reaching one
 * clinic's N/C subscribers; with --mixed, also one clinic where the web app's schedule, an integrator, per-provider
 * schedules, open threads and notifications subscribe at once.
 * Reported per N and case, for each server and as a ratio: CPU time per delivered event, fan-out latency (trigger
 * sent → last subscriber received) p50/p99 over the events, RSS per connection (also after the events and a forced
 * garbage collection), CPU at rest, delivery groups; with --runs, the median of the runs and their spread; with two
 * sizes or more, the 1-clinic case's cost split: the event's own CPU against what each further delivery adds
 * (report.ts `costSplit`).
 *
 *   npm run bench                               1,000, 5,000 and 10,000 subscribers, 40 events each
 *   npm run bench -- --quick                    1,000 subscribers, 10 events (a minute)
 *   npm run bench -- --sizes=1000,5000 --events=30 --workers=2
 *   npm run bench -- --sizes=10000,15000 --clinics=10 --mixed --runs=3
 *
 * Options (flag or environment variable): --sizes / BENCH_SIZES, --events / BENCH_EVENTS, --warmup / BENCH_WARMUP,
 * --prewarm / BENCH_PREWARM (events sent to each server before anyone subscribes, see `prewarmTriggers`),
 * --workers / BENCH_WORKERS (client processes), --gap-ms / BENCH_GAP_MS (pause after each event), --clinics /
 * BENCH_CLINICS (also run C clinics), --mixed / BENCH_MIXED=1 (also run the mixed case), --runs / BENCH_RUNS (fresh
 * servers each), --timeout / BENCH_TIMEOUT (seconds for the whole run), --quick / BENCH_QUICK=1, BENCH_DATABASE_URL
 * (an admin connection; default postgres://postgres@127.0.0.1:5432/postgres), BENCH_REDIS_URL (default
 * redis://127.0.0.1:6379), BENCH_CPU_PROF=<dir> (run the GraphQL server under --cpu-prof, leave its profiles there and
 * print where its CPU went during the events), BENCH_HEAP=<dir> (heap snapshots of the GraphQL server before the
 * clients connect and after the events, left there, and what its heap holds per connection by constructor:
 * bench/heap.ts), BENCH_ALLOC=1 (what the GraphQL server allocates per connection while the clients connect and
 * subscribe, by function: bench/allocations.ts).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import {
  addSamples,
  noSamples,
  partEntries,
  profileOf,
  scriptSourceMaps,
  topEntries,
  type ScriptMaps,
  type Window,
} from './profile.js';
import { allocationReport, startAllocationSampling } from './allocations.js';
import { growthPerConnection, heapCensus, writeHeapSnapshot } from './heap.js';
import { clinicsComparison, costSplit, details, table, type CaseRun, type EventSample, type Side } from './report.js';
import { caseName, mixedMinimum, prepareScenario, type Audience, type CaseSpec, type Scenario } from './scenarios.js';
import {
  collectGarbage,
  ephemeralPortCount,
  nowMs,
  openFileLimit,
  procCpuNs,
  mainThreadCpuNs,
  procMallocHeapBytes,
  procRssBytes,
  procStatCpuNs,
  ROOT,
  sleep,
  spawnListening,
  SERVER_BUILD,
  SERVER_NODE_FLAGS,
  buildServer,
  until,
  withInspector,
  type AudienceShare,
  type Spawned,
  type Target,
  type WorkerCommand,
  type WorkerReport,
} from './support.js';

// ---------------------------------------------------------------------------------------------------------------------
// Options

const USAGE =
  'usage: npm run bench -- [--quick] [--sizes=1000,5000,10000] [--events=40] [--warmup=5] [--prewarm=1000] ' +
  '[--workers=2] [--gap-ms=100] [--clinics=1] [--mixed] [--runs=1] [--timeout=<seconds>]';

/** A bad option ends the run before anything is started. */
function badOption(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

const OPTIONS = {
  sizes: { type: 'string' },
  events: { type: 'string' },
  warmup: { type: 'string' },
  prewarm: { type: 'string' },
  workers: { type: 'string' },
  'gap-ms': { type: 'string' },
  clinics: { type: 'string' },
  mixed: { type: 'boolean' },
  runs: { type: 'string' },
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

const yes = (raw: string | undefined) => /^(1|true|yes)$/i.test(raw ?? '');

const env = process.env;
const quick = flags.quick === true || yes(env.BENCH_QUICK);
const sizes = (flags.sizes ?? env.BENCH_SIZES ?? (quick ? '1000' : '1000,5000,10000')).split(',').map((s) => {
  const n = Number(s.trim());
  if (!Number.isInteger(n) || n < 1 || n > 50_000) badOption(`sizes must be integers from 1 to 50000, got "${s}"`);
  return n;
});
const EVENTS = intOption('events', flags.events, env.BENCH_EVENTS, quick ? 10 : 40, 1, 1000);
const WARMUP = intOption('warmup', flags.warmup, env.BENCH_WARMUP, quick ? 3 : 5, 0, 100);
const PREWARM = intOption('prewarm', flags.prewarm, env.BENCH_PREWARM, quick ? 200 : 1000, 0, 5000);
const WORKERS = intOption('workers', flags.workers, env.BENCH_WORKERS, 2, 1, 16);
const GAP_MS = intOption('gap-ms', flags['gap-ms'], env.BENCH_GAP_MS, 100, 0, 10_000);
const CLINICS = intOption('clinics', flags.clinics, env.BENCH_CLINICS, 1, 1, 100);
const MIXED = flags.mixed === true || yes(env.BENCH_MIXED);
const RUNS = intOption('runs', flags.runs, env.BENCH_RUNS, 1, 1, 20);
const ADMIN_DATABASE_URL = env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const CPU_PROF_DIR = env.BENCH_CPU_PROF ? path.resolve(env.BENCH_CPU_PROF) : undefined;
const HEAP_DIR = env.BENCH_HEAP ? path.resolve(env.BENCH_HEAP) : undefined;
const ALLOC = env.BENCH_ALLOC === '1';
if (HEAP_DIR) mkdirSync(HEAP_DIR, { recursive: true });

/** One clinic always, as the reference of the others. */
const CASES: CaseSpec[] = [
  { kind: 'clinics', clinics: 1 },
  ...(CLINICS > 1 ? [{ kind: 'clinics', clinics: CLINICS } as const] : []),
  ...(MIXED ? [{ kind: 'mixed' } as const] : []),
];

/** WebSocket handshakes in flight per worker. */
const CONNECT_CONCURRENCY = 100;
/** Connections opened and closed before the memory baseline, so the baseline includes the JIT code of those paths. */
const WARM_CONNECTIONS = 100;
/** Pause before reading RSS, so that the last handshakes' buffers are settled. */
const SETTLE_MS = 2000;
/**
 * Pause after a forced garbage collection before reading RSS: tens of MB of the GraphQL server's (its young
 * generation, shrunk by V8's memory reducer in an idle process) are given back 10 to 30 s after a full collection.
 */
const GC_SETTLE_MS = 30_000;
/** The GraphQL server's keep-alive round (`WS_KEEPALIVE`, its default): a quiet socket is pinged every other round. */
const KEEPALIVE_S = 12;
/**
 * How long the servers are left after the connections before their rest is read: V8's memory reducer shrinks the heap
 * with a full collection or two once allocation has slowed down, some 30 s after the last connection here (seen with
 * `--trace-gc` and each thread's CPU): the end of connecting, not rest.
 */
const REST_SETTLE_MS = 45_000;
/**
 * How long the servers are watched at rest with N connections: two keep-alive rounds, in which every quiet socket is
 * pinged once, and two presence renewals (TTL / 3 = 10 s). A 10 s window held the round that pings them all or not,
 * and read ~1 or ~10 µs/s per connection by the phase of the round.
 */
const REST_MS = 2 * KEEPALIVE_S * 1000;
/** File descriptors a process needs besides its sockets to the other side: listener, database, Redis, pipes, files. */
const FD_MARGIN = 200;

/** Time allowed for `count` sockets to connect (and subscribe): handshakes slow down as connections pile up. */
const connectBudgetMs = (count: number) => 120_000 + count * 40;
/** Time allowed for one event to reach `receivers` sockets. */
const eventBudgetMs = (receivers: number) => 30_000 + receivers * 4;

/** Fails the plan before anything starts when a size cannot be run as asked. */
function checkSize(n: number): void {
  const limit = openFileLimit();
  const perWorker = 2 * Math.ceil(n / WORKERS);
  if (perWorker + FD_MARGIN > limit)
    badOption(
      `${n.toLocaleString('en-US')} subscribers take ${perWorker} sockets (raw and graphql) per client worker with ` +
        `--workers=${WORKERS}, beyond the open-file limit of ${limit}: use --workers=` +
        `${Math.ceil((2 * n) / (limit - FD_MARGIN))} or more, or raise ulimit -n`,
    );
  if (n + FD_MARGIN > limit)
    badOption(`${n} connections exceed the servers' open-file limit (${limit}); raise it with ulimit -n`);
  const ports = ephemeralPortCount();
  if (n + WARM_CONNECTIONS > ports)
    badOption(`${n} connections to one server need as many local ports; net.ipv4.ip_local_port_range has ${ports}`);
  if (n < CLINICS) badOption(`--clinics=${CLINICS} needs at least as many subscribers, got size ${n}`);
  if (MIXED && n < mixedMinimum())
    badOption(`--mixed needs at least ${mixedMinimum()} subscribers (one per audience), got size ${n}`);
}
sizes.forEach(checkSize);

/** Generous for each case run, growing with N: a backstop, each step has its own timeout. */
const plannedSeconds = sizes.reduce(
  (sum, n) => sum + RUNS * CASES.length * (300 + connectBudgetMs(n) / 1000 + (WARMUP + EVENTS) * 2 + PREWARM / 20),
  0,
);
const TIMEOUT_S = intOption(
  'timeout',
  flags.timeout,
  env.BENCH_TIMEOUT,
  Math.max(1800, Math.ceil(plannedSeconds)),
  10,
  7 * 24 * 3600,
);

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
// `on`, not `once`: Ctrl-C reaches this process twice (from the terminal, and relayed by tsx's parent process), and a
// second signal without a listener would end it before the clean-up is done.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) return;
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

/** Answers awaited from the workers, by what they answer (see `replyKey`), until `need` of them are in. */
const awaited = new Map<string, { need: number; got: WorkerReport[]; done: () => void }>();
const failureWatchers = new Set<(err: Error) => void>();
let failureMessage: string | undefined;

function replyKey(report: WorkerReport): string | undefined {
  if (report.type === 'connected') return `connected:${report.target}`;
  if (report.type === 'expecting' || report.type === 'event') return `${report.type}:${report.target}:${report.index}`;
  return undefined;
}

function onReport(report: WorkerReport, worker: number): void {
  if (report.type === 'failed') {
    failureMessage ??= `client worker ${worker}: ${report.message}`;
    for (const reject of failureWatchers) reject(new Error(failureMessage));
    return;
  }
  const key = replyKey(report);
  const entry = key === undefined ? undefined : awaited.get(key);
  // None: an answer to a wait that timed out, when the run is failing already.
  if (!entry) return;
  entry.got.push(report);
  if (entry.got.length === entry.need) {
    awaited.delete(key!);
    entry.done();
  }
}

/** Resolves with `need` answers of `key`; registered at once, so call it before sending what they answer. */
function answers<T extends WorkerReport>(key: string, need: number, timeoutMs: number, what: string): Promise<T[]> {
  const got: WorkerReport[] = [];
  const all = new Promise<T[]>((resolve) => {
    if (need === 0) resolve([]);
    else awaited.set(key, { need, got, done: () => resolve(got as T[]) });
  });
  return watched(withTimeout(all, timeoutMs, () => `${what} (${got.length}/${need} workers answered)`));
}

async function startWorkers(count: number): Promise<Worker[]> {
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

function withTimeout<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what()}: no result within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Each audience's sockets dealt to the workers in turn, carrying on from one audience to the next: no worker holds
 * more than one socket above another, so the open-file check of `checkSize` holds for each of them.
 */
function splitOverWorkers(audiences: AudienceShare[], workerCount: number): AudienceShare[][] {
  const shares: AudienceShare[][] = Array.from({ length: workerCount }, () => []);
  let turn = 0;
  for (const audience of audiences) {
    const counts = new Array<number>(workerCount).fill(0);
    for (let k = 0; k < audience.count; k++) counts[turn++ % workerCount]++;
    counts.forEach((count, w) => {
      if (count > 0) shares[w].push({ ...audience, count });
    });
  }
  return shares;
}

/**
 * Opens the audiences' sockets to a server, split over the workers; resolves when every worker has opened its share.
 */
async function connectClients(list: Worker[], target: Target, url: string, audiences: AudienceShare[]): Promise<void> {
  const count = audiences.reduce((sum, a) => sum + a.count, 0);
  const connected = answers(
    `connected:${target}`,
    list.length,
    connectBudgetMs(count),
    `connecting ${count} ${target} sockets`,
  );
  const shares = splitOverWorkers(audiences, list.length);
  list.forEach((worker, i) =>
    worker.send({
      type: 'connect',
      target,
      url: `${url.replace(/^http/, 'ws')}/graphql`,
      audiences: shares[i],
      concurrency: CONNECT_CONCURRENCY,
    }),
  );
  await connected;
}

// ---------------------------------------------------------------------------------------------------------------------
// The servers

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = new RegExp(`^${name} (\\d+)`, 'm').exec(text);
  if (!match) throw new Error(`no ${name} in ${url}/metrics`);
  return Number(match[1]);
}

/**
 * The server's full (mark-compact) garbage collections so far, their count and seconds, from prom-client's
 * `nodejs_gc_duration_seconds{kind="major"}`: how often the heap's limit was reached (README, "Node's heap").
 */
interface Collections {
  count: number;
  seconds: number;
}

async function fullCollections(url: string): Promise<Collections> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (suffix: string) =>
    Number(
      new RegExp(`^nodejs_gc_duration_seconds_${suffix}\\{kind="major"\\} ([\\d.e+-]+)`, 'm').exec(text)?.[1] ?? 0,
    );
  return { count: read('count'), seconds: read('sum') };
}

function logCollections(when: string, before: Collections, after: Collections): void {
  const ms = (after.seconds - before.seconds) * 1000;
  log(
    `   derm-realtime's full garbage collections ${when}: ${after.count - before.count} (${ms.toFixed(0)} ms paused)`,
  );
}

async function rawClients(url: string): Promise<number> {
  return ((await (await fetch(`${url}/stats`)).json()) as { clients: number }).clients;
}

const jwtSecret = randomBytes(32).toString('base64url');

async function startGraphQLServer(): Promise<Spawned> {
  const server = await spawnListening(
    'derm-realtime',
    SERVER_BUILD,
    {
      NODE_ENV: 'production',
      WS_KEEPALIVE: String(KEEPALIVE_S),
      SEED_DEMO: 'true',
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: databaseUrl,
      REDIS_URL,
      REDIS_NAMESPACE: redisNamespace,
      JWT_SECRET: jwtSecret,
      // The integrator's token must outlive connecting the largest sizes (the default is 15 minutes).
      OAUTH_TOKEN_TTL: '3600',
      // Thousands of subscribers of one clinic on a few tokens, far beyond what a clinic holds (the limits per caller
      // and clinic, README "Limits per caller and clinic"): the benchmark measures fan-out, not those limits.
      SUBSCRIPTION_LIMIT_CALLER: '1000000',
      SUBSCRIPTION_LIMIT_CLINIC: '1000000',
      RATE_LIMIT_CALLER: '1000000',
      RATE_LIMIT_CLINIC: '1000000',
      // `info` is needed for the "listening" line; nothing on the measured path logs at that level.
      LOG_LEVEL: 'info',
    },
    {
      nodeArgs: [...SERVER_NODE_FLAGS, ...(CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF_DIR}`] : [])],
      inspect: true,
    },
  );
  servers.add(server);
  return server;
}

async function startRawServer(): Promise<Spawned> {
  const server = await spawnListening(
    'raw ws server',
    'bench/raw-ws-server.ts',
    { PORT: '0', HOST: '127.0.0.1' },
    { ipc: true, inspect: true, nodeArgs: SERVER_NODE_FLAGS },
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

/** VmRSS of each server after a full garbage collection (through their inspectors) and its aftermath. */
async function rssAfterGc(...list: Spawned[]): Promise<number[]> {
  await Promise.all(
    list.map((server) => {
      if (!server.inspectorUrl) throw new Error(`${server.name} printed no inspector URL`);
      return withTimeout(collectGarbage(server.inspectorUrl), 60_000, () => `garbage collection in ${server.name}`);
    }),
  );
  await sleep(GC_SETTLE_MS);
  return list.map((server) => procRssBytes(server.pid));
}

/** The server's JavaScript heap in use, bytes (`process.memoryUsage().heapUsed`, read through its inspector). */
async function heapUsed(server: Spawned): Promise<number> {
  if (!server.inspectorUrl) throw new Error(`${server.name} printed no inspector URL`);
  const { result } = (await withInspector(server.inspectorUrl, (session) =>
    session.call('Runtime.evaluate', { expression: 'process.memoryUsage().heapUsed', returnByValue: true }),
  )) as { result: { value: number } };
  return result.value;
}

/** Asks the raw server to send each audience its frame. */
async function rawBroadcast(url: string, audiences: string[], frames: string[]): Promise<void> {
  const query = new URLSearchParams();
  audiences.forEach((name, i) => {
    query.append('to', name);
    query.append('bytes', String(Buffer.byteLength(frames[i])));
  });
  const res = await fetch(`${url}/broadcast?${query}`, { method: 'POST', body: frames.join('') });
  if (res.status !== 204) throw new Error(`raw broadcast answered ${res.status}`);
}

// ---------------------------------------------------------------------------------------------------------------------
// Events

type Expecting = Extract<WorkerReport, { type: 'expecting' }>;
type Delivered = Extract<WorkerReport, { type: 'event' }>;

function sumCpu(pids: number[]): number {
  return pids.reduce((sum, pid) => sum + procCpuNs(pid), 0);
}

/**
 * Runs one event against one server and measures it: the workers are told which audiences it is for (they must hold
 * `receivers` sockets of them), then `trigger` sends it. Returns the frame each audience got.
 */
async function runEvent(
  list: Worker[],
  target: Target,
  index: number,
  server: Spawned,
  audiences: string[],
  receivers: number,
  trigger: () => Promise<void>,
): Promise<{ sample: EventSample; frames: Record<string, string> }> {
  const expecting = answers<Expecting>(`expecting:${target}:${index}`, list.length, 30_000, `${target} event ${index}`);
  for (const worker of list) worker.send({ type: 'expect', target, index, audiences });
  const holders = (await expecting).filter((r) => r.receivers > 0);
  const held = holders.reduce((sum, r) => sum + r.receivers, 0);
  if (held !== receivers)
    throw new Error(`${target} event ${index}: the workers hold ${held} of its ${receivers} receivers`);
  const delivered = answers<Delivered>(
    `event:${target}:${index}`,
    holders.length,
    eventBudgetMs(receivers),
    `${target} event ${index} to ${receivers} sockets`,
  );
  // Awaited below; a failure while the trigger is still under way must not go unhandled meanwhile.
  delivered.catch(() => {});
  const clientPids = list.map((w) => w.pid);
  const cpu0 = procCpuNs(server.pid);
  const main0 = mainThreadCpuNs(server.pid);
  const clients0 = sumCpu(clientPids);
  const t0 = nowMs(epoch);
  await watched(trigger());
  const answered = nowMs(epoch) - t0;
  const got = await delivered;
  const first = Math.min(...got.map((r) => r.first)) - t0;
  const last = Math.max(...got.map((r) => r.last)) - t0;
  await sleep(GAP_MS);
  return {
    sample: {
      first,
      last,
      answered,
      delivered: receivers,
      serverCpuNs: procCpuNs(server.pid) - cpu0,
      serverMainCpuNs: mainThreadCpuNs(server.pid) - main0,
      clientCpuNs: sumCpu(clientPids) - clients0,
      fromMs: t0,
      toMs: nowMs(epoch),
    },
    frames: Object.assign({}, ...got.map((r) => r.samples)) as Record<string, string>,
  };
}

/** Checks that a GraphQL frame is a clean `next` with the audience's field in it, and nothing else. */
function checkFrame(frame: string | undefined, audience: Audience): string {
  if (frame === undefined) throw new Error(`no sample frame of ${audience.name}`);
  const message = JSON.parse(frame) as {
    type?: string;
    payload?: { data?: Record<string, unknown>; errors?: unknown };
  };
  if (message.type !== 'next' || message.payload?.errors || !message.payload?.data?.[audience.field])
    throw new Error(`unexpected subscription frame for ${audience.name}: ${frame.slice(0, 500)}`);
  return frame;
}

// ---------------------------------------------------------------------------------------------------------------------
// One case at one size

/**
 * The GraphQL server's profiled runs: its process, the windows of its measured events (µs, monotonic clock) and the
 * source maps of its scripts.
 */
const profiled: {
  n: number;
  scenario: string;
  pid: number;
  windows: Window[];
  /** The window in which the N connections were held with no event (CPU at rest). */
  rest: Window;
  maps: ScriptMaps;
}[] = [];
const toMonotonicUs = (ms: number) => Number(epoch / 1000n) + ms * 1000;

/**
 * Sends `PREWARM` of the scenario's events to each server before anyone subscribes: derm-realtime's mutation over
 * HTTP, the raw server's broadcast POST (to no socket yet). A server started for the run has served nothing: the
 * first few hundred requests of a mutation's path (Express, Apollo, graphql-js, knex, pg, ioredis: some hundreds of
 * functions) run partly unoptimised while V8's compiler threads work through them (`--trace-opt`, a server
 * moving an appointment with ten subscribers: 161 functions optimised during its second 150 moves, 25 during its
 * fifth; its CPU per move fell by a quarter meanwhile). Without this, the measured events would count that warm-up
 * as the event's own cost, which an instance in service has long paid; `--prewarm=0` measures it so (how much it
 * changes the figures stayed within the swing between runs on the machine that measured it: docs/benchmark-history.md,
 * "Servers warmed before they are measured"). Both servers get as many, before the memory baselines; their fan-out
 * paths warm up in the `--warmup` events, with their subscribers.
 *
 * Returns each server's CPU per event over the second half, compiled by then: the event's own cost when events follow
 * one another with no pause, to set beside the measured events' (`costSplit`), each of which comes after the last
 * one's `--gap-ms` and finds the machine idle.
 */
async function prewarmTriggers(scenario: Scenario, gqlServer: Spawned, rawServer: Spawned): Promise<PrewarmCpu> {
  const from = PREWARM >> 1;
  let start = { graphql: 0, raw: 0 };
  for (let i = 0; i < PREWARM; i++) {
    if (i === from) start = { graphql: procCpuNs(gqlServer.pid), raw: procCpuNs(rawServer.pid) };
    const event = scenario.next();
    await event.send();
    await rawBroadcast(
      rawServer.url,
      event.audiences,
      event.audiences.map(() => PREWARM_FRAME),
    );
  }
  const counted = PREWARM - from;
  return {
    graphql: (procCpuNs(gqlServer.pid) - start.graphql) / counted,
    raw: (procCpuNs(rawServer.pid) - start.raw) / counted,
  };
}

/** Server CPU per prewarm event, ns: the event's own cost with no one subscribed and no pause between events. */
type PrewarmCpu = Record<Target, number>;

/** What the raw server is given to broadcast while nobody listens: the shape of a `next` frame. */
const PREWARM_FRAME = JSON.stringify({ id: 'prewarm', type: 'next', payload: { data: null } });

/** Warms the connection paths of both servers (JIT, pools) before the memory baseline. */
async function warmUp(gqlServer: Spawned, rawServer: Spawned, audience: AudienceShare): Promise<void> {
  const warm = await startWorkers(1);
  await connectClients(warm, 'raw', rawServer.url, [{ name: 'warm-up', count: WARM_CONNECTIONS }]);
  await connectClients(warm, 'graphql', gqlServer.url, [{ ...audience, count: WARM_CONNECTIONS }]);
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
}

const emptySide = (): Side => ({
  samples: [],
  statCpuNs: 0,
  rssBeforeGc: 0,
  rssBefore: 0,
  rssConnected: 0,
  rssEnd: 0,
  rssEndGc: 0,
  heapBeforeGc: 0,
  heapEndGc: 0,
  mallocBeforeGc: 0,
  mallocEndGc: 0,
  restCpuNsPerS: 0,
  connectMs: 0,
  prewarmCpuNs: NaN,
});

async function runCase(n: number, spec: CaseSpec, run: number): Promise<CaseRun> {
  const scenarioName = caseName(spec);
  const runLabel = RUNS > 1 ? `, run ${run}/${RUNS}` : '';
  log(`\n== N = ${n.toLocaleString('en-US')}, ${scenarioName}${runLabel}: starting both servers`);
  const gqlServer = await startGraphQLServer();
  const rawServer = await startRawServer();
  const scenario = await prepareScenario(spec, { url: gqlServer.url, databaseUrl, jwtSecret }, n);
  let prewarmCpu: PrewarmCpu | undefined;
  if (PREWARM > 0) {
    const t = Date.now();
    prewarmCpu = await prewarmTriggers(scenario, gqlServer, rawServer);
    log(
      `   ${PREWARM} events sent to each server before anyone subscribed (${((Date.now() - t) / 1000).toFixed(1)} s)`,
    );
  }
  const audiences = new Map(scenario.audiences.map((a) => [a.name, a]));
  const subscribers: AudienceShare[] = scenario.audiences.map(({ name, count, query, variables, tokens }) => ({
    name,
    count,
    subscription: { query, variables, tokens },
  }));
  const plainSockets = scenario.audiences.map(({ name, count }) => ({ name, count }));

  const result: CaseRun = {
    n,
    scenario: scenarioName,
    mixed: spec.kind === 'mixed',
    graphql: emptySide(),
    raw: emptySide(),
    frameBytes: [],
    groups: 0,
    groupMembers: 0,
  };
  const { graphql: g, raw: w } = result;
  g.prewarmCpuNs = prewarmCpu?.graphql ?? NaN;
  w.prewarmCpuNs = prewarmCpu?.raw ?? NaN;
  // Both baselines follow a warm-up. The collected one comes first, and another warm-up after it, so that the plain
  // one is read as it always was: right after warm-up connections, with no collection of ours just before.
  await warmUp(gqlServer, rawServer, subscribers[0]);
  [g.rssBeforeGc, w.rssBeforeGc] = await rssAfterGc(gqlServer, rawServer);
  [g.mallocBeforeGc, w.mallocBeforeGc] = [procMallocHeapBytes(gqlServer.pid), procMallocHeapBytes(rawServer.pid)];
  [g.heapBeforeGc, w.heapBeforeGc] = await Promise.all([heapUsed(gqlServer), heapUsed(rawServer)]);
  const heapFile = (when: string) =>
    path.join(HEAP_DIR!, `${scenarioName.replace(/\W+/g, '-')}-${n}-${run}-${when}.heapsnapshot`);
  if (HEAP_DIR) await writeHeapSnapshot(gqlServer.inspectorUrl!, heapFile('before'));
  await warmUp(gqlServer, rawServer, subscribers[0]);
  g.rssBefore = procRssBytes(gqlServer.pid);
  w.rssBefore = procRssBytes(rawServer.pid);

  const list = await startWorkers(WORKERS);
  const t = Date.now();
  await connectClients(list, 'raw', rawServer.url, plainSockets);
  let rawOpen = 0;
  await until(
    async () => (rawOpen = await rawClients(rawServer.url)) === n,
    connectBudgetMs(n),
    () => `${n} raw sockets (the raw server counts ${rawOpen})`,
  );
  await sleep(SETTLE_MS);
  w.connectMs = Date.now() - t - SETTLE_MS;
  w.rssConnected = procRssBytes(rawServer.pid);
  log(`   ${n} raw sockets open (${(w.connectMs / 1000).toFixed(1)} s)`);

  const sampling = ALLOC ? await startAllocationSampling(gqlServer.inspectorUrl!) : undefined;
  const t2 = Date.now();
  let streams = 0;
  try {
    await connectClients(list, 'graphql', gqlServer.url, subscribers);
    await until(
      async () => (streams = await metric(gqlServer.url, 'derm_subscription_streams')) >= n,
      connectBudgetMs(n),
      () => `${n} live subscriptions (the server counts ${streams})`,
      500,
    );
  } catch (err) {
    // The run fails as it failed; the sampling's inspector session is not left open behind it.
    await sampling?.stop().catch(() => {});
    throw err;
  }
  await sleep(SETTLE_MS);
  g.connectMs = Date.now() - t2 - SETTLE_MS;
  g.rssConnected = procRssBytes(gqlServer.pid);
  if (sampling) {
    const allocated = allocationReport(await sampling.stop(), await scriptSourceMaps(gqlServer.inspectorUrl!), n);
    log(
      `   allocated while connecting, N = ${n}, ${scenarioName}: ${allocated.perConnectionKiB.toFixed(1)} KiB per connection;`,
    );
    log(`   by function, self:`);
    for (const line of allocated.self) log(`     ${line}`);
    log(`   by function, total (the function and what it calls):`);
    for (const line of allocated.total) log(`     ${line}`);
  }
  result.groups = await metric(gqlServer.url, 'derm_delivery_groups');
  result.groupMembers = await metric(gqlServer.url, 'derm_delivery_group_members');
  log(
    `   ${n} graphql-ws subscriptions live (${(g.connectMs / 1000).toFixed(1)} s) in ${result.groups} delivery groups`,
  );

  // What holding N connections costs with nothing happening, so that it can be told apart from the events' cost.
  await sleep(REST_SETTLE_MS);
  // Read before the window opens: scraping /metrics is work of the server's own.
  const restCollections0 = await fullCollections(gqlServer.url);
  const rest0 = { graphql: procCpuNs(gqlServer.pid), raw: procCpuNs(rawServer.pid), at: nowMs(epoch) };
  await sleep(REST_MS);
  const restEnd = nowMs(epoch);
  const restSeconds = (restEnd - rest0.at) / 1000;
  g.restCpuNsPerS = (procCpuNs(gqlServer.pid) - rest0.graphql) / restSeconds;
  w.restCpuNsPerS = (procCpuNs(rawServer.pid) - rest0.raw) / restSeconds;
  logCollections(`at rest (${restSeconds.toFixed(0)} s)`, restCollections0, await fullCollections(gqlServer.url));

  // Interleaved, event by event, so that both servers see the same machine noise.
  let index = 0;
  const frameBytes = new Set<number>();
  const pair = async (measure: boolean) => {
    const event = scenario.next();
    const receivers = event.audiences.reduce((sum, name) => sum + audiences.get(name)!.count, 0);
    const gq = await runEvent(list, 'graphql', index, gqlServer, event.audiences, receivers, event.send);
    const frames = event.audiences.map((name) => checkFrame(gq.frames[name], audiences.get(name)!));
    const raw = await runEvent(list, 'raw', index, rawServer, event.audiences, receivers, () =>
      rawBroadcast(rawServer.url, event.audiences, frames),
    );
    event.audiences.forEach((name, i) => {
      if (raw.frames[name] !== frames[i])
        throw new Error(`the raw server delivered other bytes than the GraphQL frame to ${name}`);
      frameBytes.add(Buffer.byteLength(frames[i]));
    });
    index++;
    if (measure) {
      g.samples.push(gq.sample);
      w.samples.push(raw.sample);
    }
  };
  for (let i = 0; i < WARMUP; i++) await pair(false);
  const collections0 = await fullCollections(gqlServer.url);
  const stat0 = { graphql: procStatCpuNs(gqlServer.pid), raw: procStatCpuNs(rawServer.pid) };
  for (let i = 0; i < EVENTS; i++) {
    await pair(true);
    if ((i + 1) % 10 === 0 || i + 1 === EVENTS) {
      log(
        `   ${i + 1}/${EVENTS} events; last: graphql ${g.samples[i].last.toFixed(1)} ms, raw ${w.samples[i].last.toFixed(1)} ms`,
      );
    }
  }
  g.statCpuNs = procStatCpuNs(gqlServer.pid) - stat0.graphql;
  w.statCpuNs = procStatCpuNs(rawServer.pid) - stat0.raw;
  logCollections(`during the ${EVENTS} events`, collections0, await fullCollections(gqlServer.url));
  g.rssEnd = procRssBytes(gqlServer.pid);
  w.rssEnd = procRssBytes(rawServer.pid);
  [g.rssEndGc, w.rssEndGc] = await rssAfterGc(gqlServer, rawServer);
  [g.mallocEndGc, w.mallocEndGc] = [procMallocHeapBytes(gqlServer.pid), procMallocHeapBytes(rawServer.pid)];
  [g.heapEndGc, w.heapEndGc] = await Promise.all([heapUsed(gqlServer), heapUsed(rawServer)]);
  if (HEAP_DIR) {
    await writeHeapSnapshot(gqlServer.inspectorUrl!, heapFile('after'));
    const [before, after] = await Promise.all([heapCensus(heapFile('before')), heapCensus(heapFile('after'))]);
    log(`   heap per connection, N = ${n}, ${scenarioName} (growth from before connecting to after the events):`);
    for (const line of growthPerConnection(before, after, n)) log(`     ${line}`);
  }
  result.frameBytes = [...frameBytes].sort((a, b) => a - b);
  if (CPU_PROF_DIR) {
    const windows = g.samples.map((s): Window => [toMonotonicUs(s.fromMs), toMonotonicUs(s.toMs)]);
    const maps = await scriptSourceMaps(gqlServer.inspectorUrl!);
    const rest: Window = [toMonotonicUs(rest0.at), toMonotonicUs(restEnd)];
    profiled.push({ n, scenario: scenarioName, pid: gqlServer.pid, windows, rest, maps });
  }

  await stopWorkers(list);
  await Promise.all([stopServer(gqlServer), stopServer(rawServer)]);
  return result;
}

// ---------------------------------------------------------------------------------------------------------------------
// Report

function log(line: string): void {
  console.log(line);
}

/**
 * The top self-time and total-time entries of the server in its measured events, and while it held the connections at
 * rest, per N and case (runs added together).
 */
function profileReport(dir: string): void {
  const cases = new Map<string, typeof profiled>();
  for (const run of profiled) {
    const key = `N = ${run.n.toLocaleString('en-US')}, ${run.scenario}`;
    cases.set(key, [...(cases.get(key) ?? []), run]);
  }
  for (const [title, runs] of cases) {
    const phases = [
      { name: 'in the measured events', windowsOf: (run: (typeof runs)[number]) => run.windows, perEvent: true },
      {
        name: 'at rest with the connections open',
        windowsOf: (run: (typeof runs)[number]) => [run.rest],
        perEvent: false,
      },
    ];
    for (const { name, windowsOf, perEvent } of phases) {
      const samples = noSamples();
      for (const run of runs) {
        const file = profileOf(dir, run.pid);
        if (file) addSamples(file, windowsOf(run), run.maps, samples);
        else log(`\nno profile of process ${run.pid} in ${dir}`);
      }
      const together = runs.length > 1 ? `, ${runs.length} runs together` : '';
      log(
        `\nderm-realtime's CPU ${name}, ${title}: self time per function, % of ${samples.busy} busy ` +
          `samples (idle left out)${together}:`,
      );
      for (const line of topEntries(samples.self, samples.busy)) log(`  ${line}`);
      // Node's own frames (ticks, microtasks, streams) are on nearly every stack and say nothing of where work starts.
      const ours = new Map([...samples.total].filter(([label]) => / {2}(?!node:)/.test(label)));
      log(`\nsame, total time (the function and what it calls) of the server's and its libraries' functions:`);
      for (const line of topEntries(ours, samples.busy, 25)) log(`  ${line}`);
      const events = runs.reduce((n, run) => n + windowsOf(run).length, 0);
      log(
        `\nsame, by part (bench/profile.ts, \`partOf\`)` +
          (perEvent ? ', with the wall time its samples stand for per event:' : ':'),
      );
      for (const line of partEntries(samples, perEvent ? events : undefined)) log(`  ${line}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const deadline = setTimeout(() => {
    console.error(`\nthe run exceeded --timeout=${TIMEOUT_S} s: cleaning up`);
    cleanup().finally(() => process.exit(1));
  }, TIMEOUT_S * 1000);

  log(
    `fan-out benchmark: sizes ${sizes.join(', ')}; cases ${CASES.map(caseName).join(', ')}; ${RUNS} run(s) of each; ` +
      `${PREWARM} events before anyone subscribes, ${WARMUP} warm-up + ${EVENTS} measured events per run, each ` +
      `sent to derm-realtime then replayed to a raw ws server; ${WORKERS} client worker process(es)`,
  );
  log(
    `machine: ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; ` +
      `open-file limit ${openFileLimit()} per process. The load generator runs on the same cores as the servers.`,
  );
  log(`PostgreSQL: throwaway database ${dbName}; Redis: ${REDIS_URL} (namespace ${redisNamespace})`);

  const started = Date.now();
  log(buildServer());
  databaseUrl = await createDatabase();
  const results: CaseRun[] = [];
  // Cases side by side within each run, so that they see the same machine state.
  for (const n of sizes)
    for (let run = 1; run <= RUNS; run++) for (const spec of CASES) results.push(await runCase(n, spec, run));
  clearTimeout(deadline);

  log('\n' + table(results));
  log('\nSupporting figures:\n' + details(results));
  if (CLINICS > 1) log('\n' + clinicsComparison(results, CLINICS).join('\n'));
  const split = costSplit(results);
  if (split.length > 0) log('\n' + split.join('\n'));
  log(
    `\nCPU: per event, summed over the server's threads (/proc/<pid>/task/*/schedstat) from the trigger to ${GAP_MS} ms after the ` +
      "last delivery, divided by the subscribers it reached; the median over events (mixed case: all events' CPU over all " +
      "their frames). derm-realtime's figure includes the mutation itself (HTTP, transaction, Redis wake-up, the delivery's reads), " +
      'the raw figure its HTTP trigger. Latency: monotonic clock shared by all processes. RSS: VmRSS minus VmRSS before ' +
      'connecting, over N; "forced GC": read after a full garbage collection through the inspector, as is the heap ' +
      "used (process.memoryUsage().heapUsed: the objects, apart from native memory) and malloc's main arena ([heap] in " +
      '/proc/<pid>/smaps: native memory, and freed memory malloc kept). ' +
      `At rest: all threads' CPU over ${REST_MS / 1000} s (two of derm-realtime's keep-alive rounds), from ` +
      `${REST_SETTLE_MS / 1000} s after the last subscription went live. ` +
      `${RUNS > 1 ? `${RUNS} runs: median (min–max). ` : ''}` +
      `${cpus().length} cores shared with ${WORKERS} client process(es): read ratios, not absolutes.`,
  );
  if (CPU_PROF_DIR) profileReport(CPU_PROF_DIR);
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
