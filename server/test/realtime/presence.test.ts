import { randomBytes } from 'node:crypto';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { migrateLatest } from '../../src/db/migrate.js';
import { DEMO_CLINICS, DEMO_PASSWORD, demoEmail } from '../../src/db/seeds/demo.js';
import { seedDemoIfEmpty } from '../../src/db/seeds/demo.js';
import { EphemeralKey } from '../../src/realtime/keys.js';
import { sweepIntervalMs } from '../../src/realtime/service.js';
import { spawnServer, type ServerProcess } from '../helpers/process.js';
import { TEST_REDIS_URL } from '../helpers/services.js';
import { createTestDatabase, ENGINE, errorCode, startTestServer, type TestServer } from '../helpers/testServer.js';
import { collect, eventually, wsClient, type Collected } from '../helpers/ws.js';

const PRESENCE = 'subscription { presence { status lastSeenAt user { id name } } }';
const ONLINE_USERS = '{ onlineUsers { status lastSeenAt user { id name } } }';
const SET_STATUS =
  'mutation($status: PresenceStatus!) { setPresenceStatus(status: $status) { status lastSeenAt user { id } } }';

interface PresenceEvent {
  status: string;
  lastSeenAt: string;
  user: { id: string; name: string };
}

/** The presence signals received so far about one user. */
function signalsOf(seen: Collected, userId: string): PresenceEvent[] {
  return seen.results.map((r) => r.data?.presence as PresenceEvent).filter((p) => p?.user.id === userId);
}

/** Waits for the `nth` signal with this status about this user. */
function signal(seen: Collected, userId: string, status: string, nth = 1, timeoutMs = 10_000): Promise<PresenceEvent> {
  return eventually(
    () => signalsOf(seen, userId).filter((p) => p.status === status)[nth - 1],
    timeoutMs,
    `${status} of ${userId}`,
  );
}

/** Resolves once the client's connection is acknowledged, by running a query over it. */
function overSocket(client: Client, query = '{ me { id } }'): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let result: unknown;
    client.subscribe({ query }, { next: (r) => (result = r), error: reject, complete: () => resolve(result) });
  });
}

/** Subscribes, and resolves once the server holds the new stream (signals published from then on arrive). */
async function subscribed(server: TestServer, client: Client, query: string): Promise<Collected> {
  const before = server.app.services.realtime.activeStreams;
  const seen = collect(client, query);
  await eventually(() => server.app.services.realtime.activeStreams > before, 10_000, 'subscription live');
  return seen;
}

describe('presence', () => {
  let server: TestServer;
  let sunrise: Awaited<ReturnType<TestServer['ids']>>;
  let lakeside: Awaited<ReturnType<TestServer['ids']>>;
  const clients: Client[] = [];
  const open = (token: string) => {
    const client = wsClient(server.url, { token });
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    server = await startTestServer();
    [sunrise, lakeside] = await Promise.all([server.ids('sunrise-derm'), server.ids('lakeside-skin')]);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await server?.stop();
  });

  /** The open connections of a user, as the shared expiring set has them. */
  async function connections(tenantId: string, userId: string): Promise<number> {
    return (await server.app.services.realtime.sets.members(EphemeralKey.connections({ tenantId }, userId))).length;
  }

  it('makes a user online with their first connection and offline when their last one closes, announcing each once', async () => {
    const [nurse, frontDesk] = await Promise.all([
      server.login('sunrise-derm', 'nurse'),
      server.login('sunrise-derm', 'frontdesk'),
    ]);
    const jordan = sunrise.users.frontdesk;
    const seen = await subscribed(server, open(nurse), PRESENCE);

    const first = open(frontDesk);
    const online = await signal(seen, jordan, 'ONLINE');
    expect(online.user.name).toBe('Jordan Kim');
    const listed = await server.gql(ONLINE_USERS, {}, nurse);
    expect(listed.data!.onlineUsers).toContainEqual(
      expect.objectContaining({ status: 'ONLINE', user: { id: jordan, name: 'Jordan Kim' } }),
    );

    // A second tab: still one user online, and no second ONLINE.
    const second = open(frontDesk);
    await overSocket(second);
    expect(await connections(sunrise.tenantId, jordan)).toBe(2);
    await second.dispose();
    await eventually(
      async () => (await connections(sunrise.tenantId, jordan)) === 1,
      10_000,
      'second connection removed',
    );
    expect(
      (await server.gql(ONLINE_USERS, {}, nurse)).data!.onlineUsers.map((p: PresenceEvent) => p.user.id),
    ).toContain(jordan);

    const closedAt = Date.now();
    await first.dispose();
    const offline = await signal(seen, jordan, 'OFFLINE');
    expect(new Date(offline.lastSeenAt).getTime()).toBeGreaterThanOrEqual(closedAt - 1000);
    expect(
      (await server.gql(ONLINE_USERS, {}, nurse)).data!.onlineUsers.map((p: PresenceEvent) => p.user.id),
    ).not.toContain(jordan);

    // One instance publishes in order: once this later signal is in, any extra one about Jordan would be too.
    await server.gql(SET_STATUS, { status: 'BUSY' }, nurse);
    await signal(seen, sunrise.users.nurse, 'BUSY');
    expect(signalsOf(seen, jordan).map((p) => p.status)).toEqual(['ONLINE', 'OFFLINE']);
  });

  it('announces a status set with setPresenceStatus, lists it in onlineUsers, and refuses OFFLINE', async () => {
    const [admin, lee] = await Promise.all([
      server.login('sunrise-derm', 'admin'),
      server.login('sunrise-derm', 'lee'),
    ]);
    const drLee = sunrise.users.lee;
    const seen = await subscribed(server, open(admin), PRESENCE);
    await overSocket(open(lee));
    await signal(seen, drLee, 'ONLINE');

    const away = await server.gql(SET_STATUS, { status: 'AWAY' }, lee);
    expect(away.errors).toBeUndefined();
    expect(away.data!.setPresenceStatus).toMatchObject({ status: 'AWAY', user: { id: drLee } });
    await signal(seen, drLee, 'AWAY');
    await server.gql(SET_STATUS, { status: 'BUSY' }, lee);
    await signal(seen, drLee, 'BUSY');
    const listed = await server.gql(ONLINE_USERS, {}, admin);
    expect(listed.data!.onlineUsers).toContainEqual(
      expect.objectContaining({ status: 'BUSY', user: { id: drLee, name: 'Dr. Maya Lee' } }),
    );

    const refused = await server.gql(SET_STATUS, { status: 'OFFLINE' }, lee);
    expect(errorCode(refused)).toBe('BAD_USER_INPUT');
    expect(refused.errors![0].extensions!.field).toBe('status');

    // A status belongs to a connection: without one there is nothing to set it on.
    const patel = await server.login('sunrise-derm', 'patel');
    const unconnected = await server.gql(SET_STATUS, { status: 'AWAY' }, patel);
    expect(errorCode(unconnected)).toBe('CONFLICT');
    expect(unconnected.errors![0].extensions!.reason).toBe('NOT_CONNECTED');

    await server.gql(SET_STATUS, { status: 'ONLINE' }, lee);
    await signal(seen, drLee, 'ONLINE', 2);
    expect(signalsOf(seen, drLee).map((p) => p.status)).toEqual(['ONLINE', 'AWAY', 'BUSY', 'ONLINE']);
  });

  it('starts a new session ONLINE, whatever status the previous one ended with', async () => {
    const [admin, drPatel] = await Promise.all([
      server.login('sunrise-derm', 'admin'),
      server.login('sunrise-derm', 'patel'),
    ]);
    const patel = sunrise.users.patel;
    const seen = await subscribed(server, open(admin), PRESENCE);
    const before = open(drPatel);
    await signal(seen, patel, 'ONLINE');
    await server.gql(SET_STATUS, { status: 'BUSY' }, drPatel);
    await signal(seen, patel, 'BUSY');
    await before.dispose();
    await signal(seen, patel, 'OFFLINE');

    await overSocket(open(drPatel));
    await signal(seen, patel, 'ONLINE', 2);
    const listed = await server.gql(ONLINE_USERS, {}, admin);
    expect(listed.data!.onlineUsers).toContainEqual(
      expect.objectContaining({ status: 'ONLINE', user: expect.objectContaining({ id: patel }) }),
    );
  });

  it('never tells another clinic', async () => {
    const [sunriseNurse, lakesideNurse, lakesideDesk] = await Promise.all([
      server.login('sunrise-derm', 'nurse'),
      server.login('lakeside-skin', 'nurse'),
      server.login('lakeside-skin', 'frontdesk'),
    ]);
    const theirs = await subscribed(server, open(lakesideNurse), PRESENCE);
    const ours = await subscribed(server, open(sunriseNurse), PRESENCE);

    const desk = open(await server.login('sunrise-derm', 'frontdesk'));
    await signal(ours, sunrise.users.frontdesk, 'ONLINE');
    await server.gql(SET_STATUS, { status: 'AWAY' }, sunriseNurse);
    await signal(ours, sunrise.users.nurse, 'AWAY');
    await desk.dispose();
    await signal(ours, sunrise.users.frontdesk, 'OFFLINE');
    // Neither clinic's list shows the other's staff.
    const lakesideList = await server.gql(ONLINE_USERS, {}, lakesideNurse);
    expect(lakesideList.data!.onlineUsers.map((p: PresenceEvent) => p.user.id)).toEqual([lakeside.users.nurse]);

    // Lakeside hears its own staff member, and nothing before it.
    open(lakesideDesk);
    await signal(theirs, lakeside.users.frontdesk, 'ONLINE');
    await server.gql(SET_STATUS, { status: 'BUSY' }, lakesideNurse);
    await signal(theirs, lakeside.users.nurse, 'BUSY');
    expect(theirs.results.map((r) => r.data!.presence.user.id)).toEqual([
      lakeside.users.frontdesk,
      lakeside.users.nurse,
    ]);
    expect(ours.results.map((r) => r.data!.presence.user.id)).not.toContain(lakeside.users.frontdesk);
  });

  it('answers only signed-in staff', async () => {
    expect(errorCode(await server.gql(ONLINE_USERS))).toBe('UNAUTHENTICATED');
    expect(errorCode(await server.gql(SET_STATUS, { status: 'AWAY' }))).toBe('UNAUTHENTICATED');
  });
});

describe('PRESENCE_TTL', () => {
  it('defaults to 30 seconds and accepts whole seconds from 2', () => {
    expect(loadConfig({ NODE_ENV: 'test' }).presenceTtlSeconds).toBe(30);
    expect(loadConfig({ NODE_ENV: 'test', PRESENCE_TTL: '2' }).presenceTtlSeconds).toBe(2);
    // Each instance sweeps every sixth of the shortest time to live.
    expect(sweepIntervalMs({ presenceTtlSeconds: 3, viewingTtlSeconds: 30 })).toBe(500);
  });

  it.each(['1', '0', '2.5', 'soon', '3601'])('stops start-up on %j and names the variable', (value) => {
    expect(() => loadConfig({ NODE_ENV: 'test', PRESENCE_TTL: value })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: 'test', PRESENCE_TTL: value })).toThrow(/PRESENCE_TTL/);
  });
});

// Instances share presence only through Redis and PostgreSQL; the embedded database and the in-process pub/sub
// belong to one process. So this runs in the postgres project only (which always has both).
describe.runIf(ENGINE === 'postgres')('presence across instances', () => {
  const TTL_SECONDS = 3;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let crashing: ServerProcess;
  let observing: ServerProcess;
  let draining: ServerProcess;
  const clients: Client[] = [];
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    database = await createTestDatabase();
    // Migrated and seeded here once, so the instances start side by side with nothing left to do.
    await migrateLatest(database.db);
    await seedDemoIfEmpty(database.db);
    const tenant = await database.db('tenants').where({ slug: 'sunrise-derm' }).first('id');
    for (const row of await database.db('users').where({ tenantId: tenant.id }).select('id', 'email'))
      ids[row.email] = row.id;
    const env = {
      DATABASE_URL: database.url!,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_NAMESPACE: `test-${randomBytes(4).toString('hex')}`,
    };
    [crashing, observing, draining] = await Promise.all([
      spawnServer({ ...env, PRESENCE_TTL: String(TTL_SECONDS) }),
      spawnServer({ ...env, PRESENCE_TTL: String(TTL_SECONDS) }),
      // The default time to live: going offline well before it proves that a graceful stop does not wait for it.
      spawnServer(env),
    ]);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await Promise.all([crashing, observing, draining].map((p) => p?.stop('SIGKILL')));
    await database?.drop();
  });

  const clinic = DEMO_CLINICS.find((c) => c.slug === 'sunrise-derm')!;
  async function login(instance: ServerProcess, key: string): Promise<string> {
    const res = await post(
      instance,
      'mutation($t: String!, $e: String!, $p: String!) { login(tenant: $t, email: $e, password: $p) { token } }',
      {
        t: clinic.slug,
        e: demoEmail(clinic, key),
        p: DEMO_PASSWORD,
      },
    );
    return res.data.login.token;
  }
  async function post(instance: ServerProcess, query: string, variables: Record<string, unknown> = {}, token?: string) {
    const res = await fetch(`${instance.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as { data: any; errors?: unknown[] };
  }
  async function liveStreams(instance: ServerProcess): Promise<number> {
    const metrics = await (await fetch(`${instance.url}/metrics`)).text();
    return Number(/^derm_subscription_streams (\d+)/m.exec(metrics)?.[1] ?? 0);
  }
  const connect = (instance: ServerProcess, token: string) => {
    const client = wsClient(instance.url, { token });
    clients.push(client);
    return client;
  };
  /** A connection to an instance that is about to go away: losing it is expected, not an error for the console. */
  const connectDoomed = (instance: ServerProcess, token: string) => {
    const client = createClient({
      url: `${instance.url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      lazy: false,
      retryAttempts: 0,
      onNonLazyError: () => {},
    });
    clients.push(client);
    return client;
  };
  async function subscribedOn(instance: ServerProcess, token: string): Promise<Collected> {
    const before = await liveStreams(instance);
    const seen = collect(connect(instance, token), PRESENCE);
    await eventually(async () => (await liveStreams(instance)) > before, 10_000, 'presence subscription live');
    return seen;
  }

  it('shows a user connected to one instance as online on another, and offline within the TTL once that instance is killed', async () => {
    const frontdesk = ids[demoEmail(clinic, 'frontdesk')];
    const [nurse, desk] = await Promise.all([login(observing, 'nurse'), login(crashing, 'frontdesk')]);
    const seen = await subscribedOn(observing, nurse);

    await overSocket(connectDoomed(crashing, desk));
    await signal(seen, frontdesk, 'ONLINE');
    const listed = await post(observing, ONLINE_USERS, {}, nurse);
    expect(listed.data.onlineUsers).toContainEqual(
      expect.objectContaining({ status: 'ONLINE', user: expect.objectContaining({ id: frontdesk }) }),
    );

    const killedAt = Date.now();
    await crashing.stop('SIGKILL');
    // Renewed every TTL/3, lapsed after TTL, found by the next sweep (TTL/6 here): margin for a loaded machine.
    const deadline =
      TTL_SECONDS * 1000 + sweepIntervalMs({ presenceTtlSeconds: TTL_SECONDS, viewingTtlSeconds: 30 }) + 3000;
    const offline = await signal(seen, frontdesk, 'OFFLINE', 1, deadline);
    const elapsed = Date.now() - killedAt;
    console.info(`presence: OFFLINE ${elapsed} ms after SIGKILL (PRESENCE_TTL=${TTL_SECONDS}s)`);
    expect(elapsed).toBeLessThanOrEqual(deadline);
    expect(new Date(offline.lastSeenAt).getTime()).toBeLessThanOrEqual(Date.now());
    const after = await post(observing, ONLINE_USERS, {}, nurse);
    expect(after.data.onlineUsers.map((p: PresenceEvent) => p.user.id)).not.toContain(frontdesk);
    expect(signalsOf(seen, frontdesk).map((p) => p.status)).toEqual(['ONLINE', 'OFFLINE']);
  });

  it('takes the users of a gracefully stopped instance offline at once, not after the TTL', async () => {
    const patel = ids[demoEmail(clinic, 'patel')];
    const [admin, drPatel] = await Promise.all([login(observing, 'admin'), login(draining, 'patel')]);
    const seen = await subscribedOn(observing, admin);
    await overSocket(connectDoomed(draining, drPatel));
    await signal(seen, patel, 'ONLINE');

    const stoppedAt = Date.now();
    expect(await draining.stop('SIGTERM')).toBe(0);
    // Its time to live is 30 s: well within that, the offline came from the shutdown itself.
    await signal(seen, patel, 'OFFLINE', 1, 10_000);
    expect(Date.now() - stoppedAt).toBeLessThan(10_000);
  });
});
