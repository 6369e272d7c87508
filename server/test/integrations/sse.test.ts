import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { APPOINTMENT_CHANGED, bookFreeSlot, waitForStreams } from '../helpers/realtime.js';
import {
  createIntegrationClient,
  integrationToken,
  REVOKE_CLIENT,
  type IntegrationCredentials,
} from '../helpers/integrations.js';
import { openEventStream, type EventStream } from '../helpers/sse.js';
import { type TestServer } from '../helpers/testServer.js';
import { useTestServer } from '../helpers/setup.js';
import { signToken } from '../helpers/tokens.js';
import { collect, wsClient } from '../helpers/ws.js';

const t = useTestServer();
let server: TestServer;
let sunrise: Awaited<ReturnType<TestServer['ids']>>;
let frontDesk: string;
let client: IntegrationCredentials;
let token: string;
const streams: EventStream[] = [];

beforeAll(async () => {
  ({ server } = t);
  [sunrise, frontDesk] = await Promise.all([server.ids('sunrise-derm'), server.login('sunrise-derm', 'frontdesk')]);
  client = await createIntegrationClient(server, ['appointments:read']);
  token = await integrationToken(server.url, client);
});
afterAll(async () => {
  for (const s of streams) s.close();
});

async function open(
  t: string | null,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
) {
  const stream = await openEventStream(server.url, t, query, variables, headers);
  streams.push(stream);
  return stream;
}

const book = () => bookFreeSlot(server, frontDesk);

describe('Subscribe over SSE', () => {
  it('should stream appointment changes to an integration client as `next` events, each with its cursor', async () => {
    const stream = await open(token, APPOINTMENT_CHANGED);
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await waitForStreams(server, 1);
    const ids = [await book(), await book()];
    const events = await stream.waitFor(2);
    expect(events.map((e) => e.data.appointmentChanged.appointment.id)).toEqual(ids);
    expect(events.every((e) => typeof e.data.appointmentChanged.cursor === 'string')).toBe(true);
    stream.close();
    await waitForStreams(server, 0);
  });

  it('should resume after the last cursor: exactly what was missed, in order, then live', async () => {
    const first = await open(token, APPOINTMENT_CHANGED);
    await waitForStreams(server, 1);
    await book();
    const [seen] = await first.waitFor(1);
    const cursor = seen.data.appointmentChanged.cursor as string;
    first.close();
    await waitForStreams(server, 0);

    const missed = [await book(), await book(), await book()];
    const resumed = await open(token, APPOINTMENT_CHANGED, { after: cursor });
    const replayed = await resumed.waitFor(3);
    expect(replayed.map((e) => e.data.appointmentChanged.appointment.id)).toEqual(missed);
    await waitForStreams(server, 1);
    const live = await book();
    const all = await resumed.waitFor(4);
    expect(all[3].data.appointmentChanged.appointment.id).toBe(live);
    expect(resumed.results()).toHaveLength(4);
    resumed.close();
    await waitForStreams(server, 0);
  });

  it('should serve staff too, with their own token', async () => {
    const stream = await open(frontDesk, 'subscription { notification { cursor notification { title } } }');
    expect(stream.status).toBe(200);
    stream.close();
  });

  it('should answer a query as one `next` event, then `complete`, then end the response', async () => {
    const stream = await open(token, 'query { schedule(date: "2030-01-01") { id } }');
    await stream.ended;
    expect(stream.events).toEqual([
      { event: 'next', data: { data: { schedule: [] } } },
      { event: 'complete', data: null },
    ]);
  });

  it('should answer a cursor of another clinic as an error event, like over WebSocket', async () => {
    const other = await createIntegrationClient(server, ['appointments:read'], 'lakeside-skin');
    const lakeside = await open(await integrationToken(server.url, other), APPOINTMENT_CHANGED);
    lakeside.close();
    const stream = await open(token, APPOINTMENT_CHANGED, {
      after: Buffer.from(`e1:${(await server.ids('lakeside-skin')).tenantId}:1`).toString('base64url'),
    });
    await stream.ended;
    expect(stream.results()[0].errors).toEqual([
      expect.objectContaining({ extensions: { code: 'BAD_USER_INPUT', field: 'after' } }),
    ]);
  });
});

describe('Ending a stream', () => {
  it('should end the stream when its token expires, with a last event saying so', async () => {
    const short = await signToken(
      server.config.jwtSecret,
      { userId: sunrise.users.frontdesk, tenantId: sunrise.tenantId, role: 'FRONT_DESK', name: 'Jordan Kim' },
      2,
    );
    const stream = await open(short, APPOINTMENT_CHANGED);
    expect(stream.status).toBe(200);
    await stream.ended;
    expect(stream.events.slice(-2)).toEqual([
      {
        event: 'next',
        data: {
          errors: [expect.objectContaining({ extensions: { code: 'UNAUTHENTICATED', reason: 'TOKEN_EXPIRED' } })],
        },
      },
      { event: 'complete', data: null },
    ]);
  });

  it("should end a revoked client's stream within seconds, with a last event saying so", async () => {
    const doomed = await createIntegrationClient(server, ['appointments:read']);
    const stream = await open(await integrationToken(server.url, doomed), APPOINTMENT_CHANGED);
    await waitForStreams(server, 1);
    const revokedAt = Date.now();
    await server.gql(REVOKE_CLIENT, { id: doomed.id }, await server.login('sunrise-derm', 'admin'));
    await stream.ended;
    expect(Date.now() - revokedAt).toBeLessThan(3000);
    expect(stream.events.slice(-2)).toEqual([
      {
        event: 'next',
        data: {
          errors: [expect.objectContaining({ extensions: { code: 'UNAUTHENTICATED', reason: 'CLIENT_REVOKED' } })],
        },
      },
      { event: 'complete', data: null },
    ]);
    await waitForStreams(server, 0);
  });
});

describe('Bad requests to /graphql/stream', () => {
  it('should refuse a request that does not ask for text/event-stream with 406', async () => {
    const stream = await open(token, APPOINTMENT_CHANGED, {}, { accept: 'application/json' });
    expect(stream.status).toBe(406);
    expect(stream.body.errors[0].message).toMatch(/text\/event-stream/);
  });

  it('should refuse GET with 405 and Allow: POST', async () => {
    const res = await fetch(
      `${server.url}/graphql/stream?query=${encodeURIComponent('subscription { presence { status } }')}`,
      { headers: { accept: 'text/event-stream' } },
    );
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });

  it.each([
    ['no token', null, 'Sign in first: send a valid bearer token'],
    ['a malformed token', 'not-a-jwt', 'The token is malformed'],
  ])('should refuse %s with 401 UNAUTHENTICATED', async (_case, t, message) => {
    const stream = await open(t, APPOINTMENT_CHANGED);
    expect(stream.status).toBe(401);
    expect(stream.body.errors).toEqual([{ message, extensions: { code: 'UNAUTHENTICATED' } }]);
  });

  it("should refuse a revoked client's token with 401", async () => {
    const doomed = await createIntegrationClient(server, ['appointments:read']);
    const t = await integrationToken(server.url, doomed);
    await server.gql(REVOKE_CLIENT, { id: doomed.id }, await server.login('sunrise-derm', 'admin'));
    const stream = await open(t, APPOINTMENT_CHANGED);
    expect(stream.status).toBe(401);
    expect(stream.body.errors[0].message).toBe('This integration client has been revoked');
  });

  it.each([
    ['a document that does not parse', 'subscription {', 400, 'GRAPHQL_PARSE_FAILED'],
    ['a field that does not exist', 'subscription { nope }', 400, 'GRAPHQL_VALIDATION_FAILED'],
    [
      'a document nested too deep',
      `query { ${'appointment(id: "x") { patient { appointments(from: "2030-01-01T00:00:00Z", to: "2030-01-02T00:00:00Z") { '.repeat(4)}id${' } } }'.repeat(4)} }`,
      400,
      'GRAPHQL_VALIDATION_FAILED',
    ],
  ])('should refuse %s with %i and the same code as HTTP', async (_case, query, status, code) => {
    const stream = await open(frontDesk, query);
    expect(stream.status).toBe(status);
    expect(stream.body.errors[0].extensions.code).toBe(code);
  });

  it('should refuse a document longer than the limit with 413', async () => {
    const stream = await open(token, `subscription { presence { status } } # ${'x'.repeat(25_000)}`);
    expect(stream.status).toBe(413);
  });

  it('should refuse a body that is not JSON with 400, not a stack trace', async () => {
    const res = await fetch(`${server.url}/graphql/stream`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
      body: '{"query": ',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      errors: [{ message: 'The body is not valid JSON', extensions: { code: 'BAD_REQUEST' } }],
    });
  });

  it('should refuse a body without a query with 400', async () => {
    const res = await fetch(`${server.url}/graphql/stream`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
      body: JSON.stringify({ variables: {} }),
    });
    expect(res.status).toBe(400);
  });

  it('should refuse variables that do not fit with an error coded BAD_USER_INPUT, as over WebSocket (not a masked internal error)', async () => {
    const query = 'subscription($p: ID) { appointmentChanged(providerId: $p) { cursor } }';
    const stream = await open(token, query, { p: { not: 'an id' } });
    await stream.ended;
    expect(stream.results()[0].errors[0].extensions.code).toBe('BAD_USER_INPUT');
    const socket = wsClient(server.url, { token });
    try {
      const sub = collect(socket, query, { p: { not: 'an id' } });
      await sub.completed;
      expect(sub.results[0].errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    } finally {
      await socket.dispose();
    }
  });

  it('should refuse more than 50 open streams per caller on one server with 429', async () => {
    const many = await Promise.all(
      Array.from({ length: 50 }, () => open(token, 'subscription { appointmentChanged { cursor } }')),
    );
    expect(many.every((s) => s.status === 200)).toBe(true);
    const over = await open(token, 'subscription { appointmentChanged { cursor } }');
    expect(over.status).toBe(429);
    expect(over.body.errors[0].extensions).toEqual({ code: 'BAD_REQUEST', reason: 'TOO_MANY_SUBSCRIPTIONS' });
    for (const s of many) s.close();
    // A stream slot is free again.
    await vi.waitFor(
      async () => expect((await open(token, 'query { schedule(date: "2030-01-01") { id } }')).status).toBe(200),
      { timeout: 5000 },
    );
  });
});
