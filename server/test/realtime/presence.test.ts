import { type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { EphemeralKey } from '../../src/realtime/keys.js';
import { sweepIntervalMs } from '../../src/realtime/service.js';
import { errorCode, startTestServer, type TestServer } from '../helpers/testServer.js';
import { subscribeLive } from '../helpers/realtime.js';
import {
  ONLINE_USERS,
  overSocket,
  PRESENCE,
  SET_STATUS,
  signal,
  signalsOf,
  type PresenceEvent,
} from '../helpers/presence.js';
import { flakyProxy } from '../helpers/proxy.js';
import { wsClient } from '../helpers/ws.js';

/** Subscribes, and resolves once the server holds the new stream (signals published from then on arrive). */
const subscribed = (server: TestServer, client: Client, query: string) => subscribeLive(server, client, query);

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
    await vi.waitFor(async () => expect(await connections(sunrise.tenantId, jordan)).toBe(1), { timeout: 10_000 });
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

describe('keep-alive (WS_KEEPALIVE)', () => {
  let server: TestServer;
  const clients: Client[] = [];
  beforeAll(async () => {
    server = await startTestServer({ keepAliveSeconds: 1 });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await server?.stop();
  });

  it('should cut a connection whose peer vanished without closing within two rounds, taking its user offline, and keep a quiet one that answers', async () => {
    const sunrise = await server.ids('sunrise-derm');
    const [nurse, frontDesk, lee] = await Promise.all(
      (['nurse', 'frontdesk', 'lee'] as const).map((who) => server.login('sunrise-derm', who)),
    );
    const open = (url: string, token: string) => {
      const client = wsClient(url, { token });
      clients.push(client);
      return client;
    };
    const seen = await subscribed(server, open(server.url, nurse), PRESENCE);
    // Dr. Lee's client sends nothing of its own (no keep-alive): it only answers the server's pings.
    await overSocket(open(server.url, lee));
    // Jordan's laptop is behind a link that will drop every packet.
    const proxy = await flakyProxy(new URL(server.url).port);
    try {
      await overSocket(open(`http://127.0.0.1:${proxy.port}`, frontDesk));
      await Promise.all([signal(seen, sunrise.users.frontdesk, 'ONLINE'), signal(seen, sunrise.users.lee, 'ONLINE')]);

      proxy.drop(true);
      const droppedAt = Date.now();
      await signal(seen, sunrise.users.frontdesk, 'OFFLINE', 1, 15_000);
      // Pinged in the first round after the drop, cut in the next: about two seconds here, with margin for a loaded
      // machine.
      expect(Date.now() - droppedAt).toBeLessThan(6_000);
      // Meanwhile, and for a few rounds more, the quiet client was pinged and answered: never cut.
      await vi.waitUntil(() => Date.now() - droppedAt > 4_000, { timeout: 10_000, interval: 100 });
      expect(signalsOf(seen, sunrise.users.lee).map((p) => p.status)).toEqual(['ONLINE']);
      const listed = await server.gql(ONLINE_USERS, {}, nurse);
      expect(listed.data!.onlineUsers.map((p: PresenceEvent) => p.user.id)).toContain(sunrise.users.lee);
    } finally {
      proxy.close();
    }
  });
});
