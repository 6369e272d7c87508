import { describe, expect, it, vi } from 'vitest';
import { createIntegrationClient, integrationToken } from './helpers/integrations.js';
import { parsePrometheus, scrape } from './helpers/metrics.js';
import { openAcknowledged } from './helpers/rawSocket.js';
import { APPOINTMENT_CHANGED, CREATE_APPOINTMENT, freeSlot, subscribeLive } from './helpers/realtime.js';
import { useSockets, useTestServer } from './helpers/setup.js';
import { openEventStream } from './helpers/sse.js';
import { dataOf } from './helpers/testServer.js';
import { collect } from './helpers/ws.js';

/**
 * What an operator reads at /metrics moves when its cause happens (docs/architecture.md, "Metrics"). Each test reads
 * the figures before and after, since the server is shared by the file.
 */
// A small bound, so that a socket that stops reading is ended after little more than what the kernel buffers.
const t = useTestServer({ slowConsumerBytes: 16 * 1024 });
const sockets = useSockets(t);

const CREATE_THREAD = 'mutation($i: CreateThreadInput!) { createThread(input: $i) { id } }';
const SEND = 'mutation($t: ID!, $b: String!) { sendMessage(threadId: $t, body: $b) { id } }';
/** Each body thirty times over (aliases): frames of ~150 KB fill a stalled client's kernel buffers in a few dozen. */
const MESSAGE_ADDED_BIG = `subscription($threadId: ID) {
  messageAdded(threadId: $threadId) {
    cursor
    message { body ${Array.from({ length: 29 }, (_, i) => `b${i}: body`).join(' ')} }
  }
}`;

describe('Metrics', () => {
  it('should serve the Prometheus text format, every sample parseable', async () => {
    const res = await fetch(`${t.server.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const samples = parsePrometheus(await res.text());
    const names = new Set(samples.map((s) => s.name));
    for (const name of [
      'derm_delivery_groups',
      'derm_delivery_group_members',
      'derm_redis_up',
      'derm_redis_down_seconds_total',
      'derm_pubsub_reconnects_total',
      'derm_event_log_lag_events',
      'derm_replay_events_count',
      'derm_slow_consumers_total',
    ]) {
      expect(names, name).toContain(name);
    }
  });

  it('should count an appointment committed and its frames delivered, and time its delivery once per group, not per subscriber', async () => {
    const { server, sunrise } = t;
    const desk = await t.token('frontdesk');
    // Four subscribers of one group.
    const subs = [];
    for (let i = 0; i < 4; i++) subs.push(await subscribeLive(server, sockets.open(desk), APPOINTMENT_CHANGED));
    expect(server.app.services.delivery.groupCount).toBe(1);
    const before = await scrape(server.url);
    const input = { providerId: sunrise.users.lee, patientId: sunrise.patients[0], ...freeSlot() };
    dataOf(await server.gql(CREATE_APPOINTMENT, { i: input }, desk));
    await Promise.all(subs.map((s) => s.waitFor(1)));

    const topic = { topic: 'appointment' };
    await vi.waitFor(async () => {
      const after = await scrape(server.url);
      expect(
        after.value('derm_events_committed_total', topic) - before.value('derm_events_committed_total', topic),
      ).toBe(1);
      expect(
        after.value('derm_events_delivered_total', topic) - before.value('derm_events_delivered_total', topic),
      ).toBe(4);
      const latency = 'derm_event_delivery_latency_seconds_count';
      expect(after.value(latency, topic) - before.value(latency, topic), 'one group: one observation').toBe(1);
      expect(after.value('derm_event_log_lag_events')).toBe(0);
    });
    const after = await scrape(server.url);
    const seconds =
      after.value('derm_event_delivery_latency_seconds_sum', topic) -
      before.value('derm_event_delivery_latency_seconds_sum', topic);
    expect(seconds).toBeGreaterThanOrEqual(0);
    expect(seconds).toBeLessThan(10);
  });

  it('should observe how many events a resume replayed', async () => {
    const { server, sunrise } = t;
    const desk = await t.token('frontdesk');
    const live = await subscribeLive(server, sockets.open(desk), APPOINTMENT_CHANGED);
    const book = () =>
      server.gql(
        CREATE_APPOINTMENT,
        { i: { providerId: sunrise.users.lee, patientId: sunrise.patients[1], ...freeSlot() } },
        desk,
      );
    dataOf(await book());
    await live.waitFor(1);
    const cursor = live.results[0].data!.appointmentChanged.cursor as string;
    dataOf(await book());
    dataOf(await book());
    await live.waitFor(3);

    const before = await scrape(server.url);
    const resumed = await subscribeLive(server, sockets.open(desk), APPOINTMENT_CHANGED, { after: cursor });
    await resumed.waitFor(2);
    await vi.waitFor(async () => {
      const after = await scrape(server.url);
      expect(after.value('derm_replay_events_count') - before.value('derm_replay_events_count')).toBe(1);
      expect(after.value('derm_replay_events_sum') - before.value('derm_replay_events_sum')).toBe(2);
      // Replayed frames are delivered frames too.
      const delivered = { topic: 'appointment' };
      expect(
        after.value('derm_events_delivered_total', delivered) - before.value('derm_events_delivered_total', delivered),
      ).toBe(2);
    });
  });

  it('should count a subscriber ended as SLOW_CONSUMER', async () => {
    const { server, sunrise } = t;
    const { delivery } = server.app.services;
    const [nurse, lee] = await Promise.all([t.token('nurse'), t.token('lee')]);
    const thread = dataOf(
      await server.gql(
        CREATE_THREAD,
        { i: { subject: 'Slow', participantIds: [sunrise.users.lee], body: 'x' } },
        nurse,
      ),
    ).createThread;
    const before = await scrape(server.url);
    const stalled = await openAcknowledged(server.url, lee);
    stalled.send({
      type: 'subscribe',
      id: 's',
      payload: { query: MESSAGE_ADDED_BIG, variables: { threadId: thread.id } },
    });
    await vi.waitFor(() => expect(delivery.memberCount).toBe(1));
    stalled.ws.pause();
    const body = 'x'.repeat(4_990);
    let sent = 0;
    while (delivery.memberCount > 0 && sent < 4_000) {
      await Promise.all(Array.from({ length: 20 }, () => server.gql(SEND, { t: thread.id, b: body }, nurse)));
      sent += 20;
    }
    expect(delivery.memberCount, `ended within ${sent} messages`).toBe(0);
    const after = await scrape(server.url);
    expect(after.value('derm_slow_consumers_total') - before.value('derm_slow_consumers_total')).toBe(1);
    stalled.ws.resume();
    const error = await stalled.waitFor((m) => m.type === 'error' && m.id === 's', 30_000);
    expect(error.payload[0].extensions).toMatchObject({ reason: 'SLOW_CONSUMER' });
    stalled.ws.close();
  });

  it('should count operations by transport, type, root field and outcome, never by a name the client chose', async () => {
    const { server } = t;
    const desk = await t.token('frontdesk');
    const before = await scrape(server.url);
    dataOf(await server.gql('query MyOwnName { me { id } }', {}, desk));
    const bad = await server.gql('query { me { id } clientInvented { id } }', {}, desk);
    expect(bad.errors?.[0].extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    const noToken = await server.gql('{ me { id } }', {}, 'not-a-token');
    expect(noToken.status).toBe(401);

    const client = sockets.open(desk);
    await subscribeLive(server, client, APPOINTMENT_CHANGED);
    // Refused by its resolver: a result with errors, then complete.
    const refused = collect(client, APPOINTMENT_CHANGED, { after: 'not-a-cursor' });
    await refused.completed;
    expect(refused.results[0].errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    const invalid = collect(client, 'subscription { noSuchField }');
    await expect(invalid.failed).rejects.toEqual([
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'GRAPHQL_VALIDATION_FAILED' }) }),
    ]);
    const stream = await openEventStream(server.url, desk, APPOINTMENT_CHANGED);
    expect(stream.status).toBe(200);
    // A valid document refused by who may select what: its labels are known.
    const integration = await integrationToken(
      server.url,
      await createIntegrationClient(server, ['appointments:read']),
    );
    const forbidden = await openEventStream(server.url, integration, 'subscription { presence { status } }');
    expect(forbidden.status).toBe(403);

    const count = 'derm_operation_duration_seconds_count';
    await vi.waitFor(async () => {
      const after = await scrape(server.url);
      const moved = (labels: Record<string, string>) => after.value(count, labels) - before.value(count, labels);
      expect(moved({ transport: 'http', type: 'query', field: 'me', outcome: 'ok' })).toBe(1);
      expect(moved({ transport: 'http', type: 'query', field: 'several', outcome: 'GRAPHQL_VALIDATION_FAILED' })).toBe(
        1,
      );
      expect(moved({ transport: 'http', type: 'unknown', field: '', outcome: 'UNAUTHENTICATED' })).toBe(1);
      expect(moved({ transport: 'ws', type: 'subscription', field: 'appointmentChanged', outcome: 'ok' })).toBe(1);
      expect(
        moved({ transport: 'ws', type: 'subscription', field: 'appointmentChanged', outcome: 'BAD_USER_INPUT' }),
      ).toBe(1);
      expect(moved({ transport: 'ws', type: 'unknown', outcome: 'GRAPHQL_VALIDATION_FAILED' })).toBe(1);
      expect(moved({ transport: 'sse', type: 'subscription', field: 'appointmentChanged', outcome: 'ok' })).toBe(1);
      expect(moved({ transport: 'sse', type: 'subscription', field: 'presence', outcome: 'FORBIDDEN' })).toBe(1);
    });
    const after = await scrape(server.url);
    const labelValues = after.samples.filter((s) => s.name === count).flatMap((s) => Object.values(s.labels));
    expect(labelValues).not.toContain('MyOwnName');
    expect(labelValues).not.toContain('clientInvented');
    stream.close();
  });
});
