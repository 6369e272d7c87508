import { describe, expect, it, vi } from 'vitest';
import { PRESENCE } from '../helpers/presence.js';
import { CONNECTION_DASHBOARD, latestDashboard, rowOf } from '../helpers/dashboard.js';
import { createIntegrationClient, integrationToken } from '../helpers/integrations.js';
import { APPOINTMENT_CHANGED, freeSlot, subscribeLive } from '../helpers/realtime.js';
import { useSockets, useTestServer } from '../helpers/setup.js';
import { openAcknowledged } from '../helpers/rawSocket.js';
import { openEventStream } from '../helpers/sse.js';
import { collect, type Collected } from '../helpers/ws.js';

const t = useTestServer();
const sockets = useSockets(t);
const WAIT = { timeout: 10_000, interval: 50 };

/** An admin of the clinic watching the dashboard; resolves with its first snapshot in. */
async function watching(tenant: 'sunrise-derm' | 'lakeside-skin' = 'sunrise-derm'): Promise<Collected> {
  const seen = await subscribeLive(t.server, sockets.open(await t.token('admin', tenant)), CONNECTION_DASHBOARD);
  await seen.waitFor(1);
  return seen;
}

/** The first error an operation got, whether refused before it ran (an `error` message) or as its result. */
function firstError(seen: Collected): Promise<{ extensions?: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    seen.failed.catch((errors: Array<{ extensions?: Record<string, unknown> }>) => resolve(errors[0]));
    seen
      .waitFor(1)
      .then((results) => resolve(results[0].errors![0] as { extensions?: Record<string, unknown> }), reject);
  });
}

describe('connectionDashboard', () => {
  it("shows another user's connection appear with its subscriptions, and go when it closes", async () => {
    const dashboard = await watching();
    const nurse = t.sunrise.users.nurse;
    expect(rowOf(latestDashboard(dashboard), nurse)).toBeUndefined();
    // The watching admin is on it: their own connection and its one subscription (this one).
    const own = rowOf(latestDashboard(dashboard), t.sunrise.users.admin)!;
    expect(own.connections).toEqual([expect.objectContaining({ transport: 'WEBSOCKET', subscriptions: 1 })]);

    const socket = sockets.open(await t.token('nurse'));
    await subscribeLive(t.server, socket, PRESENCE);
    await subscribeLive(t.server, socket, APPOINTMENT_CHANGED);
    await vi.waitFor(() => {
      const row = rowOf(latestDashboard(dashboard), nurse);
      expect(row).toMatchObject({ status: 'ONLINE', subscriptions: 2 });
      expect(row!.connections).toEqual([expect.objectContaining({ transport: 'WEBSOCKET', subscriptions: 2 })]);
    }, WAIT);
    const [instance] = latestDashboard(dashboard).instances;
    expect(latestDashboard(dashboard).instances).toHaveLength(1);
    expect(instance).toMatchObject({ connections: 2, subscriptions: 3 });

    await socket.dispose();
    await vi.waitFor(() => expect(rowOf(latestDashboard(dashboard), nurse)).toBeUndefined(), WAIT);
    expect(latestDashboard(dashboard).instances[0]).toMatchObject({ connections: 1, subscriptions: 1 });
  });

  it('shows an SSE stream as a connection with its one subscription', async () => {
    const dashboard = await watching();
    const stream = await openEventStream(t.server.url, await t.token('lee'), PRESENCE);
    expect(stream.status).toBe(200);
    await vi.waitFor(() => {
      const row = rowOf(latestDashboard(dashboard), t.sunrise.users.lee);
      expect(row?.connections).toEqual([expect.objectContaining({ transport: 'SSE', subscriptions: 1 })]);
      // Presence is a WebSocket's: a stream alone is not "online".
      expect(row?.status).toBe('OFFLINE');
    }, WAIT);
    stream.close();
    await vi.waitFor(() => expect(rowOf(latestDashboard(dashboard), t.sunrise.users.lee)).toBeUndefined(), WAIT);
  });

  it('is served over SSE too, counting its own stream', async () => {
    const stream = await openEventStream(t.server.url, await t.token('admin'), CONNECTION_DASHBOARD);
    expect(stream.status).toBe(200);
    const [first] = await stream.waitFor(1);
    expect(first.errors).toBeUndefined();
    const own = first.data.connectionDashboard.users.find(
      (u: { user: { id: string } }) => u.user.id === t.sunrise.users.admin,
    );
    // (A socket of an earlier test may still be closing: only the streams are looked at.)
    expect(own.connections.filter((c: { transport: string }) => c.transport === 'SSE')).toEqual([
      expect.objectContaining({ transport: 'SSE', subscriptions: 1 }),
    ]);
    stream.close();
  });

  it("shows nothing of another clinic, and another clinic's admin nothing of this one", async () => {
    const sunrise = await watching();
    const lakeside = await watching('lakeside-skin');
    const theirs = sockets.open(await t.token('nurse', 'lakeside-skin'));
    await subscribeLive(t.server, theirs, PRESENCE);
    const ours = sockets.open(await t.token('nurse'));
    await subscribeLive(t.server, ours, PRESENCE);

    // Each clinic counts only its own: the admin and the nurse, one subscription each.
    await vi.waitFor(() => {
      expect(rowOf(latestDashboard(sunrise), t.sunrise.users.nurse)?.subscriptions).toBe(1);
      expect(rowOf(latestDashboard(lakeside), t.lakeside.users.nurse)?.subscriptions).toBe(1);
      expect(latestDashboard(sunrise).instances).toEqual([
        expect.objectContaining({ connections: 2, subscriptions: 2 }),
      ]);
      expect(latestDashboard(lakeside).instances).toEqual([
        expect.objectContaining({ connections: 2, subscriptions: 2 }),
      ]);
    }, WAIT);
    const lakesideIds = new Set(Object.values(t.lakeside.users));
    const sunriseIds = new Set(Object.values(t.sunrise.users));
    for (const snapshot of sunrise.results.map((r) => r.data!.connectionDashboard)) {
      for (const row of snapshot.users) expect(lakesideIds.has(row.user.id)).toBe(false);
    }
    for (const snapshot of lakeside.results.map((r) => r.data!.connectionDashboard)) {
      for (const row of snapshot.users) expect(sunriseIds.has(row.user.id)).toBe(false);
    }
  });

  it('refuses staff who are not admins, and integration clients, with FORBIDDEN, and counts the refusals', async () => {
    const dashboard = await watching();
    const forbidden = () => latestDashboard(dashboard).errors.find((e) => e.code === 'FORBIDDEN')?.count ?? 0;
    const before = forbidden();
    const nurse = collect(sockets.open(await t.token('nurse')), CONNECTION_DASHBOARD);
    expect(await firstError(nurse)).toMatchObject({ extensions: { code: 'FORBIDDEN' } });

    const client = await createIntegrationClient(t.server, ['presence:read', 'staff:read']);
    const token = await integrationToken(t.server.url, client);
    const integration = collect(sockets.open(token), CONNECTION_DASHBOARD);
    expect(await firstError(integration)).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    const overSse = await openEventStream(t.server.url, token, CONNECTION_DASHBOARD);
    expect(overSse.status).toBe(403);

    // The three refusals: the nurse's, and the client's over WebSocket and over SSE.
    await vi.waitFor(() => expect(forbidden()).toBe(before + 3), WAIT);
  });

  it('counts sockets closed abnormally by close code, and codes a client makes up as CLOSE_OTHER', async () => {
    const dashboard = await watching();
    // The window holds what earlier tests of this file did too: counted from here.
    const codesNow = () => Object.fromEntries(latestDashboard(dashboard).errors.map((e) => [e.code, e.count]));
    const before = codesNow();
    const vanished = await openAcknowledged(t.server.url, await t.token('lee'));
    vanished.ws.terminate();
    const odd = await openAcknowledged(t.server.url, await t.token('patel'));
    odd.ws.close(3999, 'my own code');
    const fine = await openAcknowledged(t.server.url, await t.token('frontdesk'));
    fine.ws.close(1000);
    await Promise.all([vanished.closed, odd.closed, fine.closed]);
    await vi.waitFor(() => {
      const codes = codesNow();
      expect(codes).toMatchObject({
        CLOSE_1006: (before.CLOSE_1006 ?? 0) + 1,
        CLOSE_OTHER: (before.CLOSE_OTHER ?? 0) + 1,
      });
      expect(codes).not.toHaveProperty('CLOSE_1000');
      expect(codes).not.toHaveProperty('CLOSE_3999');
    }, WAIT);
  });

  it("lists the clinic's integration clients with their connections and last activity", async () => {
    const client = await createIntegrationClient(t.server, ['appointments:read']);
    const token = await integrationToken(t.server.url, client);
    // Its last activity is written when it calls the API too, not only when it gets a token.
    const row = () => t.server.db('integrationClients').where({ id: client.id }).first('lastUsedAt');
    // (The token's own write is not awaited by the endpoint: it has landed first, so it is not what is seen below.)
    await vi.waitFor(async () => expect((await row()).lastUsedAt).toBeInstanceOf(Date), WAIT);
    await t.server.db('integrationClients').where({ id: client.id }).update({ lastUsedAt: null });
    expect((await t.server.gql('{ __typename }', {}, token)).status).toBe(200);
    await vi.waitFor(async () => expect((await row()).lastUsedAt).toBeInstanceOf(Date), WAIT);
    const dashboard = await watching();
    const listed = () => latestDashboard(dashboard).integrationClients.find((c) => c.client.id === client.id);
    expect(listed()?.lastActiveAt).not.toBeNull();
    expect(listed()?.connections).toEqual([]);

    await subscribeLive(t.server, sockets.open(token), APPOINTMENT_CHANGED);
    await vi.waitFor(() => {
      expect(listed()?.connections).toEqual([expect.objectContaining({ transport: 'WEBSOCKET', subscriptions: 1 })]);
      expect(listed()?.subscriptions).toBe(1);
    }, WAIT);
    // Integration clients are not staff: no user row for them.
    expect(rowOf(latestDashboard(dashboard), client.id)).toBeUndefined();
  });

  it('charts delivery latency over the window in buckets of 10 seconds', async () => {
    const dashboard = await watching();
    const { latency, windowSeconds } = latestDashboard(dashboard);
    expect(windowSeconds).toBe(300);
    expect(latency).toHaveLength(30);
    const starts = latency.map((b) => new Date(b.start).getTime());
    expect(starts.slice(1).map((s, i) => s - starts[i])).toEqual(Array(29).fill(10_000));

    // An event delivered to a subscriber shows up as one delivery with its latency.
    const subscriber = await subscribeLive(t.server, sockets.open(await t.token('nurse')), APPOINTMENT_CHANGED);
    const admin = await t.token('admin');
    const patientId = t.sunrise.patients[0];
    const booked = await t.server.gql(
      'mutation($i: CreateAppointmentInput!) { createAppointment(input: $i) { id } }',
      {
        i: {
          patientId,
          providerId: t.sunrise.users.lee,
          ...freeSlot(),
          reason: 'Dashboard latency',
        },
      },
      admin,
    );
    expect(booked.errors).toBeUndefined();
    await subscriber.waitFor(1);
    await vi.waitFor(() => {
      const delivered = latestDashboard(dashboard).latency.filter((b) => b.deliveries > 0);
      expect(delivered.length).toBeGreaterThan(0);
      for (const b of delivered) expect(b.maxMs!).toBeGreaterThanOrEqual(b.meanMs!);
    }, WAIT);
  });
});
