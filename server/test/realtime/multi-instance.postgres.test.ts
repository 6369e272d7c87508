import { randomBytes } from 'node:crypto';
import type { Client } from 'graphql-ws';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEMO_PASSWORD } from '../../src/db/seeds/demo.js';
import { tenantChannel } from '../../src/events/channels.js';
import { eventCursor } from '../../src/events/eventLog.js';
import { spawnServer, type ServerProcess } from '../helpers/process.js';
import {
  APPOINTMENT_CHANGED,
  CREATE_APPOINTMENT,
  freeSlot,
  metric,
  NOTIFICATION,
  SEND_ALERT,
} from '../helpers/realtime.js';
import { TEST_REDIS_URL } from '../helpers/services.js';
import { createTestDatabase } from '../helpers/testServer.js';
import { collect, wsClient, type Collected } from '../helpers/ws.js';

// Instances share state through PostgreSQL and Redis; the embedded project runs PGlite in memory and the in-process
// pub/sub, which are one process's by design: there is nothing for a second instance to share, so these run on
// the postgres project only.
describe('several instances on one PostgreSQL and one Redis', () => {
  const namespace = `test-${randomBytes(4).toString('hex')}`;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let a: ServerProcess;
  let b: ServerProcess;
  let redis: Redis;
  let tenantId: string;
  let users: Record<string, string>;
  let patients: string[];
  let nurse: string;
  let frontDesk: string;
  const clients: Client[] = [];

  async function gql(url: string, query: string, variables: Record<string, unknown>, token?: string) {
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data?: any; errors?: unknown[] };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data;
  }
  const login = async (email: string) =>
    (
      await gql(
        a.url,
        'mutation($e: String!, $p: String!) { login(tenant: "sunrise-derm", email: $e, password: $p) { token } }',
        { e: email, p: DEMO_PASSWORD },
      )
    ).login.token as string;
  const book = async (url: string) =>
    (
      await gql(
        url,
        CREATE_APPOINTMENT,
        { i: { providerId: users.lee, patientId: patients[3], ...freeSlot() } },
        frontDesk,
      )
    ).createAppointment.id as string;

  /** Subscribes on an instance and waits until that instance holds the stream (read from its /metrics). */
  async function subscribe(server: ServerProcess, token: string, query: string): Promise<Collected> {
    const before = await metric(server.url, 'derm_subscription_streams');
    const c = wsClient(server.url, { token });
    clients.push(c);
    const sub = collect(c, query);
    await vi.waitFor(async () => expect(await metric(server.url, 'derm_subscription_streams')).toBe(before + 1), {
      timeout: 10_000,
    });
    return sub;
  }

  /** The Redis ids of this deployment's subscriber connections (one per instance). */
  async function subscriberConnections(): Promise<string[]> {
    const list = (await redis.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string;
    return list
      .split('\n')
      .map((line) => Object.fromEntries(line.split(' ').map((kv) => kv.split('=') as [string, string])))
      .filter((c) => c.name === `derm-realtime:${namespace}:subscriber`)
      .map((c) => c.id);
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    const env = { DATABASE_URL: database.url!, REDIS_URL: TEST_REDIS_URL, REDIS_NAMESPACE: namespace };
    // One after the other: the first migrates and seeds the empty database.
    a = await spawnServer(env);
    b = await spawnServer(env);
    redis = new Redis(TEST_REDIS_URL);
    const tenant = await database.db('tenants').where({ slug: 'sunrise-derm' }).first('id');
    tenantId = tenant.id;
    const rows = await database.db('users').where({ tenantId }).select('id', 'email');
    users = Object.fromEntries(rows.map((u: { id: string; email: string }) => [u.email.split('@')[0], u.id]));
    patients = await database.db('patients').where({ tenantId }).orderBy('mrn').pluck('id');
    [nurse, frontDesk] = await Promise.all([login('nurse@sunrise.example'), login('frontdesk@sunrise.example')]);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await Promise.all([a?.stop(), b?.stop()]);
    redis?.disconnect();
    await database?.drop();
  });

  it('should deliver a change made on instance A to a subscriber on instance B', async () => {
    const onB = await subscribe(b, nurse, APPOINTMENT_CHANGED);
    const onA = await subscribe(a, nurse, APPOINTMENT_CHANGED);
    const id = await book(a.url);
    for (const sub of [onA, onB]) {
      const [event] = await sub.waitFor(1);
      expect(event.data!.appointmentChanged).toMatchObject({ kind: 'CREATED', appointment: { id } });
    }
  });

  it('should give subscribers on both instances every booking made on both at once, once each, in the order of the log', async () => {
    const seqBefore = Number((await database.db('events').where({ tenantId }).max('seq as seq').first())!.seq);
    const subscribers = [
      await subscribe(a, nurse, APPOINTMENT_CHANGED),
      await subscribe(b, nurse, APPOINTMENT_CHANGED),
    ];
    // Each instance hands the rows it committed to its own subscribers when they are the next ones; bookings racing
    // on the other instance take some of those places, and then the log is read instead.
    const booked = await Promise.all(Array.from({ length: 24 }, (_, i) => book(i % 2 === 0 ? a.url : b.url)));
    const expected = (
      await database
        .db('events')
        .where({ tenantId, topic: 'appointment' })
        .andWhere('seq', '>', seqBefore)
        .orderBy('seq')
        .select('entityId', 'seq')
    ).map((row: { entityId: string; seq: string }) => ({
      id: row.entityId,
      cursor: eventCursor(tenantId, Number(row.seq)),
    }));
    expect(expected.map((e) => e.id).sort()).toEqual([...booked].sort());
    // One more from each instance: anything delivered twice would come before them.
    const last = [await book(a.url), await book(b.url)];
    for (const sub of subscribers) {
      await sub.waitFor(expected.length + 2, 15_000);
      const got = sub.results.map((r) => r.data!.appointmentChanged);
      expect(got.slice(0, expected.length).map((e) => ({ id: e.appointment.id, cursor: e.cursor }))).toEqual(expected);
      expect(got.slice(expected.length).map((e) => e.appointment.id)).toEqual(last);
    }
  });

  it('should deliver a change whose wake-up it never heard before its own next one, in the order of the log', async () => {
    // An instance on another namespace of the same database: its wake-ups never reach A, as when a pub/sub message is
    // lost (Redis delivers at most once). A then commits one of its own: it must not hand its own row to its
    // subscribers as the next one, but read the log and deliver both, in order.
    const deaf = await spawnServer({
      DATABASE_URL: database.url!,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_NAMESPACE: `${namespace}-other`,
    });
    try {
      const onA = await subscribe(a, nurse, APPOINTMENT_CHANGED);
      const unheard = await book(deaf.url);
      const own = await book(a.url);
      await onA.waitFor(2, 15_000);
      expect(onA.results.map((r) => r.data!.appointmentChanged.appointment.id)).toEqual([unheard, own]);
    } finally {
      await deaf.stop();
    }
  });

  it('should backfill live subscribers from the log, exactly once, after their Redis connection dropped', async () => {
    const subscribers = [await subscribe(a, nurse, NOTIFICATION), await subscribe(b, nurse, NOTIFICATION)];
    const seqBefore = Number((await database.db('events').where({ tenantId }).max('seq as seq').first())!.seq);
    let titles: string[] = [];
    let committedUnheard = 0;
    // Redis drops both instances' subscriber connections; alerts are committed (on A) before they are back, so their
    // wake-ups reach nobody. ioredis reconnects within ~100 ms, so a round in which no commit came early enough to be
    // unheard proves nothing about the backfill and is done again (at most five rounds); a busy machine may leave only
    // the first of a round unheard, which is enough.
    for (let round = 0; round < 5 && committedUnheard === 0; round++) {
      const killed = await subscriberConnections();
      expect(killed).toHaveLength(2);
      for (const id of killed) await redis.call('CLIENT', 'KILL', 'ID', id);
      const sent = [`outage ${round}.1`, `outage ${round}.2`, `outage ${round}.3`];
      // Each alert's wake-up was published by the time its mutation answered: unheard if nobody listened then.
      for (const title of sent) {
        await gql(a.url, SEND_ALERT, { i: { userId: users.nurse, kind: 'ALERT', title } }, nurse);
        const [, listeners] = (await redis.call(
          'PUBSUB',
          'NUMSUB',
          `${namespace}:${tenantChannel({ tenantId }, 'events')}`,
        )) as [string, number];
        if (Number(listeners) === 0) committedUnheard += 1;
      }
      titles = [...titles, ...sent];
      // Both subscribers reconnect.
      await vi.waitFor(async () => expect(await subscriberConnections()).toHaveLength(2), { timeout: 10_000 });
    }
    expect(committedUnheard).toBeGreaterThan(0);
    // One more after the outage: had anything come twice, it would come before this one.
    await gql(a.url, SEND_ALERT, { i: { userId: users.nurse, kind: 'ALERT', title: 'after the outage' } }, nurse);
    const expected = (
      await database
        .db('events')
        .where({ tenantId, topic: 'notification', kind: 'CREATED', userId: users.nurse })
        .andWhere('seq', '>', seqBefore)
        .orderBy('seq')
        .pluck('seq')
    ).map((seq: string) => eventCursor(tenantId, Number(seq)));
    expect(expected).toHaveLength(titles.length + 1);
    for (const sub of subscribers) {
      await sub.waitFor(expected.length, 15_000);
      expect(sub.results.map((r) => r.data!.notification.cursor)).toEqual(expected);
      expect(sub.results.map((r) => r.data!.notification.notification.title)).toEqual([...titles, 'after the outage']);
    }
    for (const server of [a, b])
      expect(server.output()).toContain('redis subscriber reconnected; backfilling from the event log');
  });

  it('should close its clients with 1001 on SIGTERM and exit 0, while the other instance serves on', async () => {
    let closed: number | undefined;
    const c = wsClient(b.url, { token: nurse, onClosed: (e) => (closed ??= e.code) });
    clients.push(c);
    collect(c, APPOINTMENT_CHANGED);
    await vi.waitFor(async () => expect(await metric(b.url, 'derm_websocket_connections')).toBeGreaterThan(0), {
      timeout: 10_000,
    });
    const onA = await subscribe(a, frontDesk, APPOINTMENT_CHANGED);

    expect(await b.stop('SIGTERM')).toBe(0);
    await vi.waitFor(() => expect(closed, 'the client sees its socket closed').toBeDefined(), { timeout: 5_000 });
    expect(closed).toBe(1001);
    const id = await book(a.url);
    const [event] = await onA.waitFor(1);
    expect(event.data!.appointmentChanged.appointment.id).toBe(id);
  });
});
