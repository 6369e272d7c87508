import { describe, expect, it, vi } from 'vitest';
import { DEMO_PASSWORD } from '../../src/db/seeds/demo.js';
import { liveSocket } from '../helpers/integrations.js';
import { SHARED_JWT_SECRET, spawnServer } from '../helpers/process.js';
import { APPOINTMENT_CHANGED, freeSlot } from '../helpers/realtime.js';
import { openEventStream } from '../helpers/sse.js';
import { signToken } from '../helpers/tokens.js';
import { startRedis } from '../helpers/redisServer.js';
import { TEST_REDIS_URL } from '../helpers/services.js';
import { createTestDatabase } from '../helpers/testServer.js';

async function post(url: string, query: string, variables: Record<string, unknown> = {}, token?: string) {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, ...((await res.json()) as { data?: any; errors?: Array<{ extensions?: any }> }) };
}

const signIn = async (url: string, email: string) =>
  (
    await post(
      url,
      'mutation($e: String!, $p: String!) { login(tenant: "sunrise-derm", email: $e, password: $p) { token } }',
      {
        e: email,
        p: DEMO_PASSWORD,
      },
    )
  ).data.login.token as string;

const ME = '{ me { id } }';

const firstPatient = async (url: string, token: string) =>
  (await post(url, '{ patients(first: 1) { edges { node { id } } } }', {}, token)).data.patients.edges[0].node
    .id as string;

// Instances share sign-outs through Redis; the embedded project is one process by design.
describe('Sign-out across instances', () => {
  it("should close the session's sockets on every instance within 2 s, and refuse its token on each", async () => {
    const database = await createTestDatabase();
    const env = { DATABASE_URL: database.url!, REDIS_URL: TEST_REDIS_URL, REDIS_NAMESPACE: `test-${Date.now()}` };
    const [a, b] = await Promise.all([spawnServer(env), spawnServer(env)]);
    try {
      const token = await signIn(a.url, 'lee@sunrise.example');
      const onA = await liveSocket(a, token);
      const onB = await liveSocket(b, token);
      // Both sockets acknowledged (a query over each answers).
      await vi.waitFor(async () => expect((await post(b.url, ME, {}, token)).status).toBe(200));

      const signedOutAt = Date.now();
      expect((await post(a.url, 'mutation { signOut }', {}, token)).data).toEqual({ signOut: true });
      const [closedA, closedB] = await Promise.all([onA.whenClosed(5000), onB.whenClosed(5000)]);
      expect(closedA).toMatchObject({ code: 4403, reason: 'Signed out' });
      expect(closedB).toMatchObject({ code: 4403, reason: 'Signed out' });
      expect(closedB.at - signedOutAt).toBeLessThan(2000);
      // Refused on the other instance too (read from Redis, not only from the signal).
      expect((await post(b.url, ME, {}, token)).status).toBe(401);
      await Promise.all([onA.socket.dispose(), onB.socket.dispose()]);

      // An SSE stream served by B, renewed through A: it outlives its first token.
      const patel = await signIn(a.url, 'patel@sunrise.example');
      const { data } = await post(a.url, '{ me { id tenant { id } } }', {}, patel);
      const short = await signToken(
        SHARED_JWT_SECRET,
        { userId: data.me.id, tenantId: data.me.tenant.id, role: 'PROVIDER', name: 'Dr. Arjun Patel' },
        3,
      );
      const expiresAt = Date.now() + 3000;
      const stream = await openEventStream(b.url, short, APPOINTMENT_CHANGED);
      const renewed = await post(
        a.url,
        'mutation($s: ID!) { renewStream(streamId: $s) { expiresAt } }',
        { s: stream.headers.get('x-request-id') },
        patel,
      );
      expect(renewed.errors).toBeUndefined();
      await vi.waitUntil(() => Date.now() > expiresAt + 2000, { timeout: 10_000, interval: 100 });
      // Still open on B: an event booked now arrives.
      const booked = await post(
        a.url,
        'mutation($i: CreateAppointmentInput!) { createAppointment(input: $i) { id } }',
        { i: { providerId: data.me.id, patientId: await firstPatient(a.url, patel), ...freeSlot() } },
        patel,
      );
      const [event] = await stream.waitFor(1);
      expect(event.data.appointmentChanged.appointment.id).toBe(booked.data.createAppointment.id);
      stream.close();
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await database.drop();
    }
  });

  it('should keep a sign-out made while Redis is down, refuse it there at once, and tell the others once Redis is back', async () => {
    const redis = await startRedis();
    const database = await createTestDatabase();
    const env = { DATABASE_URL: database.url!, REDIS_URL: redis.url, REDIS_NAMESPACE: `test-${Date.now()}` };
    const [a, b] = await Promise.all([spawnServer(env), spawnServer(env)]);
    try {
      const token = await signIn(a.url, 'nurse@sunrise.example');
      const onB = await liveSocket(b, token);
      await vi.waitFor(async () => expect((await post(b.url, ME, {}, token)).status).toBe(200));

      await redis.kill();
      // Answered (not an error, not a dead process), and refused on this instance from now on.
      expect((await post(a.url, 'mutation { signOut }', {}, token)).data).toEqual({ signOut: true });
      expect((await post(a.url, ME, {}, token)).status).toBe(401);

      await redis.restart();
      // Once Redis is back, the other instance hears of it: its socket closes and the token is refused there.
      expect(await onB.whenClosed(15_000)).toMatchObject({ code: 4403, reason: 'Signed out' });
      await vi.waitFor(async () => expect((await post(b.url, ME, {}, token)).status).toBe(401), { timeout: 10_000 });
      expect(a.child.exitCode).toBeNull();
      await onB.socket.dispose();
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await database.drop();
      await redis.stop();
    }
  });
});
