import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createIntegrationClient, integrationToken } from '../helpers/integrations.js';
import { spawnServer, type ServerProcess } from '../helpers/process.js';
import {
  APPOINTMENT_CHANGED,
  CREATE_APPOINTMENT,
  freeSlot,
  liveStreams,
  metric,
  NOTIFICATION,
  SEND_ALERT,
  subscribeLive,
  waitForStreams,
} from '../helpers/realtime.js';
import { startRedis, type OwnRedis } from '../helpers/redisServer.js';
import { TEST_REDIS_URL } from '../helpers/services.js';
import { useSockets, useTestServer } from '../helpers/setup.js';
import { createTestDatabase } from '../helpers/testServer.js';
import { collect, wsClient, type Collected } from '../helpers/ws.js';

/**
 * A Redis outage degrades the service and heals; it never ends the process (docs/architecture.md, invariant 8). Each
 * test here kills a Redis server of its own (never the shared one) and starts it again on the same port, empty.
 *
 * How long Redis stays down: a few seconds, longer than ioredis takes to give up on a queued command (two reconnection
 * attempts), which is what ended the process before (an unhandled MaxRetriesPerRequestError about a second after an
 * UNSUBSCRIBE).
 */
const OUTAGE_MS = 2_500;
const outage = () => new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));

const PRESENCE = 'subscription { presence { status user { id } } }';
const MESSAGE_ADDED = 'subscription($t: ID) { messageAdded(threadId: $t) { cursor message { body } } }';
const CREATE_THREAD = 'mutation($i: CreateThreadInput!) { createThread(input: $i) { id } }';
const SEND = 'mutation($t: ID!, $b: String!) { sendMessage(threadId: $t, body: $b) { id } }';
const SET_TYPING = 'mutation($t: ID!) { setTyping(threadId: $t, isTyping: true) }';
const VIEW = 'mutation($p: ID!) { viewPatient(patientId: $p) { id } }';
const VIEWERS_CHANGED = 'subscription($p: ID!) { patientViewersChanged(patientId: $p) { viewers { id } } }';

async function post(url: string, query: string, variables: Record<string, unknown> = {}, token?: string) {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as { data?: any; errors?: Array<{ extensions?: { code?: string } }> };
}

async function readyz(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('A server process whose Redis is killed', () => {
  let redis: OwnRedis;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let server: ServerProcess;
  let token: string;
  let ids: { tenantId: string; lee: string; patient: string };

  beforeAll(async () => {
    [redis, database] = await Promise.all([startRedis(), createTestDatabase()]);
    server = await spawnServer({
      NODE_ENV: 'production',
      DATABASE_URL: database.url!,
      REDIS_URL: redis.url,
      REDIS_NAMESPACE: `test-${randomBytes(4).toString('hex')}`,
    });
    const login = await post(
      server.url,
      'mutation { login(tenant: "sunrise-derm", email: "frontdesk@sunrise.example", password: "derm-demo-2026") { token } }',
    );
    token = login.data.login.token;
    const tenant = await database.db('tenants').where({ slug: 'sunrise-derm' }).first('id');
    const lee = await database.db('users').where({ tenantId: tenant.id, email: 'lee@sunrise.example' }).first('id');
    const patient = await database.db('patients').where({ tenantId: tenant.id }).first('id');
    ids = { tenantId: tenant.id, lee: lee.id, patient: patient.id };
  });
  afterAll(async () => {
    await server?.stop('SIGKILL');
    await Promise.all([redis?.stop(), database?.drop()]);
  });

  const streams = () => metric(server.url, 'derm_subscription_streams');
  const book = () =>
    post(server.url, CREATE_APPOINTMENT, { i: { providerId: ids.lee, patientId: ids.patient, ...freeSlot() } }, token);

  it('should stay up when the only subscriber of a clinic completes its subscription while Redis is down', async () => {
    const client = wsClient(server.url, { token });
    try {
      const sub = collect(client, 'subscription { appointmentChanged { cursor } }');
      await vi.waitFor(async () => expect(await streams()).toBe(1), { timeout: 10_000 });
      await redis.kill();
      sub.stop();
      await vi.waitFor(async () => expect(await streams()).toBe(0), { timeout: 10_000 });
      await outage();
      expect(server.child.exitCode).toBeNull();
      expect((await readyz(server.url)).body).toMatchObject({ status: 'degraded', redis: 'unreachable' });
    } finally {
      await client.dispose();
      await redis.restart();
    }
    await vi.waitFor(async () => expect((await readyz(server.url)).body).toMatchObject({ status: 'ok', redis: 'ok' }), {
      timeout: 10_000,
    });
    expect(server.child.exitCode).toBeNull();
    expect(server.output()).not.toContain('unhandled promise rejection');
  });

  it("should stay up when a clinic's first subscription comes while Redis is down, and deliver the changes made on this instance meanwhile", async () => {
    await redis.kill();
    const client = wsClient(server.url, { token });
    try {
      const sub = collect(client, 'subscription { appointmentChanged { kind appointment { id } } }');
      await vi.waitFor(async () => expect(await streams()).toBe(1), { timeout: 10_000 });
      const booked = await book();
      expect(booked.errors).toBeUndefined();
      // The instance that committed it hands its own rows to its subscribers: no wake-up needed.
      const [event] = await sub.waitFor(1, 15_000);
      expect(event.data!.appointmentChanged).toEqual({
        kind: 'CREATED',
        appointment: { id: booked.data.createAppointment.id },
      });
      await outage();
      expect(server.child.exitCode).toBeNull();
      expect((await readyz(server.url)).body).toMatchObject({ status: 'degraded', redis: 'unreachable' });
      await redis.restart();
      await vi.waitFor(async () => expect((await readyz(server.url)).body).toMatchObject({ status: 'ok' }), {
        timeout: 10_000,
      });
      // Live again: the next booking arrives after the first, and the first never comes twice.
      const next = await book();
      await sub.waitFor(2);
      expect(sub.results.map((r) => r.data!.appointmentChanged.appointment.id)).toEqual([
        booked.data.createAppointment.id,
        next.data.createAppointment.id,
      ]);
    } finally {
      await client.dispose();
    }
    expect(server.child.exitCode).toBeNull();
    expect(server.output()).not.toContain('unhandled promise rejection');
  });
});

describe('Every live feature through a Redis outage of a few seconds', () => {
  let redis: OwnRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis?.stop());
  // Presence lapses after 3 s here: a connection closed during the outage goes offline within TTL + sweep at worst.
  const t = useTestServer({
    get redisUrl() {
      return redis.url;
    },
    presenceTtlSeconds: 3,
  });
  const sockets = useSockets(t);
  afterEach(async () => {
    // A test that failed half-way must not leave the next one without Redis.
    if (!(await redisAnswers())) await redis.restart();
  });
  const redisAnswers = async () => (await readyz(t.server.url)).body.redis === 'ok';

  it('should keep the process up, say so in /readyz, and catch every stream up once Redis is back', async () => {
    const { server, sunrise } = t;
    const [nurse, frontDesk, admin, lee, patel] = await Promise.all(
      (['nurse', 'frontdesk', 'admin', 'lee', 'patel'] as const).map((k) => t.token(k)),
    );
    const integration = await integrationToken(
      server.url,
      await createIntegrationClient(server, ['appointments:read']),
    );
    const thread = (
      await server.gql(CREATE_THREAD, { i: { subject: 'Outage', participantIds: [sunrise.users.nurse] } }, lee)
    ).data!.createThread.id as string;

    // Before the outage: durable streams of staff and of an integration, presence watched by the admin, a socket that
    // will close during the outage, and a stream that will be completed during it.
    const appointments = await subscribeLive(server, sockets.open(nurse), APPOINTMENT_CHANGED);
    const notifications = await subscribeLive(server, sockets.open(frontDesk), NOTIFICATION);
    const integrationStream = await subscribeLive(server, sockets.open(integration), APPOINTMENT_CHANGED);
    const presence = await subscribeLive(server, sockets.open(admin), PRESENCE);
    const leaving = sockets.open(patel);
    const completed = await subscribeLive(server, leaving, NOTIFICATION);
    await vi.waitFor(
      () => expect(presence.results.map((r) => r.data!.presence.user.id)).toContain(sunrise.users.patel),
      { timeout: 10_000 },
    );

    await redis.kill();
    const during = { before: liveStreams(server) };

    // /readyz: still ready (queries and mutations work), and says Redis is unreachable.
    await vi.waitFor(
      async () =>
        expect(await readyz(server.url)).toEqual({
          status: 200,
          body: { status: 'degraded', database: 'postgresql', pubsub: 'redis', redis: 'unreachable' },
        }),
      { timeout: 10_000 },
    );
    // Unsubscribe, and subscribe anew (a thread's messages, also registering the nurse as its viewer).
    completed.stop();
    await waitForStreams(server, during.before - 1);
    const messages = await subscribeLive(server, sockets.open(nurse), MESSAGE_ADDED, { t: thread });
    // Presence: Dr. Patel leaves, Dr. Lee arrives.
    await leaving.dispose();
    const arriving = sockets.open(lee);
    await collect(arriving, '{ me { id } }').completed;
    // Typing goes nowhere (signals are not kept), and says so; chart viewing needs Redis and says so.
    expect((await server.gql(SET_TYPING, { t: thread }, lee)).data).toEqual({ setTyping: false });
    const view = await server.gql(VIEW, { p: sunrise.patients[0] }, lee);
    expect(view.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
    const viewers = collect(sockets.open(lee), VIEWERS_CHANGED, { p: sunrise.patients[0] });
    // An integration connects during the outage: its token is checked in the database.
    const lateIntegration = await subscribeLive(server, sockets.open(integration), APPOINTMENT_CHANGED);
    // Changes committed meanwhile.
    const booked: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await server.gql(
        CREATE_APPOINTMENT,
        { i: { providerId: sunrise.users.lee, patientId: sunrise.patients[1], ...freeSlot() } },
        frontDesk,
      );
      expect(res.errors).toBeUndefined();
      booked.push(res.data!.createAppointment.id);
    }
    await server.gql(SEND_ALERT, { i: { userId: sunrise.users.frontdesk, kind: 'ALERT', title: 'Meanwhile' } }, admin);
    await server.gql(SEND, { t: thread, b: 'Sent during the outage' }, lee);
    await outage();

    await redis.restart();
    await vi.waitFor(async () => expect((await readyz(server.url)).body).toMatchObject({ status: 'ok' }), {
      timeout: 10_000,
    });

    // Every durable stream gets what was committed meanwhile, once, in order.
    const ids = (c: Collected) => c.results.map((r) => r.data!.appointmentChanged.appointment.id);
    for (const stream of [appointments, integrationStream, lateIntegration]) {
      await stream.waitFor(3, 15_000);
      expect(ids(stream)).toEqual(booked);
    }
    const [alert] = await notifications.waitFor(1, 15_000);
    expect(alert.data!.notification.notification.title).toBe('Meanwhile');
    const [message] = await messages.waitFor(1, 15_000);
    expect(message.data!.messageAdded.message.body).toBe('Sent during the outage');

    // Presence heals: Dr. Patel goes offline (his socket closed during the outage), Dr. Lee is announced online.
    const statusesOf = (userId: string) =>
      presence.results
        .map((r) => r.data!.presence)
        .filter((p) => p.user.id === userId)
        .map((p) => p.status);
    await vi.waitFor(() => expect(statusesOf(sunrise.users.patel).at(-1)).toBe('OFFLINE'), { timeout: 10_000 });
    await vi.waitFor(() => expect(statusesOf(sunrise.users.lee).at(-1)).toBe('ONLINE'), { timeout: 10_000 });

    // Live again, for every feature: a chart view is announced to the subscription made during the outage, and one
    // more booking reaches each stream after the backlog, once.
    expect((await server.gql(VIEW, { p: sunrise.patients[0] }, lee)).errors).toBeUndefined();
    await viewers.waitFor(1, 10_000);
    const last = await server.gql(
      CREATE_APPOINTMENT,
      { i: { providerId: sunrise.users.lee, patientId: sunrise.patients[1], ...freeSlot() } },
      frontDesk,
    );
    for (const stream of [appointments, integrationStream, lateIntegration]) {
      await stream.waitFor(4);
      expect(ids(stream)).toEqual([...booked, last.data!.createAppointment.id]);
    }
  });
});
describe('What transits Redis', () => {
  const t = useTestServer();
  const sockets = useSockets(t);

  it('should carry ids and wake-ups only: no patient name, message text or reason, whatever the feature', async () => {
    const { server, sunrise } = t;
    const [lee, nurse] = await Promise.all([t.token('lee'), t.token('nurse')]);
    const listener = new Redis(TEST_REDIS_URL);
    const messages: string[] = [];
    try {
      listener.on('pmessage', (_pattern, _channel, message: string) => messages.push(message));
      // Everything this deployment publishes, on every channel (its namespace prefixes them all).
      await listener.psubscribe(`${server.config.redisNamespace}:*`);
      const patient = sunrise.patients[3];
      const name = (await server.db('patients').where({ id: patient }).first('firstName', 'lastName')) as {
        firstName: string;
        lastName: string;
      };
      const presence = await subscribeLive(server, sockets.open(nurse), PRESENCE);
      sockets.open(lee);
      await vi.waitFor(() => expect(presence.results.length).toBeGreaterThan(0), { timeout: 10_000 });
      const thread = (
        await server.gql(
          'mutation($i: CreateThreadInput!) { createThread(input: $i) { id } }',
          { i: { subject: 'Results', participantIds: [sunrise.users.nurse], patientId: patient } },
          lee,
        )
      ).data!.createThread.id;
      await server.gql(SET_TYPING, { t: thread }, lee);
      await server.gql(SEND, { t: thread, b: 'Melanoma confirmed on the left shoulder' }, lee);
      await server.gql(VIEW, { p: patient }, lee);
      await server.gql(
        CREATE_APPOINTMENT,
        { i: { providerId: sunrise.users.lee, patientId: patient, ...freeSlot(), reason: 'Excision of lesion' } },
        lee,
      );
      // Wake-ups, typing, presence and viewing all went through.
      await vi.waitFor(() => expect(messages.length).toBeGreaterThanOrEqual(5), { timeout: 10_000 });
      const all = messages.join('\n');
      for (const secret of [name.firstName, name.lastName, 'Melanoma', 'shoulder', 'Excision', 'Results'])
        expect(all).not.toContain(secret);
      for (const message of messages) expect(Object.keys(JSON.parse(message)).length).toBeLessThanOrEqual(4);
    } finally {
      listener.disconnect();
    }
  });
});
