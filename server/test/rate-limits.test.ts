import { describe, expect, it, vi } from 'vitest';
import type { Viewer } from '../src/auth/tokens.js';
import type { RateLimits } from '../src/config.js';
import { DEMO_CLINICS, demoEmail } from '../src/db/seeds/demo.js';
import { createIntegrationClient, requestToken } from './helpers/integrations.js';
import { APPOINTMENT_CHANGED, metric } from './helpers/realtime.js';
import { useSockets, useTestServer, type ServerFixture } from './helpers/setup.js';
import { openEventStream } from './helpers/sse.js';
import { errorCode, type DemoClinicSlug, type StaffKey } from './helpers/testServer.js';
import { collect } from './helpers/ws.js';

const ME = '{ me { id } }';
const SCHEDULE = '{ schedule { id } }';

/** Rate limits for a test server: every limit far above what a test sends, but those the test sets. */
function limits(these: Partial<RateLimits>): RateLimits {
  return {
    windowSeconds: 60,
    perCaller: 1000,
    perClinic: 1000,
    perAnonymousSource: 1000,
    subscriptionsPerCaller: 1000,
    subscriptionsPerClinic: 1000,
    ...these,
  };
}

/**
 * A new sign-in of a demo user: a caller of its own (limits count a staff session, and every test starts from an
 * empty count). As `login` makes it, without the password hashing.
 */
async function freshSession(t: ServerFixture, key: StaffKey, tenant: DemoClinicSlug = 'sunrise-derm') {
  const clinic = DEMO_CLINICS.find((c) => c.slug === tenant)!;
  const { server } = t;
  const user = await server
    .db('users')
    .where({ email: demoEmail(clinic, key) })
    .first('id', 'tenantId', 'role', 'name');
  const { token, viewer } = await server.app.services.tokens.sign({
    userId: user.id,
    tenantId: user.tenantId,
    role: user.role,
    name: user.name,
  });
  await server.app.services.sessions.started(viewer);
  return { token, viewer: viewer as Viewer };
}

/** Sends `count` queries at once; resolves with each answer's status, code, Retry-After and data. */
async function burst(t: ServerFixture, token: string, count: number, query = ME) {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const res = await t.server.gql(query, {}, token);
      return {
        status: res.status,
        code: errorCode(res),
        reason: res.errors?.[0]?.extensions?.reason,
        retryAfter: res.headers.get('retry-after'),
        data: res.data,
      };
    }),
  );
}

describe('Operations per caller', () => {
  // A short window, so a test can see it end; a high clinic limit, so only the caller's is reached here.
  const t = useTestServer({
    rateLimits: limits({ windowSeconds: 5, perCaller: 6, subscriptionsPerCaller: 3 }),
  });
  const sockets = useSockets(t);

  it('should answer a staff session over its rate with 429, TOO_MANY_REQUESTS and Retry-After, over HTTP', async () => {
    const { token } = await freshSession(t, 'nurse');
    const answers = await burst(t, token, 9);
    const served = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 429);
    expect(served).toHaveLength(6);
    expect(served.every((a) => a.data?.me?.id)).toBe(true);
    expect(refused).toHaveLength(3);
    for (const answer of refused) {
      expect(answer).toMatchObject({ code: 'TOO_MANY_REQUESTS', reason: 'CALLER_RATE' });
      expect(Number(answer.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(Number(answer.retryAfter)).toBeLessThanOrEqual(5);
    }
  });

  it('should serve the caller again once its window has passed', async () => {
    const { token } = await freshSession(t, 'nurse');
    const answers = await burst(t, token, 7);
    const refused = answers.find((a) => a.status === 429)!;
    expect(refused.code).toBe('TOO_MANY_REQUESTS');
    await vi.waitFor(async () => expect((await t.server.gql(ME, {}, token)).status).toBe(200), {
      timeout: (Number(refused.retryAfter) + 2) * 1000,
      interval: 250,
    });
  });

  it('should count each caller on its own: another session of the same clinic is served meanwhile', async () => {
    const noisy = await freshSession(t, 'frontdesk');
    const quiet = await freshSession(t, 'lee');
    await burst(t, noisy.token, 8);
    expect((await t.server.gql(ME, {}, noisy.token)).status).toBe(429);
    const res = await t.server.gql(ME, {}, quiet.token);
    expect(res.status).toBe(200);
    expect(res.data?.me?.id).toBe(quiet.viewer.kind === 'user' && quiet.viewer.userId);
  });

  it('should limit an integration client over all its tokens', async () => {
    const credentials = await createIntegrationClient(t.server, ['appointments:read']);
    const token = async () =>
      (await requestToken(t.server.url, { grant_type: 'client_credentials' }, { basic: credentials })).body
        .access_token as string;
    const [first, second] = await Promise.all([token(), token()]);
    const answers = [...(await burst(t, first, 4, SCHEDULE)), ...(await burst(t, second, 4, SCHEDULE))];
    expect(answers.filter((a) => a.status === 200)).toHaveLength(6);
    expect(answers.filter((a) => a.status === 429).map((a) => a.reason)).toEqual(['CALLER_RATE', 'CALLER_RATE']);
  });

  it('should refuse an operation over the rate on a WebSocket with an error for it, and keep the socket open', async () => {
    const { token } = await freshSession(t, 'patel');
    let closed: { code: number } | undefined;
    const client = sockets.open(token, { onClosed: (e) => (closed = e) });
    const run = () =>
      new Promise<{ data?: unknown; code?: string; retryAfter?: unknown }>((resolve) => {
        client.subscribe(
          { query: ME },
          {
            next: (r) => resolve({ data: r.data }),
            error: (errors) => {
              const first = (errors as Array<{ extensions?: Record<string, unknown> }>)[0];
              resolve({ code: first?.extensions?.code as string, retryAfter: first?.extensions?.retryAfter });
            },
            complete: () => {},
          },
        );
      });
    const answers = [];
    for (let i = 0; i < 8; i++) answers.push(await run());
    expect(answers.filter((a) => a.data)).toHaveLength(6);
    const refused = answers.filter((a) => a.code);
    expect(refused).toHaveLength(2);
    expect(refused[0]).toMatchObject({ code: 'TOO_MANY_REQUESTS' });
    expect(refused[0].retryAfter).toBeGreaterThanOrEqual(1);
    // Still connected: once the window has passed, the same socket is served.
    await vi.waitFor(async () => expect((await run()).data).toBeTruthy(), { timeout: 8000, interval: 250 });
    expect(closed).toBeUndefined();
  });

  it('should count HTTP, WebSocket and SSE operations of one caller together, and answer SSE over the rate with 429 and Retry-After', async () => {
    const { token } = await freshSession(t, 'admin');
    await burst(t, token, 3);
    const over = sockets.open(token);
    const seen = collect(over, ME);
    await seen.waitFor(1);
    const streams = [];
    for (let i = 0; i < 3; i++) streams.push(await openEventStream(t.server.url, token, APPOINTMENT_CHANGED));
    // 3 over HTTP, 1 over WebSocket, 2 streams: the third stream is the seventh operation.
    expect(streams.map((s) => s.status)).toEqual([200, 200, 429]);
    expect(Number(streams[2].headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(streams[2].body.errors[0].extensions).toMatchObject({ code: 'TOO_MANY_REQUESTS', reason: 'CALLER_RATE' });
    for (const s of streams) s.close();
  });
});

describe('Live subscriptions per caller', () => {
  const t = useTestServer({
    rateLimits: limits({ subscriptionsPerCaller: 3 }),
  });
  const sockets = useSockets(t);

  it('should refuse a caller’s subscription beyond its limit across WebSocket and SSE, and take one again when another ends', async () => {
    const { token, viewer } = await freshSession(t, 'nurse');
    const first = sockets.open(token);
    const second = sockets.open(token);
    const a = collect(first, APPOINTMENT_CHANGED);
    const b = collect(second, APPOINTMENT_CHANGED);
    const stream = await openEventStream(t.server.url, token, APPOINTMENT_CHANGED);
    expect(stream.status).toBe(200);
    await vi.waitFor(() => expect(t.server.app.services.limits.liveCount(viewer).caller).toBe(3));

    // A fourth, on either transport, is refused with the code the per-connection limit uses.
    const refused = collect(first, APPOINTMENT_CHANGED);
    await expect(refused.failed).rejects.toEqual([
      expect.objectContaining({
        extensions: { code: 'BAD_REQUEST', reason: 'TOO_MANY_SUBSCRIPTIONS', scope: 'CALLER' },
      }),
    ]);
    const refusedStream = await openEventStream(t.server.url, token, APPOINTMENT_CHANGED);
    expect(refusedStream.status).toBe(429);
    expect(refusedStream.body.errors[0].extensions).toMatchObject({
      reason: 'TOO_MANY_SUBSCRIPTIONS',
      scope: 'CALLER',
    });
    // Queries are not subscriptions: still served.
    expect((await t.server.gql(ME, {}, token)).status).toBe(200);
    // Another caller is not affected.
    const other = await freshSession(t, 'lee');
    const theirs = collect(sockets.open(other.token), APPOINTMENT_CHANGED);

    // The stream ends, and its place is free again; and when a socket closes, so are its subscriptions'.
    stream.close();
    await vi.waitFor(() => expect(t.server.app.services.limits.liveCount(viewer).caller).toBe(2));
    const again = await openEventStream(t.server.url, token, APPOINTMENT_CHANGED);
    expect(again.status).toBe(200);
    await second.dispose();
    await vi.waitFor(() => expect(t.server.app.services.limits.liveCount(viewer).caller).toBe(2));
    b.stop();
    a.stop();
    again.close();
    theirs.stop();
    await vi.waitFor(() => expect(t.server.app.services.limits.liveCount(viewer).caller).toBe(0));
  });
});

describe('Live subscriptions per clinic', () => {
  const t = useTestServer({
    rateLimits: limits({ subscriptionsPerCaller: 2, subscriptionsPerClinic: 3 }),
  });
  const sockets = useSockets(t);

  it('should refuse a clinic’s subscriptions beyond its limit, whoever asks, and not another clinic’s', async () => {
    const nurse = await freshSession(t, 'nurse');
    const desk = await freshSession(t, 'frontdesk');
    const held = [collect(sockets.open(nurse.token), APPOINTMENT_CHANGED)];
    const deskSocket = sockets.open(desk.token);
    held.push(collect(deskSocket, APPOINTMENT_CHANGED));
    const stream = await openEventStream(t.server.url, nurse.token, APPOINTMENT_CHANGED);
    expect(stream.status).toBe(200);
    await vi.waitFor(() => expect(t.server.app.services.limits.liveCount(desk.viewer).clinic).toBe(3));

    const refused = collect(deskSocket, APPOINTMENT_CHANGED);
    await expect(refused.failed).rejects.toEqual([
      expect.objectContaining({
        extensions: { code: 'BAD_REQUEST', reason: 'TOO_MANY_SUBSCRIPTIONS', scope: 'CLINIC' },
      }),
    ]);
    expect(await metric(t.server.url, 'derm_operations_refused_total{reason="CLINIC_SUBSCRIPTIONS"}')).toBe(1);
    const lakeside = await freshSession(t, 'chen', 'lakeside-skin');
    const theirs = collect(sockets.open(lakeside.token), APPOINTMENT_CHANGED);
    await vi.waitFor(() => expect(t.server.app.services.limits.liveCount(lakeside.viewer).clinic).toBe(1));
    theirs.stop();
    stream.close();
  });
});

describe('Operations per clinic: one noisy clinic cannot slow the others', () => {
  const t = useTestServer({
    rateLimits: limits({ perCaller: 8, perClinic: 20 }),
  });
  const sockets = useSockets(t);

  it('should answer a flooding clinic with 429 CLINIC_RATE while every request of the other clinic is served', async () => {
    // Sunrise floods with four sessions, each within its own rate (8): together over the clinic's (20).
    const flooders = await Promise.all(
      (['nurse', 'frontdesk', 'patel', 'admin'] as const).map((key) => freshSession(t, key)),
    );
    const quiet = await Promise.all([
      freshSession(t, 'chen', 'lakeside-skin'),
      freshSession(t, 'okafor', 'lakeside-skin'),
    ]);
    const [flood, others] = await Promise.all([
      Promise.all(flooders.map(({ token }) => burst(t, token, 7, SCHEDULE))).then((a) => a.flat()),
      // Lakeside's ordinary traffic at the same time, over HTTP and WebSocket.
      Promise.all(quiet.map(({ token }) => burst(t, token, 6, SCHEDULE))).then((a) => a.flat()),
    ]);
    expect(flood.filter((a) => a.status === 200)).toHaveLength(20);
    const refused = flood.filter((a) => a.status === 429);
    expect(refused).toHaveLength(8);
    expect(refused.every((a) => a.code === 'TOO_MANY_REQUESTS' && a.reason === 'CLINIC_RATE' && a.retryAfter)).toBe(
      true,
    );
    // Operators see it: refusals by reason in /metrics.
    expect(await metric(t.server.url, 'derm_operations_refused_total{reason="CLINIC_RATE"}')).toBe(8);
    expect(others).toHaveLength(12);
    expect(others.every((a) => a.status === 200 && Array.isArray(a.data?.schedule))).toBe(true);

    // The flooding clinic's WebSocket operations are refused too; the other clinic's socket is served.
    const theirs = collect(sockets.open(flooders[0].token), ME);
    await expect(theirs.failed).rejects.toEqual([
      expect.objectContaining({
        extensions: expect.objectContaining({ code: 'TOO_MANY_REQUESTS', reason: 'CLINIC_RATE' }),
      }),
    ]);
    const ours = collect(sockets.open(quiet[0].token), ME);
    expect((await ours.waitFor(1))[0].data).toEqual({ me: { id: expect.any(String) } });
    // And SSE: refused for the flooding clinic, opened for the other.
    const refusedStream = await openEventStream(t.server.url, flooders[1].token, APPOINTMENT_CHANGED);
    expect(refusedStream.status).toBe(429);
    expect(refusedStream.headers.get('retry-after')).toMatch(/^\d+$/);
    const openStream = await openEventStream(t.server.url, quiet[1].token, APPOINTMENT_CHANGED);
    expect(openStream.status).toBe(200);
    openStream.close();
  });
});

describe('Refused callers and their clinic’s rate', () => {
  // A clinic's rate no higher than one caller's (as configuration allows): a caller that used it up would be refused.
  const t = useTestServer({
    rateLimits: limits({ perCaller: 10, perClinic: 10 }),
  });

  it('should not let the requests of a signed-out session use up its clinic’s rate: a colleague is served after them', async () => {
    const gone = await freshSession(t, 'frontdesk');
    await t.server.app.services.sessions.signOut(gone.viewer);
    const flood = await burst(t, gone.token, 25);
    expect(flood.every((a) => a.status === 401 && a.code === 'UNAUTHENTICATED' && a.reason === 'SIGNED_OUT')).toBe(
      true,
    );
    // Sent after the 25 refused ones, as many as the clinic's rate, by two colleagues: each is served.
    const colleagues = await Promise.all([freshSession(t, 'nurse'), freshSession(t, 'lee')]);
    const served = (await Promise.all(colleagues.map(({ token }) => burst(t, token, 5)))).flat();
    expect(served.map((a) => a.status)).toEqual(Array(10).fill(200));
    // The next is the clinic's eleventh in the window (its sender's sixth).
    expect((await t.server.gql(ME, {}, colleagues[0].token)).errors?.[0]?.extensions).toMatchObject({
      code: 'TOO_MANY_REQUESTS',
      reason: 'CLINIC_RATE',
    });
  });
});

describe('Requests without a token, per source address', () => {
  // Four per 30 s window per address; a trusted proxy in front, so each test gives its own address in
  // X-Forwarded-For (as a load balancer would) and starts from an empty count.
  const t = useTestServer({
    trustProxyHops: 1,
    rateLimits: limits({ windowSeconds: 30, perAnonymousSource: 4 }),
  });
  const LOGIN =
    'mutation { login(tenant: "sunrise-derm", email: "nobody@sunrise.example", password: "wrong") { token } }';
  const from = (address: string) => ({ 'x-forwarded-for': address });

  it('should refuse an address over its rate at the door, on GraphQL, the token endpoint and the event stream, and not signed-in callers nor other addresses', async () => {
    const { server } = t;
    const address = from('203.0.113.7');
    const answered = [];
    for (let i = 0; i < 4; i++) answered.push(await server.gql(LOGIN, {}, undefined, address));
    // Within the rate: each sign-in checked and refused as a wrong password.
    expect(answered.map((a) => [a.status, errorCode(a)])).toEqual(Array(4).fill([200, 'UNAUTHENTICATED']));

    const refused = await server.gql(LOGIN, {}, undefined, address);
    expect(refused.status).toBe(429);
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'TOO_MANY_REQUESTS', reason: 'SOURCE_RATE' });
    expect(refused.errors?.[0]?.message).toMatch(
      /^Too many operations from this address without a token: try again in \d+ s$/,
    );
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(30);

    // The token endpoint answers in OAuth's words; the event stream in GraphQL's.
    const token = await requestToken(server.url, { grant_type: 'client_credentials' }, { headers: address });
    expect(token.status).toBe(429);
    expect(token.body).toMatchObject({ error: 'slow_down' });
    expect(token.headers.get('retry-after')).toMatch(/^\d+$/);
    const stream = await openEventStream(server.url, null, APPOINTMENT_CHANGED, {}, address);
    expect(stream.status).toBe(429);
    expect(stream.body.errors[0].extensions).toMatchObject({ code: 'TOO_MANY_REQUESTS', reason: 'SOURCE_RATE' });
    stream.close();

    // A signed-in caller behind the same address is counted as itself, and another address starts afresh.
    const { token: staff } = await freshSession(t, 'nurse');
    const signedIn = await server.gql(ME, {}, staff, address);
    expect(signedIn.status).toBe(200);
    expect(signedIn.data?.me?.id).toBeTruthy();
    const elsewhere = await server.gql(LOGIN, {}, undefined, from('198.51.100.20'));
    expect([elsewhere.status, errorCode(elsewhere)]).toEqual([200, 'UNAUTHENTICATED']);
    expect(await metric(server.url, 'derm_operations_refused_total{reason="SOURCE_RATE"}')).toBe(3);
  });

  it('should count every spelling of a counted path that is served, as Express routes it: case, trailing slash, a path below', async () => {
    const { server } = t;
    const address = from('203.0.113.9');
    // An account of its own: the other tests' wrong passwords for nobody@ slow that account down.
    const login = LOGIN.replace('nobody@', 'nobody-else@');
    const post = (path: string) =>
      fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...address },
        body: JSON.stringify({ query: login }),
      }).then(async (res) => ({ status: res.status, body: (await res.json()) as any }));
    // Each of these reaches sign-in (a wrong password), and each is counted at the same door.
    const served = [];
    for (const path of ['/GraphQL', '/graphql/', '/graphql/anything?x=1', '/GRAPHQL/']) served.push(await post(path));
    expect(served.map((a) => [a.status, a.body.errors?.[0]?.extensions?.code])).toEqual(
      Array(4).fill([200, 'UNAUTHENTICATED']),
    );
    for (const path of ['/graphql', '/Graphql/', '/graphql/anything']) {
      const refused = await post(path);
      expect([path, refused.status, refused.body.errors?.[0]?.extensions]).toEqual([
        path,
        429,
        { code: 'TOO_MANY_REQUESTS', reason: 'SOURCE_RATE', retryAfter: expect.any(Number) },
      ]);
    }
    const token = await fetch(`${server.url}/OAuth/Token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...address },
      body: 'grant_type=client_credentials',
    });
    expect([token.status, ((await token.json()) as { error: string }).error]).toEqual([429, 'slow_down']);
  });

  it('should count an IPv6 address as its /64, and a garbage token as no token at the door but never as a caller', async () => {
    const { server } = t;
    for (let i = 1; i <= 4; i++) await server.gql(LOGIN, {}, undefined, from(`2001:db8:7:1::${i}`));
    // Another address of the same /64: the same count.
    const refused = await server.gql(LOGIN, {}, undefined, from('2001:db8:7:1:abcd::99'));
    expect([refused.status, errorCode(refused)]).toEqual([429, 'TOO_MANY_REQUESTS']);
    // A bearer token goes on to be verified: a forged one is refused as such, whatever its address's count.
    const forged = await server.gql(ME, {}, 'not-a-token', from('2001:db8:7:1::5'));
    expect([forged.status, errorCode(forged)]).toEqual([401, 'UNAUTHENTICATED']);
  });
});
