import { randomBytes } from 'node:crypto';
import { CloseCode, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { eventCursor } from '../../src/events/eventLog.js';
import { openAcknowledged, openSocket } from '../helpers/rawSocket.js';
import {
  APPOINTMENT_CHANGED,
  bookFreeSlot,
  NOTIFICATION,
  liveStreams,
  subscribeLive,
  waitForStreams,
} from '../helpers/realtime.js';
import { useTestServer, type ClinicIds } from '../helpers/setup.js';
import { startTestServer, type TestServer } from '../helpers/testServer.js';
import { signToken, unsignedToken, type TokenClaims } from '../helpers/tokens.js';
import { collect, wsClient } from '../helpers/ws.js';

const t = useTestServer();
let server: TestServer;
let sunrise: ClinicIds;
let lakeside: ClinicIds;
let nurse: string;
let frontDesk: string;
let nurseClaims: TokenClaims;
const clients: Client[] = [];

beforeAll(async () => {
  ({ server, sunrise, lakeside } = t);
  [nurse, frontDesk] = await Promise.all([t.token('nurse'), t.token('frontdesk')]);
  nurseClaims = { userId: sunrise.users.nurse, tenantId: sunrise.tenantId, role: 'NURSE', name: 'Sam Rivera' };
});
afterAll(() => Promise.all(clients.map((c) => c.dispose())));

/** A graphql-ws client closed when the file ends. */
function client(options: Parameters<typeof wsClient>[1]): Client {
  const c = wsClient(server.url, options);
  clients.push(c);
  return c;
}

/** Runs one operation over a socket: what came back, and the errors of an `error` message if one ended it. */
async function overSocket(c: Client, query: string, variables: Record<string, unknown> = {}) {
  const results: Array<{ data?: any; errors?: any[] }> = [];
  return new Promise<{ results: typeof results; errors?: any[] }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer to ${query}`)), 10_000);
    c.subscribe(
      { query, variables },
      {
        next: (r) => results.push(r as (typeof results)[number]),
        error: (errors) => {
          clearTimeout(timer);
          if (Array.isArray(errors)) resolve({ results, errors });
          else reject(errors);
        },
        complete: () => {
          clearTimeout(timer);
          resolve({ results });
        },
      },
    );
  });
}

const book = () => bookFreeSlot(server, frontDesk);

/** A subscriber that must keep receiving whatever the misbehaving clients around it do. */
async function bystander(): Promise<{ stillServed(): Promise<void> }> {
  const seen = await subscribeLive(server, client({ token: nurse }), APPOINTMENT_CHANGED);
  return {
    async stillServed() {
      const id = await book();
      await vi.waitFor(() => expect(seen.results.map((r) => r.data?.appointmentChanged.appointment.id)).toContain(id), {
        timeout: 10_000,
      });
    },
  };
}

/** How `connection_init` with these params ends: the close code, and whether an ack ever came. */
async function connectWith(payload: Record<string, unknown> | undefined) {
  const socket = await openSocket(server.url);
  socket.send(payload === undefined ? { type: 'connection_init' } : { type: 'connection_init', payload });
  const { code } = await socket.closed;
  return { code, acknowledged: socket.messages.some((m) => m.type === 'connection_ack') };
}

describe('Connection', () => {
  it.each<[string, () => Promise<Record<string, unknown> | undefined>]>([
    ['no connectionParams at all', async () => undefined],
    ['no token', async () => ({})],
    ['a malformed token', async () => ({ authorization: 'Bearer not-a-jwt' })],
    ['something other than a bearer token', async () => ({ authorization: 'Basic bnVyc2U6cGFzcw==' })],
    [
      'an expired token',
      async () => ({
        authorization: `Bearer ${await signToken(server.config.jwtSecret, nurseClaims, 60, Math.floor(Date.now() / 1000) - 120)}`,
      }),
    ],
    [
      'a token signed with another key',
      async () => ({ authorization: `Bearer ${await signToken(randomBytes(32).toString('hex'), nurseClaims)}` }),
    ],
    ['an unsigned (alg: none) token', async () => ({ authorization: `Bearer ${unsignedToken(nurseClaims)}` })],
  ])('should close the socket with 4403 when connection_init carries %s', async (_case, params) => {
    const outcome = await connectWith(await params());
    expect(outcome).toEqual({ code: CloseCode.Forbidden, acknowledged: false });
  });

  it('should close the socket with 4403 when its token expires mid-connection, and not before', async () => {
    const token = await signToken(server.config.jwtSecret, nurseClaims, 2);
    const expiresAt = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).exp * 1000;
    let closedWith: { code: number; at: number } | undefined;
    const c = client({ token, onClosed: (e) => (closedWith ??= { code: e.code, at: Date.now() }) });
    const streams = liveStreams(server);
    collect(c, NOTIFICATION);
    await waitForStreams(server, streams + 1);
    // Served while the token lasts.
    const me = await overSocket(c, '{ me { id } }');
    expect(me.results[0].data!.me.id).toBe(sunrise.users.nurse);

    await vi.waitUntil(() => closedWith, { timeout: 6_000 });
    expect(closedWith!.code).toBe(CloseCode.Forbidden);
    expect(closedWith!.at).toBeGreaterThanOrEqual(expiresAt);
    await waitForStreams(server, streams);
  });
});

describe('Upgrade', () => {
  it('should refuse a page of another origin at the upgrade, before any GraphQL is spoken', async () => {
    const before = liveStreams(server);
    await expect(openSocket(server.url, { origin: 'https://evil.example' })).rejects.toMatchObject({ status: 403 });
    await expect(openSocket(server.url, { origin: 'null' })).rejects.toMatchObject({ status: 403 });
    expect(liveStreams(server)).toBe(before);
  });

  it.each([
    ['the web app origin', 'http://localhost:5173'],
    ['no Origin (a non-browser client)', undefined],
  ])('should accept %s', async (_case, origin) => {
    const res = await overSocket(client({ token: nurse, origin }), '{ me { name } }');
    expect(res.results).toEqual([{ data: { me: { name: 'Sam Rivera' } } }]);
  });
});

describe('Limits', () => {
  it('should close a socket that sends a frame over 64 KiB with 1009, and keep serving other clients', async () => {
    const other = await bystander();
    const socket = await openAcknowledged(server.url, nurse);
    socket.send({ type: 'subscribe', id: '1', payload: { query: `{ me { id } } # ${'x'.repeat(64 * 1024)}` } });
    expect((await socket.closed).code).toBe(1009);
    await other.stillServed();
  });

  it('should refuse the 51st concurrent operation on one socket with BAD_REQUEST / TOO_MANY_SUBSCRIPTIONS while the other 50 keep working', async () => {
    const c = client({ token: nurse });
    const streams = liveStreams(server);
    const fifty = Array.from({ length: 50 }, () => collect(c, APPOINTMENT_CHANGED));
    await waitForStreams(server, streams + 50);

    const refused = collect(c, APPOINTMENT_CHANGED);
    await expect(refused.failed).rejects.toEqual([
      expect.objectContaining({ extensions: { code: 'BAD_REQUEST', reason: 'TOO_MANY_SUBSCRIPTIONS' } }),
    ]);
    const id = await book();
    for (const sub of fifty) {
      const [event] = await sub.waitFor(1);
      expect(event.data!.appointmentChanged.appointment.id).toBe(id);
    }
    // A slot opens again when one of the fifty ends.
    fifty[0].stop();
    await waitForStreams(server, streams + 49);
    const replacement = collect(c, APPOINTMENT_CHANGED);
    await waitForStreams(server, streams + 50);
    for (const sub of [...fifty.slice(1), replacement]) sub.stop();
    await waitForStreams(server, streams);
  });

  it('should serve 200 messages in 10 s and close the socket with 4429 at the 201st, and keep serving other clients', async () => {
    const other = await bystander();
    const socket = await openAcknowledged(server.url, nurse); // connection_init was message 1
    for (let i = 2; i <= 200; i++) socket.send({ type: 'ping' });
    await vi.waitFor(() => expect(socket.messages.filter((m) => m.type === 'pong')).toHaveLength(199), {
      timeout: 10_000,
    });
    expect(socket.ws.readyState).toBe(socket.ws.OPEN);
    socket.send({ type: 'ping' });
    expect(await socket.closed).toEqual({ code: 4429, reason: 'Too many messages' });
    await other.stillServed();
  });
});

describe('Protocol', () => {
  it.each<[string, number, (socket: Awaited<ReturnType<typeof openSocket>>) => void]>([
    ['a message that is not JSON', CloseCode.BadRequest, (s) => s.send('{"type": "connection_init"')],
    [
      'a message of an unknown type',
      CloseCode.BadRequest,
      (s) => s.send({ type: 'start', id: '1', payload: { query: '{ me { id } }' } }),
    ],
    ['a message that is JSON but not an object', CloseCode.BadRequest, (s) => s.send('42')],
    ['a message that is JSON null', CloseCode.BadRequest, (s) => s.send('null')],
    ['a message that is a JSON array', CloseCode.BadRequest, (s) => s.send('[{"type": "connection_init"}]')],
    [
      'a message sent as a JSON string of a message (encoded twice)',
      CloseCode.BadRequest,
      (s) => s.send(JSON.stringify(JSON.stringify({ type: 'connection_init' }))),
    ],
    [
      'a subscribe before connection_init',
      CloseCode.Unauthorized,
      (s) => s.send({ type: 'subscribe', id: '1', payload: { query: '{ me { id } }' } }),
    ],
    [
      'a second connection_init',
      CloseCode.TooManyInitialisationRequests,
      (s) => {
        s.send({ type: 'connection_init', payload: { authorization: `Bearer ${nurse}` } });
        s.send({ type: 'connection_init', payload: { authorization: `Bearer ${nurse}` } });
      },
    ],
  ])(
    'should close the socket on %s with %i, and leave the server and other clients unaffected',
    async (_case, code, misbehave) => {
      const other = await bystander();
      const socket = await openSocket(server.url);
      misbehave(socket);
      expect((await socket.closed).code).toBe(code);
      await other.stillServed();
      expect((await fetch(`${server.url}/livez`)).status).toBe(200);
    },
  );

  it('should keep a running subscription’s id its own: `complete` stops it with no reply and frees the id; reusing it while it runs closes the socket with 4409', async () => {
    const streams = liveStreams(server);
    const socket = await openAcknowledged(server.url, nurse);
    const subscribe = { type: 'subscribe', id: 'schedule', payload: { query: APPOINTMENT_CHANGED } };
    const about = (id: string) => socket.messages.filter((m) => m.id === id);
    const booked = (m: { payload?: unknown }) =>
      (m.payload as { data: { appointmentChanged: { appointment: { id: string } } } }).data.appointmentChanged
        .appointment.id;
    const received = (id: string, appointment: string) =>
      socket.waitFor((m) => m.id === id && m.type === 'next' && booked(m) === appointment);
    // A second operation on the socket, live throughout: once it has an event, this instance has heard it.
    socket.send({ type: 'subscribe', id: 'watch', payload: { query: APPOINTMENT_CHANGED } });
    socket.send(subscribe);
    await waitForStreams(server, streams + 2);
    const first = await book();
    await received('schedule', first);

    socket.send({ type: 'complete', id: 'schedule' });
    await waitForStreams(server, streams + 1);
    const missed = await book();
    await received('watch', missed);
    socket.send(subscribe);
    await waitForStreams(server, streams + 2);
    const third = await book();
    await received('schedule', third);
    await received('watch', third);
    // Every message about the id is one of its events, the one booked while it was completed not among them.
    expect(about('schedule').map((m) => [m.type, booked(m)])).toEqual([
      ['next', first],
      ['next', third],
    ]);

    socket.send(subscribe);
    expect(await socket.closed).toEqual({
      code: CloseCode.SubscriberAlreadyExists,
      reason: 'Subscriber for schedule already exists',
    });
    await waitForStreams(server, streams);
  });

  it('should close the socket with 4406 when the client does not ask for graphql-transport-ws', async () => {
    const socket = await openSocket(server.url, { protocol: null });
    expect((await socket.closed).code).toBe(CloseCode.SubprotocolNotAcceptable);
  });
});

describe('Documents', () => {
  const range = `(from: "2040-01-01T00:00:00Z", to: "2040-01-02T00:00:00Z")`; // a day without bookings: the depth is the point
  /** `levels` fields alternating Patient.appointments and Appointment.patient, `id` innermost. */
  function chain(levels: number, first: 'patient' | 'appointments'): string {
    let selection = 'id';
    for (let i = levels - 1; i >= 1; i--)
      selection =
        (i % 2 === 1) === (first === 'patient') ? `patient { ${selection} }` : `appointments${range} { ${selection} }`;
    return selection;
  }
  /** A query `levels` fields deep. */
  const nested = (levels: number) => `{ appointments${range} { ${chain(levels - 1, 'patient')} } }`;

  it('should answer a document that does not parse with GRAPHQL_PARSE_FAILED, as over HTTP', async () => {
    const query = 'subscription { appointmentChanged { kind ';
    const ws = await overSocket(client({ token: nurse }), query);
    const http = await server.gql(query, {}, nurse);
    expect(ws.errors).toEqual([
      expect.objectContaining({ message: http.errors![0].message, extensions: { code: 'GRAPHQL_PARSE_FAILED' } }),
    ]);
  });

  it('should answer a document that does not fit the schema with GRAPHQL_VALIDATION_FAILED, as over HTTP', async () => {
    const query = 'subscription { appointmentChanged { kind nonsense } }';
    const ws = await overSocket(client({ token: nurse }), query);
    const http = await server.gql(query, {}, nurse);
    expect(http.errors![0].extensions!.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(ws.errors).toEqual([
      expect.objectContaining({ message: http.errors![0].message, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }),
    ]);
  });

  it('should refuse a document nested deeper than 10 levels, or with more than 30 aliases, exactly as over HTTP', async () => {
    const c = client({ token: nurse });
    // Ten levels through single objects: deep, but cheap.
    const fine = await overSocket(
      c,
      '{ threads(first: 5) { lastMessage { thread { lastMessage { thread { lastMessage { thread { lastMessage { thread { id } } } } } } } } } }',
    );
    expect(fine.errors).toBeUndefined();
    const aliases = `{ ${Array.from({ length: 31 }, (_, i) => `a${i}: me { id }`).join(' ')} }`;
    for (const query of [nested(11), aliases]) {
      const ws = await overSocket(c, query);
      const http = await server.gql(query, {}, nurse);
      expect(http.errors).toEqual([expect.objectContaining({ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } })]);
      expect(ws.errors).toEqual([
        expect.objectContaining({
          message: http.errors![0].message,
          extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
        }),
      ]);
    }
    const ws = await overSocket(c, `subscription { appointmentChanged { appointment { ${chain(9, 'patient')} } } }`);
    expect(ws.errors).toEqual([expect.objectContaining({ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } })]);
    expect(ws.errors![0].message).toBe('The operation is nested 11 levels deep; at most 10 are allowed');
  });

  it('should refuse a shallow-enough document whose nested lists would cost too much, exactly as over HTTP', async () => {
    const query = nested(10);
    const ws = await overSocket(client({ token: nurse }), query);
    const http = await server.gql(query, {}, nurse);
    expect(http.errors).toEqual([
      expect.objectContaining({
        extensions: expect.objectContaining({ code: 'GRAPHQL_VALIDATION_FAILED', reason: 'TOO_COMPLEX' }),
      }),
    ]);
    expect(ws.errors).toEqual([
      expect.objectContaining({ message: http.errors![0].message, extensions: http.errors![0].extensions }),
    ]);
  });

  it('should refuse a document longer than 20,000 characters with BAD_REQUEST, as over HTTP', async () => {
    const query = `{ me { id } } # ${'x'.repeat(20_000)}`;
    const ws = await overSocket(client({ token: nurse }), query);
    const http = await server.gql(query, {}, nurse);
    expect(http.status).toBe(413);
    expect(ws.errors).toEqual([
      expect.objectContaining({ message: http.errors![0].message, extensions: { code: 'BAD_REQUEST' } }),
    ]);
  });

  it('should answer a subscription sent over HTTP POST with BAD_REQUEST naming the WebSocket endpoint', async () => {
    const res = await server.gql(NOTIFICATION, {}, nurse);
    expect(res.status).toBe(400);
    expect(res.data).toBeUndefined();
    expect(res.errors).toEqual([expect.objectContaining({ extensions: { code: 'BAD_REQUEST' } })]);
    expect(res.errors![0].message).toContain(`ws://${new URL(server.url).host}/graphql`);
    expect(res.errors![0].message).toContain('graphql-transport-ws');
  });

  it.each([
    ['garbage', () => 'not-a-cursor'],
    ['empty', () => ''],
    ["another clinic's", () => eventCursor(lakeside.tenantId, 1)],
    ['a future', () => eventCursor(sunrise.tenantId, 1_000_000)],
  ])('should answer a %s `after` cursor with BAD_USER_INPUT on both durable subscriptions', async (_case, cursor) => {
    const c = client({ token: nurse });
    const streams = liveStreams(server);
    const listeners = server.app.services.realtime.feed.listenerCount;
    for (const query of [APPOINTMENT_CHANGED, NOTIFICATION]) {
      const res = await overSocket(c, query, { after: cursor() });
      // An error while the stream is set up is a request error: no `data` at all (GraphQL spec, Subscribe).
      expect(res.results).toEqual([
        {
          errors: [
            expect.objectContaining({
              message: 'after is not an event cursor of your clinic',
              extensions: { code: 'BAD_USER_INPUT', field: 'after' },
            }),
          ],
        },
      ]);
    }
    expect(liveStreams(server)).toBe(streams);
    expect(server.app.services.realtime.feed.listenerCount).toBe(listeners);
  });
});

describe('Unexpected errors', () => {
  it('should be masked over WebSocket exactly as over HTTP, with a request id and nothing of SQL', async () => {
    const query = 'query($id: ID!) { patient(id: $id) { id } }';
    const variables = { id: sunrise.patients[0] };
    const c = client({ token: nurse });
    await server.db.raw('alter table patients rename to patients_gone');
    try {
      const http = await server.gql(query, variables, nurse);
      const ws = await overSocket(c, query, variables);
      expect(http.errors).toEqual([
        {
          message: 'Internal server error',
          locations: [{ line: 1, column: 19 }],
          path: ['patient'],
          extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: expect.any(String) },
        },
      ]);
      expect(ws.results).toEqual([
        {
          data: { patient: null },
          errors: [
            { ...http.errors![0], extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: expect.any(String) } },
          ],
        },
      ]);
    } finally {
      await server.db.raw('alter table patients_gone rename to patients');
    }
  });

  it('should be masked in a subscription event too', async () => {
    const c = client({ token: nurse });
    const streams = liveStreams(server);
    const events = collect(c, APPOINTMENT_CHANGED);
    await waitForStreams(server, streams + 1);
    const first = await book();
    const [{ data }] = await events.waitFor(1);
    expect(data!.appointmentChanged.appointment.id).toBe(first);
    // A log row no resolver can serve (the appointment was never written): a server fault, not the client's.
    await server.db.transaction(async (trx) => {
      const [{ lastSeq }] = await trx('eventCounters')
        .where({ tenantId: sunrise.tenantId })
        .increment('lastSeq', 1)
        .returning('lastSeq');
      await trx('events').insert({
        tenantId: sunrise.tenantId,
        seq: lastSeq,
        topic: 'appointment',
        kind: 'EXPLODED',
        entityId: first,
        providerId: sunrise.users.lee,
      });
    });
    const next = await book();
    const [, broken, after] = await events.waitFor(3);
    expect(broken).toEqual({
      data: null,
      errors: [
        expect.objectContaining({
          message: 'Internal server error',
          path: ['appointmentChanged', 'kind'],
          extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: expect.any(String) },
        }),
      ],
    });
    expect(after.data!.appointmentChanged.appointment.id).toBe(next);
  });
});

describe('connection_init wait (WS_INIT_TIMEOUT)', () => {
  let quick: TestServer;
  beforeAll(async () => {
    quick = await startTestServer({ wsInitTimeoutSeconds: 1 });
  });
  afterAll(() => quick?.stop());

  it('should close a socket that sends no connection_init with 4408 once the wait is over, never before, and keep one that did', async () => {
    const token = await quick.login('sunrise-derm', 'nurse');
    const openedAt = Date.now();
    const [silent, greeted] = await Promise.all([openSocket(quick.url), openAcknowledged(quick.url, token)]);
    expect(await silent.closed).toEqual({ code: 4408, reason: 'Connection initialisation timeout' });
    expect(Date.now() - openedAt).toBeGreaterThanOrEqual(1000);
    // The one that greeted in time is past its wait too, and still served.
    expect(greeted.ws.readyState).toBe(greeted.ws.OPEN);
    greeted.send({ type: 'ping' });
    await vi.waitFor(() => expect(greeted.messages.some((m) => m.type === 'pong')).toBe(true), { timeout: 5_000 });
    greeted.ws.close();
  });
});
