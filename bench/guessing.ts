/**
 * Online password guessing against the built server (docs/architecture.md, "Sign-in throttling"): what an attacker
 * gets, and what a live subscriber of the same instance feels meanwhile.
 *
 * One server as it ships (built, PostgreSQL, Redis), the demo clinics. A front-desk user keeps a graphql-ws
 * subscription to `appointmentChanged`; a colleague moves an appointment every `--probe-ms` and the time from the
 * mutation sent to the subscriber's frame is the delivery latency, measured quiet first, then during the attack. The
 * attack: `--guesses` wrong passwords for `admin@sunrise.example`, `--concurrency` at a time, over HTTP `login`; every
 * answer's HTTP status and `extensions.code` is counted, and when the first answer other than a wrong password's came.
 * Then the right password, once, from another address. `/livez` is timed throughout. The server sits behind one trusted
 * proxy (`TRUST_PROXY=1`) as in production: the attacker's address is 203.0.113.66 (X-Forwarded-For), the right
 * password's
 * 198.51.100.7, so the account's lock and the attacker's address are told apart.
 *
 *   npm run bench:guessing                                  600 guesses, 30 at a time
 *   npm run bench:guessing -- --guesses=200 --concurrency=10
 *
 * Options: --guesses / BENCH_GUESSES, --concurrency / BENCH_CONCURRENCY, --probe-ms / BENCH_PROBE_MS (a delivery
 * probe every so often, default 250), BENCH_DATABASE_URL, BENCH_REDIS_URL (as `npm run bench`).
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { createClient } from 'graphql-ws';
import { Redis } from 'ioredis';
import pg from 'pg';
import { WebSocket } from 'ws';
import { DEMO_PASSWORD } from '../server/src/db/seeds/demo.js';
import { ATTACKER_ADDRESS, login, type AttackOrder, type AttackReport } from './guessingAttacker.js';
import {
  buildServer,
  percentile,
  procStatCpuNs,
  SERVER_BUILD,
  SERVER_NODE_FLAGS,
  sleep,
  spawnListening,
  type Spawned,
} from './support.js';

const { values: flags } = parseArgs({
  options: {
    guesses: { type: 'string' },
    concurrency: { type: 'string' },
    'probe-ms': { type: 'string' },
  },
});
const GUESSES = Number(flags.guesses ?? process.env.BENCH_GUESSES ?? 600);
const CONCURRENCY = Number(flags.concurrency ?? process.env.BENCH_CONCURRENCY ?? 30);
const PROBE_MS = Number(flags['probe-ms'] ?? process.env.BENCH_PROBE_MS ?? 250);
const ADMIN_DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
for (const [name, value] of Object.entries({ GUESSES, CONCURRENCY, PROBE_MS })) {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, not ${value}`);
}

const runId = randomBytes(4).toString('hex');
const dbName = `derm_guessing_${runId}`;
const namespace = `bench-guessing-${runId}`;
const log = (line: string) => console.log(line);
const RIGHTFUL_ADDRESS = '198.51.100.7';

async function graphql<T>(url: string, token: string, query: string, variables: Record<string, unknown> = {}) {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T; errors?: unknown[] };
  if (!body.data || body.errors) throw new Error(`request failed (${res.status}): ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** A colleague's change, and when the subscriber sees it: one latency sample per probe. */
async function deliveryProbe(url: string) {
  const viewer = (await login(url, 'frontdesk@sunrise.example', DEMO_PASSWORD, RIGHTFUL_ADDRESS)).token!;
  const colleague = (await login(url, 'nurse@sunrise.example', DEMO_PASSWORD, RIGHTFUL_ADDRESS)).token!;
  const ids = await graphql<{
    staff: { id: string; role: string }[];
    patients: { edges: { node: { id: string } }[] };
  }>(url, colleague, '{ staff { id role } patients(first: 1) { edges { node { id } } } }');
  const startsAt = new Date(Date.UTC(2032, 0, 5, 15));
  const booked = await graphql<{ createAppointment: { id: string } }>(
    url,
    colleague,
    'mutation($i: CreateAppointmentInput!) { createAppointment(input: $i) { id } }',
    {
      i: {
        providerId: ids.staff.find((s) => s.role === 'PROVIDER')!.id,
        patientId: ids.patients.edges[0].node.id,
        startsAt: startsAt.toISOString(),
        endsAt: new Date(startsAt.getTime() + 30 * 60_000).toISOString(),
        reason: 'Guessing benchmark',
      },
    },
  );
  const waiting = new Map<string, (at: number) => void>();
  const client = createClient({
    url: `${url.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${viewer}` },
    retryAttempts: 0,
  });
  let subscribed!: () => void;
  const ready = new Promise<void>((resolve) => (subscribed = resolve));
  client.subscribe<{ appointmentChanged: { appointment: { room: string | null } } }>(
    { query: 'subscription { appointmentChanged { appointment { id room } } }' },
    {
      next: ({ data }) => {
        const room = data?.appointmentChanged.appointment.room;
        if (room) waiting.get(room)?.(performance.now());
      },
      error: (err) => log(`subscription failed: ${JSON.stringify(err)}`),
      complete: () => {},
    },
  );
  // Subscribed once a change made now arrives.
  let n = 0;
  const probe = async (): Promise<number> => {
    const room = `Probe ${++n}`;
    const seen = new Promise<number>((resolve) => waiting.set(room, resolve));
    const sent = performance.now();
    await graphql(
      url,
      colleague,
      'mutation($id: ID!, $i: UpdateAppointmentInput!) { updateAppointment(id: $id, input: $i) { id } }',
      {
        id: booked.createAppointment.id,
        i: { room },
      },
    );
    const at = await Promise.race([seen, sleep(10_000).then(() => Number.NaN)]);
    waiting.delete(room);
    return at - sent;
  };
  void (async () => {
    while (Number.isNaN(await probe()));
    subscribed();
  })();
  await ready;
  return { probe, dispose: () => client.dispose() };
}

/**
 * The attack in a process of its own (bench/guessingAttacker.ts): an attacker is another machine, so its requests and
 * answers must not hold up the event loop that times the subscriber's frames. Resolves with every answer.
 */
function runAttacker(order: AttackOrder): Promise<AttackReport> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', new URL('./guessingAttacker.ts', import.meta.url).pathname],
    {
      env: { ...process.env, ATTACK_ORDER: JSON.stringify(order) },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as AttackReport) : reject(new Error(`the attacker exited with ${code}`)),
    );
  });
}

/** Samples until `stop` resolves: one every `everyMs`, each awaited. */
async function sampling(sample: () => Promise<number>, everyMs: number, stop: Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  let done = false;
  void stop.then(() => (done = true));
  while (!done) {
    const started = performance.now();
    out.push(await sample());
    await sleep(Math.max(0, everyMs - (performance.now() - started)));
  }
  return out;
}

async function livez(url: string): Promise<number> {
  const started = performance.now();
  await (await fetch(`${url}/livez`)).text();
  return performance.now() - started;
}

const fmt = (xs: number[]) => {
  const ok = xs.filter((x) => Number.isFinite(x));
  if (ok.length === 0) return 'none';
  return `p50 ${percentile(ok, 50).toFixed(1)} ms, p95 ${percentile(ok, 95).toFixed(1)} ms, max ${Math.max(...ok).toFixed(1)} ms (${ok.length} samples${ok.length < xs.length ? `, ${xs.length - ok.length} lost` : ''})`;
};

async function main(): Promise<void> {
  log(buildServer());
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  const databaseUrl = new URL(ADMIN_DATABASE_URL);
  databaseUrl.pathname = `/${dbName}`;
  let server: Spawned | undefined;
  try {
    server = await spawnListening(
      'derm-realtime',
      SERVER_BUILD,
      {
        NODE_ENV: 'production',
        SEED_DEMO: 'true',
        PORT: '0',
        HOST: '127.0.0.1',
        DATABASE_URL: databaseUrl.toString(),
        REDIS_URL,
        REDIS_NAMESPACE: namespace,
        JWT_SECRET: randomBytes(32).toString('base64url'),
        // `info` is needed for the "listening" line.
        LOG_LEVEL: 'info',
        TRUST_PROXY: '1',
      },
      { nodeArgs: SERVER_NODE_FLAGS },
    );
    const { url } = server;
    const subscriber = await deliveryProbe(url);

    // Quiet: the same probes with nothing else going on.
    const quiet = await sampling(subscriber.probe, PROBE_MS, sleep(5000));
    const quietLivez = await sampling(() => livez(url), 200, sleep(2000));

    // Whose CPU the flood takes: the server's (all its threads), the attacker's, and this process's (the probes).
    const serverCpu0 = procStatCpuNs(server.pid);
    const ownCpu0 = process.cpuUsage();
    const started = performance.now();
    const order: AttackOrder = { url, guesses: GUESSES, concurrency: CONCURRENCY, runId };
    const attack = runAttacker(order);
    const [during, duringLivez] = await Promise.all([
      sampling(subscriber.probe, PROBE_MS, attack),
      sampling(() => livez(url), 200, attack),
    ]);
    const { answers, cpuMs: attackerCpuMs } = await attack;
    const seconds = (performance.now() - started) / 1000;
    const serverCpuMs = (procStatCpuNs(server.pid) - serverCpu0) / 1e6;
    const ownCpu = process.cpuUsage(ownCpu0);
    const ownCpuMs = (ownCpu.user + ownCpu.system) / 1000;
    const right = await login(url, 'admin@sunrise.example', DEMO_PASSWORD, RIGHTFUL_ADDRESS);
    await subscriber.dispose();

    const byCode = new Map<string, number>();
    for (const a of answers) byCode.set(`${a.status} ${a.code}`, (byCode.get(`${a.status} ${a.code}`) ?? 0) + 1);
    const firstOther = answers.find((a) => a.code !== 'UNAUTHENTICATED');
    const wrongAnswered = answers.filter((a) => a.code === 'UNAUTHENTICATED');

    log(
      `\nguessing run: ${GUESSES} wrong passwords for admin@sunrise.example, ${CONCURRENCY} at a time, from ${ATTACKER_ADDRESS}`,
    );
    log(`  ${answers.length} answers in ${seconds.toFixed(1)} s: ${(answers.length / seconds).toFixed(1)} answers/s`);
    log(
      `  password actually checked and refused (UNAUTHENTICATED): ${wrongAnswered.length}, ` +
        `${(wrongAnswered.length / seconds).toFixed(1)}/s`,
    );
    for (const [code, count] of [...byCode].sort((a, b) => b[1] - a[1])) log(`  ${code}: ${count}`);
    log(
      firstOther
        ? `  first answer other than a wrong password's: guess ${answers.indexOf(firstOther) + 1}, ` +
            `${(firstOther.at / 1000).toFixed(1)} s in (${firstOther.status} ${firstOther.code})`
        : '  every answer was a wrong password: nothing slowed or stopped the guesser',
    );
    log(`  answer time: ${fmt(answers.map((a) => a.ms))}`);
    log(
      `  CPU meanwhile: server ${serverCpuMs.toFixed(0)} ms (${(serverCpuMs / answers.length).toFixed(2)} ms per answer, ` +
        `${((serverCpuMs / 1000 / seconds) * 100).toFixed(0)}% of a core); attacker ${attackerCpuMs.toFixed(0)} ms ` +
        `(${((attackerCpuMs / 1000 / seconds) * 100).toFixed(0)}% of a core); subscriber and probes ` +
        `${ownCpuMs.toFixed(0)} ms`,
    );
    log(`  then the right password, from ${RIGHTFUL_ADDRESS}: ${right.status} ${right.code}`);
    log(`\nlive subscriber's delivery latency (mutation sent -> frame received), one probe every ${PROBE_MS} ms:`);
    log(`  quiet:  ${fmt(quiet)}`);
    log(`  during: ${fmt(during)}`);
    const ratio = percentile(during.filter(Number.isFinite), 50) / percentile(quiet, 50);
    log(`  p50 during / quiet: ${ratio.toFixed(2)}×`);
    log(`/livez: quiet ${fmt(quietLivez)}; during ${fmt(duringLivez)}`);
  } finally {
    await server?.stop(5000);
    await admin.query(`drop database if exists ${dbName} with (force)`);
    await admin.end();
    const redis = new Redis(REDIS_URL);
    let cursor = '0';
    do {
      const [nextCursor, keys] = await redis.scan(cursor, 'MATCH', `${namespace}:*`, 'COUNT', 1000);
      cursor = nextCursor;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
    redis.disconnect();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
