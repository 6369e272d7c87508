import { randomUUID } from 'node:crypto';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { sweepIntervalMs } from '../../src/realtime/service.js';
import { errorCode, startTestServer, type TestServer } from '../helpers/testServer.js';
import { subscribeLive } from '../helpers/realtime.js';
import { collect, wsClient, type Collected } from '../helpers/ws.js';

const CHANGED =
  'subscription($p: ID!) { patientViewersChanged(patientId: $p) { patient { id displayName } viewers { id name } } }';
const VIEW = 'mutation($p: ID!) { viewPatient(patientId: $p) { id name } }';
const LEAVE = 'mutation($p: ID!) { leavePatient(patientId: $p) }';
const VIEWERS = 'query($p: ID!) { patientViewers(patientId: $p) { id name } }';

/** The viewer names of each change received so far. */
const changes = (seen: Collected) =>
  seen.results.map((r) => r.data!.patientViewersChanged.viewers.map((u: { name: string }) => u.name));

/** Subscribes, and resolves once the server holds the new stream (signals published from then on arrive). */
const subscribed = subscribeLive;

describe('patient chart viewing', () => {
  let server: TestServer;
  let patients: string[];
  const clients: Client[] = [];
  const open = (token: string) => {
    const client = wsClient(server.url, { token });
    clients.push(client);
    return client;
  };
  const names = (res: { data?: any }, field: string) => res.data![field].map((u: { name: string }) => u.name);

  beforeAll(async () => {
    server = await startTestServer();
    ({ patients } = await server.ids('sunrise-derm'));
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await server?.stop();
  });

  it('shows two staff who open a chart to each other, and tells whoever watches that chart only', async () => {
    const [admin, nurse, lee] = await Promise.all(
      (['admin', 'nurse', 'lee'] as const).map((k) => server.login('sunrise-derm', k)),
    );
    const [chart, otherChart] = patients;
    const seen = await subscribed(server, open(admin), CHANGED, { p: chart });

    expect(names(await server.gql(VIEW, { p: chart }, nurse), 'viewPatient')).toEqual([]);
    await seen.waitFor(1);
    expect(names(await server.gql(VIEW, { p: chart }, lee), 'viewPatient')).toEqual(['Sam Rivera']);
    await seen.waitFor(2);
    expect(seen.results[1].data!.patientViewersChanged.patient).toEqual({ id: chart, displayName: 'Olivia Bennett' });
    // Renewing is not a change.
    expect(names(await server.gql(VIEW, { p: chart }, nurse), 'viewPatient')).toEqual(['Dr. Maya Lee']);
    expect(names(await server.gql(VIEWERS, { p: chart }, admin), 'patientViewers')).toEqual([
      'Dr. Maya Lee',
      'Sam Rivera',
    ]);

    // Another chart's viewers are not this subscription's business; a later change of this chart arrives after them.
    await server.gql(VIEW, { p: otherChart }, admin);
    expect(names(await server.gql(VIEWERS, { p: otherChart }, nurse), 'patientViewers')).toEqual(['Alex Morgan']);
    expect((await server.gql(LEAVE, { p: chart }, lee)).data!.leavePatient).toBe(true);
    await seen.waitFor(3);
    expect(changes(seen)).toEqual([['Sam Rivera'], ['Dr. Maya Lee', 'Sam Rivera'], ['Sam Rivera']]);
    expect(seen.results.every((r) => r.data!.patientViewersChanged.patient.id === chart)).toBe(true);
  });

  it('announces each leave, and answers whether the chart was open', async () => {
    const [frontDesk, nurse, patel] = await Promise.all(
      (['frontdesk', 'nurse', 'patel'] as const).map((k) => server.login('sunrise-derm', k)),
    );
    const chart = patients[2];
    const seen = await subscribed(server, open(frontDesk), CHANGED, { p: chart });
    await server.gql(VIEW, { p: chart }, nurse);
    await server.gql(VIEW, { p: chart }, patel);
    await seen.waitFor(2);

    expect((await server.gql(LEAVE, { p: chart }, patel)).data!.leavePatient).toBe(true);
    await seen.waitFor(3);
    expect((await server.gql(LEAVE, { p: chart }, patel)).data!.leavePatient).toBe(false);
    expect((await server.gql(LEAVE, { p: chart }, nurse)).data!.leavePatient).toBe(true);
    await seen.waitFor(4);
    // The second leave of Dr. Patel changed nothing and announced nothing.
    expect(changes(seen)).toEqual([['Sam Rivera'], ['Dr. Arjun Patel', 'Sam Rivera'], ['Sam Rivera'], []]);
    expect(names(await server.gql(VIEWERS, { p: chart }, frontDesk), 'patientViewers')).toEqual([]);
  });

  it('answers NOT_FOUND alike for another clinic’s patient, an unknown one and a malformed id', async () => {
    const lakeside = await server.login('lakeside-skin', 'nurse');
    for (const p of [patients[0], randomUUID(), 'not-an-id']) {
      for (const query of [VIEW, LEAVE, VIEWERS]) {
        const res = await server.gql(query, { p }, lakeside);
        expect(errorCode(res), `${query} ${p}`).toBe('NOT_FOUND');
      }
      const [result] = await collect(open(lakeside), CHANGED, { p }).waitFor(1);
      expect(result.errors?.[0]?.extensions?.code, `subscription ${p}`).toBe('NOT_FOUND');
    }
    // Nothing was written for the other clinic's chart.
    const nurse = await server.login('sunrise-derm', 'nurse');
    expect(names(await server.gql(VIEWERS, { p: patients[0] }, nurse), 'patientViewers')).not.toContain('Chris Novak');
  });

  it('answers only signed-in staff', async () => {
    expect(errorCode(await server.gql(VIEW, { p: patients[0] }))).toBe('UNAUTHENTICATED');
    expect(errorCode(await server.gql(VIEWERS, { p: patients[0] }))).toBe('UNAUTHENTICATED');
  });
});

describe('patient chart viewing with a short VIEWING_TTL', () => {
  const TTL_SECONDS = 2;
  let server: TestServer;
  let client: Client | undefined;
  beforeAll(async () => {
    server = await startTestServer({ viewingTtlSeconds: TTL_SECONDS });
  });
  afterAll(async () => {
    await client?.dispose();
    await server?.stop();
  });

  it('lets an unrenewed view lapse, and announces it', async () => {
    const [admin, nurse] = await Promise.all([
      server.login('sunrise-derm', 'admin'),
      server.login('sunrise-derm', 'nurse'),
    ]);
    const [chart] = (await server.ids('sunrise-derm')).patients;
    client = wsClient(server.url, { token: admin });
    const seen = await subscribed(server, client, CHANGED, { p: chart });
    const viewedAt = Date.now();
    await server.gql(VIEW, { p: chart }, nurse);
    await seen.waitFor(1);

    const deadline = TTL_SECONDS * 1000 + server.app.services.realtime.sweepIntervalMs + 3000;
    await seen.waitFor(2, deadline);
    expect(Date.now() - viewedAt).toBeGreaterThanOrEqual(TTL_SECONDS * 1000);
    expect(changes(seen)).toEqual([['Sam Rivera'], []]);
    expect((await server.gql(VIEWERS, { p: chart }, admin)).data!.patientViewers).toEqual([]);
  });
});

describe('VIEWING_TTL', () => {
  it('defaults to 30 seconds and accepts whole seconds from 2', () => {
    expect(loadConfig({ NODE_ENV: 'test' }).viewingTtlSeconds).toBe(30);
    expect(loadConfig({ NODE_ENV: 'test', VIEWING_TTL: '2' }).viewingTtlSeconds).toBe(2);
    expect(sweepIntervalMs({ presenceTtlSeconds: 30, viewingTtlSeconds: 3 })).toBe(500);
  });

  it.each(['1', '-5', '30s', '3601'])('stops start-up on %j and names the variable', (value) => {
    expect(() => loadConfig({ NODE_ENV: 'test', VIEWING_TTL: value })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: 'test', VIEWING_TTL: value })).toThrow(/VIEWING_TTL/);
  });
});
