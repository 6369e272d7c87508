import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { scrape } from './helpers/metrics.js';
import { APPOINTMENT_CHANGED, CREATE_APPOINTMENT, freeSlot, subscribeLive } from './helpers/realtime.js';
import { startRedis, type OwnRedis } from './helpers/redisServer.js';
import { dataOf, startTestServer, type TestServer } from './helpers/testServer.js';
import { wsClient } from './helpers/ws.js';

/**
 * A Redis outage as /metrics tells it (docs/architecture.md, "Metrics"): Redis down, for how long, the reconnection,
 * and the events this instance committed meanwhile and could not deliver until it was back. The server runs on a Redis
 * of its own, which the test kills and starts again (never the shared one).
 */
describe('Metrics of a Redis outage', () => {
  let redis: OwnRedis;
  let server: TestServer;

  beforeAll(async () => {
    redis = await startRedis();
    server = await startTestServer({ redisUrl: redis.url });
  });
  afterAll(async () => {
    await server?.stop();
    await redis?.stop();
  });

  it('should show Redis down, the seconds it was and the reconnection, with no delivery lag for what the instance committed meanwhile', async () => {
    const { users, patients } = await server.ids('sunrise-derm');
    const desk = await server.login('sunrise-derm', 'frontdesk');
    const client = wsClient(server.url, { token: desk });
    try {
      const sub = await subscribeLive(server, client, APPOINTMENT_CHANGED);
      const before = await scrape(server.url);
      expect(before.value('derm_redis_up')).toBe(1);
      expect(before.value('derm_pubsub_reconnects_total')).toBe(0);
      expect(before.value('derm_redis_down_seconds_total')).toBe(0);

      await redis.kill();
      await vi.waitFor(async () => expect((await scrape(server.url)).value('derm_redis_up')).toBe(0), 10_000);
      // Committed here while the wake-up cannot be published: this instance hands its own rows to its subscribers.
      const input = { providerId: users.lee, patientId: patients[0], ...freeSlot() };
      dataOf(await server.gql(CREATE_APPOINTMENT, { i: input }, desk));
      await sub.waitFor(1, 10_000);
      await vi.waitFor(async () => expect((await scrape(server.url)).value('derm_event_log_lag_events')).toBe(0));
      expect((await scrape(server.url)).value('derm_redis_up')).toBe(0);
      await vi.waitFor(
        async () => expect((await scrape(server.url)).value('derm_redis_down_seconds_total')).toBeGreaterThan(0.5),
        10_000,
      );

      await redis.restart();
      await vi.waitFor(
        async () => expect((await scrape(server.url)).value('derm_pubsub_reconnects_total')).toBe(1),
        15_000,
      );
      // The reconnection's backfill finds nothing it missed: the booking is not delivered again.
      const next = dataOf(await server.gql(CREATE_APPOINTMENT, { i: { ...input, ...freeSlot() } }, desk))
        .createAppointment.id;
      await sub.waitFor(2, 10_000);
      expect(sub.results.map((r) => r.data!.appointmentChanged.appointment.id)[1]).toBe(next);
      // Up once both of its connections are: the one that publishes may reconnect a moment after the subscriber.
      await vi.waitFor(async () => expect((await scrape(server.url)).value('derm_redis_up')).toBe(1), 15_000);
      const after = await scrape(server.url);
      const down = after.value('derm_redis_down_seconds_total');
      expect(down).toBeGreaterThan(0.5);
      // The outage is over: the count stops growing.
      expect((await scrape(server.url)).value('derm_redis_down_seconds_total')).toBe(down);
    } finally {
      await client.dispose();
    }
  });
});
