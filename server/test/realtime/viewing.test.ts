import { randomUUID } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { heartbeatIntervalMs, sweepIntervalMs } from '../../src/realtime/service.js';
import { createIntegrationClient, integrationToken } from '../helpers/integrations.js';
import { openAcknowledged, type RawSocket } from '../helpers/rawSocket.js';
import { subscribeLive, waitForStreams } from '../helpers/realtime.js';
import { openEventStream } from '../helpers/sse.js';
import { useSockets, useTestServer, type ServerFixture } from '../helpers/setup.js';
import { errorCode } from '../helpers/testServer.js';
import { collect, type Collected } from '../helpers/ws.js';

const CHANGED =
  'subscription($p: ID!) { patientViewersChanged(patientId: $p) { patient { id displayName } viewers { id name } } }';
const VIEW = 'mutation($p: ID!) { viewPatient(patientId: $p) { id name } }';
const LEAVE = 'mutation($p: ID!) { leavePatient(patientId: $p) }';
const VIEWERS = 'query($p: ID!) { patientViewers(patientId: $p) { id name } }';

/** A closed tab leaves the chart's viewers within this, counted from the close. */
const CLOSED_TAB_MS = 2_000;

/** The viewer names of each change received so far. */
const changes = (seen: Collected) =>
  seen.results.map((r) => r.data!.patientViewersChanged.viewers.map((u: { name: string }) => u.name));

/** The viewer names of the last change received. */
const lastChange = (seen: Collected): string[] | undefined => changes(seen).at(-1);

/** The chart's viewers, as `patientViewers` answers. */
async function viewersOf(t: ServerFixture, chart: string, token?: string): Promise<string[]> {
  const res = await t.server.gql(VIEWERS, { p: chart }, token ?? (await t.token('admin')));
  return res.data!.patientViewers.map((u: { name: string }) => u.name);
}

describe('Chart viewing held by the patientViewersChanged subscription', () => {
  const t = useTestServer();
  const sockets = useSockets(t);
  /** A staff member's subscription to a chart's viewers, live on the server: they have the chart open. */
  const openChart = async (key: 'admin' | 'lee' | 'patel' | 'nurse' | 'frontdesk', chart: string) =>
    subscribeLive(t.server, sockets.open(await t.token(key)), CHANGED, { p: chart });

  it('should make a subscriber a viewer, seen by a colleague’s subscription and by patientViewers', async () => {
    const chart = t.sunrise.patients[0];
    // The subscriber hears its own arrival: the first signal is the chart's viewers, itself included.
    const nurse = await openChart('nurse', chart);
    await nurse.waitFor(1);
    expect(lastChange(nurse)).toEqual(['Sam Rivera']);

    await openChart('lee', chart);
    await nurse.waitFor(2);
    expect(lastChange(nurse)).toEqual(['Dr. Maya Lee', 'Sam Rivera']);
    expect(nurse.results[1].data!.patientViewersChanged.patient).toEqual({ id: chart, displayName: 'Olivia Bennett' });
    expect(await viewersOf(t, chart)).toEqual(['Dr. Maya Lee', 'Sam Rivera']);

    // Holding a membership does not make a subscription personal: two providers of a chart share one delivery group.
    const groups = t.server.app.services.delivery.groupCount;
    await openChart('patel', chart);
    await nurse.waitFor(3);
    expect(t.server.app.services.delivery.groupCount).toBe(groups);

    // Another chart's viewers are not this subscription's business.
    const other = await openChart('patel', t.sunrise.patients[1]);
    await other.waitFor(1);
    expect(await viewersOf(t, t.sunrise.patients[1])).toEqual(['Dr. Arjun Patel']);
    expect(changes(nurse)).toEqual([
      ['Sam Rivera'],
      ['Dr. Maya Lee', 'Sam Rivera'],
      ['Dr. Arjun Patel', 'Dr. Maya Lee', 'Sam Rivera'],
    ]);
  });

  it('should take the viewer off within 2 s when the subscription is completed', async () => {
    const chart = t.sunrise.patients[2];
    const nurse = await openChart('nurse', chart);
    const lee = await openChart('lee', chart);
    await vi.waitFor(() => expect(lastChange(nurse)).toEqual(['Dr. Maya Lee', 'Sam Rivera']));

    const closedAt = Date.now();
    lee.stop();
    await vi.waitFor(() => expect(lastChange(nurse)).toEqual(['Sam Rivera']), { timeout: CLOSED_TAB_MS });
    expect(Date.now() - closedAt).toBeLessThan(CLOSED_TAB_MS);
    expect(await viewersOf(t, chart)).toEqual(['Sam Rivera']);
  });

  it.each([
    ['closes (a tab closed: close frame)', (socket: RawSocket) => socket.ws.close()],
    ['vanishes (a browser killed: no close handshake)', (socket: RawSocket) => socket.ws.terminate()],
  ])('should take the viewer off within 2 s when the socket %s', async (_how, close) => {
    const chart = t.sunrise.patients[3];
    const nurse = await openChart('nurse', chart);
    const tab = await openAcknowledged(t.server.url, await t.token('lee'));
    tab.send({ id: 'chart', type: 'subscribe', payload: { query: CHANGED, variables: { p: chart } } });
    await vi.waitFor(() => expect(lastChange(nurse)).toEqual(['Dr. Maya Lee', 'Sam Rivera']));

    const closedAt = Date.now();
    close(tab);
    await vi.waitFor(() => expect(lastChange(nurse)).toEqual(['Sam Rivera']), { timeout: CLOSED_TAB_MS });
    expect(Date.now() - closedAt).toBeLessThan(CLOSED_TAB_MS);
    expect(await viewersOf(t, chart)).toEqual(['Sam Rivera']);
  });

  it('should hold a viewer over GraphQL over SSE too, and take them off within 2 s when the stream closes', async () => {
    const chart = t.sunrise.patients[8];
    const nurse = await openChart('nurse', chart);
    const stream = await openEventStream(t.server.url, await t.token('lee'), CHANGED, { p: chart });
    // Its own arrival is its first event.
    const [first] = await stream.waitFor(1);
    expect(first.data.patientViewersChanged.viewers.map((u: { name: string }) => u.name)).toEqual([
      'Dr. Maya Lee',
      'Sam Rivera',
    ]);
    await vi.waitFor(() => expect(lastChange(nurse)).toEqual(['Dr. Maya Lee', 'Sam Rivera']));

    const closedAt = Date.now();
    stream.close();
    await vi.waitFor(() => expect(lastChange(nurse)).toEqual(['Sam Rivera']), { timeout: CLOSED_TAB_MS });
    expect(Date.now() - closedAt).toBeLessThan(CLOSED_TAB_MS);
  });

  it('should keep a user with the chart open in two tabs a viewer until both close, announced once each way', async () => {
    const chart = t.sunrise.patients[4];
    const nurse = await openChart('nurse', chart);
    const lee = await t.token('lee');
    const firstTab = await subscribeLive(t.server, sockets.open(lee), CHANGED, { p: chart });
    // Her arrival is announced (the nurse hears it) before the second tab opens: an announcement still on its way
    // through pub/sub would reach a tab that went live meanwhile, and that tab hears only what follows its opening.
    await vi.waitFor(() => expect(lastChange(nurse)).toEqual(['Dr. Maya Lee', 'Sam Rivera']));
    const secondTab = sockets.open(lee);
    const second = await subscribeLive(t.server, secondTab, CHANGED, { p: chart });
    expect(await viewersOf(t, chart)).toEqual(['Dr. Maya Lee', 'Sam Rivera']);

    // One tab closes: Dr. Lee still has the chart open, and nothing is announced.
    const live = t.server.app.services.realtime.streams.count;
    firstTab.stop();
    await waitForStreams(t.server, live - 1);
    await vi.waitFor(() => expect(t.server.app.services.realtime.held.size).toBe(2));
    expect(await viewersOf(t, chart)).toEqual(['Dr. Maya Lee', 'Sam Rivera']);

    // The other one closes (its whole socket): she leaves.
    const closedAt = Date.now();
    await secondTab.dispose();
    await vi.waitFor(() => expect(lastChange(nurse)).toEqual(['Sam Rivera']), { timeout: CLOSED_TAB_MS });
    expect(Date.now() - closedAt).toBeLessThan(CLOSED_TAB_MS);
    expect(changes(nurse)).toEqual([['Sam Rivera'], ['Dr. Maya Lee', 'Sam Rivera'], ['Sam Rivera']]);
    // The second tab heard nothing of its own: its user was a viewer already (a client reads `patientViewers`).
    expect(second.results).toEqual([]);
  });

  it('should count a user once whether they view by subscription or by viewPatient, until neither holds', async () => {
    const chart = t.sunrise.patients[5];
    const lee = await t.token('lee');
    const nurse = await openChart('nurse', chart);
    const leeTab = await subscribeLive(t.server, sockets.open(lee), CHANGED, { p: chart });
    await vi.waitFor(() => expect(lastChange(nurse)).toEqual(['Dr. Maya Lee', 'Sam Rivera']));

    // The deprecated announcement of a user already viewing: the others, and no change.
    expect((await t.server.gql(VIEW, { p: chart }, lee)).data!.viewPatient).toEqual([
      { id: t.sunrise.users.nurse, name: 'Sam Rivera' },
    ]);
    expect(await viewersOf(t, chart)).toEqual(['Dr. Maya Lee', 'Sam Rivera']);
    // Leaving by mutation: the subscription still holds her.
    expect((await t.server.gql(LEAVE, { p: chart }, lee)).data!.leavePatient).toBe(true);
    expect(await viewersOf(t, chart)).toEqual(['Dr. Maya Lee', 'Sam Rivera']);

    // Announced again, then the subscription ends: the announcement still holds her.
    await t.server.gql(VIEW, { p: chart }, lee);
    leeTab.stop();
    await vi.waitFor(() => expect(t.server.app.services.realtime.held.size).toBe(1));
    expect(await viewersOf(t, chart)).toEqual(['Dr. Maya Lee', 'Sam Rivera']);
    expect((await t.server.gql(LEAVE, { p: chart }, lee)).data!.leavePatient).toBe(true);
    await vi.waitFor(() => expect(lastChange(nurse)).toEqual(['Sam Rivera']));
    expect(changes(nurse)).toEqual([['Sam Rivera'], ['Dr. Maya Lee', 'Sam Rivera'], ['Sam Rivera']]);
  });

  it('should refuse another clinic’s chart as NOT_FOUND, and never make anyone a viewer of it', async () => {
    const chart = t.sunrise.patients[6];
    const lakeside = await t.token('nurse', 'lakeside-skin');
    const held = t.server.app.services.realtime.held.size;
    for (const p of [chart, randomUUID(), 'not-an-id']) {
      for (const query of [VIEW, LEAVE, VIEWERS]) {
        const res = await t.server.gql(query, { p }, lakeside);
        expect(errorCode(res), `${query} ${p}`).toBe('NOT_FOUND');
      }
      const [result] = await collect(sockets.open(lakeside), CHANGED, { p }).waitFor(1);
      expect(result.errors?.[0]?.extensions?.code, `subscription ${p}`).toBe('NOT_FOUND');
    }
    expect(t.server.app.services.realtime.held.size).toBe(held);
    expect(await viewersOf(t, chart)).toEqual([]);
  });

  it('should answer only signed-in staff: an integration token can neither view nor follow a chart', async () => {
    const chart = t.sunrise.patients[7];
    expect(errorCode(await t.server.gql(VIEW, { p: chart }))).toBe('UNAUTHENTICATED');
    expect(errorCode(await t.server.gql(VIEWERS, { p: chart }))).toBe('UNAUTHENTICATED');

    const client = await createIntegrationClient(t.server, ['patients:read', 'staff:read']);
    const integration = await integrationToken(t.server.url, client);
    const held = t.server.app.services.realtime.held.size;
    // Refused before it runs (an `error` message): no stream, no viewer.
    await expect(collect(sockets.open(integration), CHANGED, { p: chart }).failed).rejects.toEqual([
      expect.objectContaining({ extensions: { code: 'FORBIDDEN', field: 'Subscription.patientViewersChanged' } }),
    ]);
    for (const query of [VIEW, VIEWERS])
      expect(errorCode(await t.server.gql(query, { p: chart }, integration))).toBe('FORBIDDEN');
    expect(t.server.app.services.realtime.held.size).toBe(held);
    expect(await viewersOf(t, chart)).toEqual([]);
  });
});

describe('Chart viewing by the deprecated viewPatient and leavePatient', () => {
  const t = useTestServer();
  const sockets = useSockets(t);

  it('should show staff who announce a chart to each other, and announce each arrival and leave once', async () => {
    const [admin, nurse, lee] = await Promise.all([t.token('admin'), t.token('nurse'), t.token('lee')]);
    const chart = t.sunrise.patients[0];
    // The watcher is a viewer too (subscribed is viewing).
    const seen = await subscribeLive(t.server, sockets.open(admin), CHANGED, { p: chart });
    await seen.waitFor(1);

    expect(await t.server.gql(VIEW, { p: chart }, nurse)).toMatchObject({
      data: { viewPatient: [{ name: 'Alex Morgan' }] },
    });
    await seen.waitFor(2);
    const view = await t.server.gql(VIEW, { p: chart }, lee);
    expect(view.data!.viewPatient.map((u: { name: string }) => u.name)).toEqual(['Alex Morgan', 'Sam Rivera']);
    await seen.waitFor(3);
    // Renewing is not a change.
    await t.server.gql(VIEW, { p: chart }, nurse);

    expect((await t.server.gql(LEAVE, { p: chart }, lee)).data!.leavePatient).toBe(true);
    expect((await t.server.gql(LEAVE, { p: chart }, lee)).data!.leavePatient).toBe(false);
    expect((await t.server.gql(LEAVE, { p: chart }, nurse)).data!.leavePatient).toBe(true);
    await seen.waitFor(5);
    expect(changes(seen)).toEqual([
      ['Alex Morgan'],
      ['Alex Morgan', 'Sam Rivera'],
      ['Alex Morgan', 'Dr. Maya Lee', 'Sam Rivera'],
      ['Alex Morgan', 'Sam Rivera'],
      ['Alex Morgan'],
    ]);
    expect(await viewersOf(t, chart, admin)).toEqual(['Alex Morgan']);
  });
});

describe('Chart viewing with a short VIEWING_TTL', () => {
  const TTL_SECONDS = 2;
  const t = useTestServer({ viewingTtlSeconds: TTL_SECONDS });
  const sockets = useSockets(t);

  it('should let an unrenewed viewPatient lapse and announce it, while a subscription is renewed for as long as it lives', async () => {
    const [admin, nurse] = await Promise.all([t.token('admin'), t.token('nurse')]);
    const chart = t.sunrise.patients[0];
    const seen = await subscribeLive(t.server, sockets.open(admin), CHANGED, { p: chart });
    await seen.waitFor(1);
    const viewedAt = Date.now();
    await t.server.gql(VIEW, { p: chart }, nurse);
    await seen.waitFor(2);

    const deadline = TTL_SECONDS * 1000 + t.server.app.services.realtime.sweepIntervalMs + 3000;
    await seen.waitFor(3, deadline);
    expect(Date.now() - viewedAt).toBeGreaterThanOrEqual(TTL_SECONDS * 1000);
    // The subscriber, renewed by its instance's heartbeat, is still there after twice the time to live.
    await vi.waitUntil(() => Date.now() - viewedAt > 2 * TTL_SECONDS * 1000, { timeout: 10_000, interval: 50 });
    expect(changes(seen)).toEqual([['Alex Morgan'], ['Alex Morgan', 'Sam Rivera'], ['Alex Morgan']]);
    expect(await viewersOf(t, chart, admin)).toEqual(['Alex Morgan']);
  });
});

describe('VIEWING_TTL', () => {
  it('defaults to 30 seconds and accepts whole seconds from 2', () => {
    expect(loadConfig({ NODE_ENV: 'test' }).viewingTtlSeconds).toBe(30);
    expect(loadConfig({ NODE_ENV: 'test', VIEWING_TTL: '2' }).viewingTtlSeconds).toBe(2);
    expect(sweepIntervalMs({ presenceTtlSeconds: 30, viewingTtlSeconds: 3 })).toBe(500);
    // One heartbeat per instance renews presence, chart and thread viewers: a third of the shorter time to live.
    expect(heartbeatIntervalMs({ presenceTtlSeconds: 30, viewingTtlSeconds: 3 })).toBe(1_000);
    expect(heartbeatIntervalMs({ presenceTtlSeconds: 6, viewingTtlSeconds: 30 })).toBe(2_000);
  });

  it.each(['1', '-5', '30s', '3601'])('stops start-up on %j and names the variable', (value) => {
    expect(() => loadConfig({ NODE_ENV: 'test', VIEWING_TTL: value })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: 'test', VIEWING_TTL: value })).toThrow(/VIEWING_TTL/);
  });
});
