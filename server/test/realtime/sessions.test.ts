import { describe, expect, it, vi } from 'vitest';
import { DEMO_PASSWORD } from '../../src/db/seeds/demo.js';
import { createIntegrationClient, integrationToken, liveSocket } from '../helpers/integrations.js';
import { APPOINTMENT_CHANGED, CREATE_APPOINTMENT, freeSlot, waitForStreams } from '../helpers/realtime.js';
import { useSockets, useTestServer } from '../helpers/setup.js';
import { openEventStream } from '../helpers/sse.js';
import { errorCode, type StaffKey } from '../helpers/testServer.js';
import { signToken } from '../helpers/tokens.js';
import { collect } from '../helpers/ws.js';

const LOGIN = `mutation($e: String!, $p: String!) {
  login(tenant: "sunrise-derm", email: $e, password: $p) { token expiresAt }
}`;
const RENEW_TOKEN = 'mutation { renewToken { token expiresAt user { id name } } }';
const RENEW_CONNECTION = 'mutation($t: String!) { renewConnection(token: $t) { expiresAt } }';
const ME = '{ me { id } }';

describe('sessions: sign-out, renewal', () => {
  const fixture = useTestServer();
  const sockets = useSockets(fixture);

  /** A real sign-in (a session of its own), unlike the fixture's cached tokens. */
  async function signIn(key: StaffKey): Promise<string> {
    const res = await fixture.server.gql(LOGIN, { e: `${key}@sunrise.example`, p: DEMO_PASSWORD });
    return res.data!.login.token as string;
  }

  async function meStatus(token: string): Promise<{ status: number; code?: string }> {
    const res = await fixture.server.gql(ME, {}, token);
    return { status: res.status, code: errorCode(res) };
  }

  /** A socket that subscribes, and what it was closed with. */
  function socketOf(token: string) {
    let closed: { code: number; reason: string; at: number } | undefined;
    const client = sockets.open(token, {
      onClosed: (e) => (closed ??= { code: e.code, reason: e.reason, at: Date.now() }),
    });
    const sub = collect(client, APPOINTMENT_CHANGED);
    return {
      client,
      sub,
      closed: () => closed,
      whenClosed: (timeout = 5000) => vi.waitUntil(() => closed, { timeout, interval: 20 }),
    };
  }

  async function book(token: string): Promise<string> {
    const res = await fixture.server.gql(
      CREATE_APPOINTMENT,
      { i: { providerId: fixture.sunrise.users.lee, patientId: fixture.sunrise.patients[2], ...freeSlot() } },
      token,
    );
    expect(res.errors).toBeUndefined();
    return res.data!.createAppointment.id as string;
  }

  it("should refuse a signed-out session's token on every transport at once, and close its socket and stream", async () => {
    const token = await signIn('lee');
    const other = await signIn('lee');
    const socket = socketOf(token);
    const otherSocket = socketOf(other);
    const stream = await openEventStream(fixture.server.url, token, APPOINTMENT_CHANGED);
    await waitForStreams(fixture.server, 3);
    // Both sockets are live: an event reaches them.
    await book(await fixture.token('frontdesk'));
    await Promise.all([socket.sub.waitFor(1), otherSocket.sub.waitFor(1), stream.waitFor(1)]);

    const res = await fixture.server.gql('mutation { signOut }', {}, token);
    const signedOutAt = Date.now();
    expect(res.data).toEqual({ signOut: true });

    expect(await socket.whenClosed()).toMatchObject({ code: 4403, reason: 'Signed out' });
    expect(socket.closed()!.at - signedOutAt).toBeLessThan(2000);
    await stream.ended;
    expect(stream.results().at(-1)).toMatchObject({
      errors: [{ extensions: { code: 'UNAUTHENTICATED', reason: 'SIGNED_OUT' } }],
    });
    // HTTP: 401, as for any token that is no longer good; WebSocket: refused at connection_init; SSE: 401.
    expect(await meStatus(token)).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    const again = socketOf(token);
    expect(await again.whenClosed()).toMatchObject({ code: 4403 });
    expect((await openEventStream(fixture.server.url, token, APPOINTMENT_CHANGED)).status).toBe(401);

    // The same user's other session (another device) is untouched, and signing in again works.
    expect(otherSocket.closed()).toBeUndefined();
    expect(await meStatus(other)).toEqual({ status: 200, code: undefined });
    expect(await meStatus(await signIn('lee'))).toEqual({ status: 200, code: undefined });
  });

  it('should renew a token within its session: signing out with the new token refuses the old one too', async () => {
    const token = await signIn('patel');
    const renewed = await fixture.server.gql(RENEW_TOKEN, {}, token);
    expect(renewed.errors).toBeUndefined();
    const { token: next, expiresAt, user } = renewed.data!.renewToken;
    expect(next).not.toBe(token);
    expect(user).toEqual({ id: fixture.sunrise.users.patel, name: 'Dr. Arjun Patel' });
    expect(Date.parse(expiresAt)).toBeGreaterThan(Date.now());
    expect(await meStatus(next)).toEqual({ status: 200, code: undefined });

    await fixture.server.gql('mutation { signOut }', {}, next);
    expect(await meStatus(token)).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    expect(await meStatus(next)).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    expect(errorCode(await fixture.server.gql(RENEW_TOKEN, {}, next))).toBe('UNAUTHENTICATED');
  });

  it("should sign out every session of a user everywhere, and nobody else's", async () => {
    const [first, second, colleague] = await Promise.all([signIn('nurse'), signIn('nurse'), signIn('frontdesk')]);
    const a = socketOf(first);
    const b = socketOf(second);
    const c = socketOf(colleague);
    await waitForStreams(fixture.server, 3);
    await book(colleague);
    await Promise.all([a.sub.waitFor(1), b.sub.waitFor(1), c.sub.waitFor(1)]);

    expect((await fixture.server.gql('mutation { signOutEverywhere }', {}, first)).data).toEqual({
      signOutEverywhere: true,
    });
    expect(await a.whenClosed()).toMatchObject({ code: 4403, reason: 'Signed out' });
    expect(await b.whenClosed()).toMatchObject({ code: 4403, reason: 'Signed out' });
    expect(await meStatus(second)).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    // A colleague is not signed out; the user can sign in again at once.
    expect(c.closed()).toBeUndefined();
    expect(await meStatus(colleague)).toEqual({ status: 200, code: undefined });
    expect(await meStatus(await signIn('nurse'))).toEqual({ status: 200, code: undefined });
  });

  it("should let an admin end another user's sessions, and nobody else, in no other clinic", async () => {
    const victim = await signIn('patel');
    const socket = socketOf(victim);
    await waitForStreams(fixture.server, 1);
    await book(await fixture.token('frontdesk'));
    await socket.sub.waitFor(1);
    const end = (userId: string, token: string) =>
      fixture.server.gql('mutation($u: ID!) { endUserSessions(userId: $u) }', { u: userId }, token);

    // Not an admin; another clinic's user; not a user id at all: refused, and nothing ends.
    expect(errorCode(await end(fixture.sunrise.users.patel, await fixture.token('lee')))).toBe('FORBIDDEN');
    expect(errorCode(await end(fixture.lakeside.users.chen, await fixture.token('admin')))).toBe('NOT_FOUND');
    expect(errorCode(await end('not-an-id', await fixture.token('admin')))).toBe('NOT_FOUND');
    expect(await meStatus(victim)).toEqual({ status: 200, code: undefined });
    expect(socket.closed()).toBeUndefined();

    expect((await end(fixture.sunrise.users.patel, await fixture.token('admin'))).data).toEqual({
      endUserSessions: true,
    });
    expect(await socket.whenClosed()).toMatchObject({ code: 4403, reason: 'Signed out' });
    expect(await meStatus(victim)).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    // Another clinic's user of the same role keeps working.
    expect(await meStatus(await fixture.token('chen', 'lakeside-skin'))).toEqual({ status: 200, code: undefined });
  });

  it('should run a socket on a renewed token: every event once and in order across it, open past the old expiry', async () => {
    const { config } = fixture.server;
    const claims = { userId: fixture.sunrise.users.lee, tenantId: fixture.sunrise.tenantId, role: 'PROVIDER' as const };
    // A token that expires in 3 s; without renewal the socket closes then (websocket-security.test.ts).
    const short = await signToken(config.jwtSecret, { ...claims, name: 'Dr. Maya Lee' }, 3);
    const expiresAt = Date.now() + 3000;
    const socket = socketOf(short);
    const frontDesk = await fixture.token('frontdesk');
    const ids: string[] = [];
    await waitForStreams(fixture.server, 1);
    ids.push(await book(frontDesk));
    await socket.sub.waitFor(1);
    ids.push(await book(frontDesk), await book(frontDesk));

    const renewal = collect(socket.client, RENEW_CONNECTION, { t: await fixture.token('lee') });
    const [renewed] = await renewal.waitFor(1);
    expect(renewed.errors).toBeUndefined();
    expect(Date.parse((renewed.data as any).renewConnection.expiresAt)).toBeGreaterThan(Date.now() + 60_000);

    // Events during and after the renewal, and past the old token's expiry.
    for (let i = 0; i < 3; i++) ids.push(await book(frontDesk));
    await vi.waitUntil(() => Date.now() > expiresAt + 1500, { timeout: 10_000, interval: 100 });
    ids.push(await book(frontDesk));
    const results = await socket.sub.waitFor(ids.length);
    expect(results.map((r) => r.data!.appointmentChanged.appointment.id)).toEqual(ids);
    expect(socket.closed()).toBeUndefined();
    // And nothing more than those (no repeat).
    expect(socket.sub.results).toHaveLength(ids.length);
  });

  it("should refuse to renew a socket with anyone else's token or a bad one, and change nothing", async () => {
    const { config } = fixture.server;
    const claims = { userId: fixture.sunrise.users.lee, tenantId: fixture.sunrise.tenantId, role: 'PROVIDER' as const };
    const short = await signToken(config.jwtSecret, { ...claims, name: 'Dr. Maya Lee' }, 3);
    const socket = socketOf(short);
    const renew = async (token: string) => (await collect(socket.client, RENEW_CONNECTION, { t: token }).waitFor(1))[0];

    // Another user of the clinic, a user of another clinic, the same user with another role, an integration client.
    const client = await createIntegrationClient(fixture.server, ['appointments:read']);
    const refusals = [
      await fixture.token('patel'),
      await fixture.token('chen', 'lakeside-skin'),
      await signToken(config.jwtSecret, { ...claims, role: 'ADMIN', name: 'Dr. Maya Lee' }),
      await integrationToken(fixture.server.url, client),
    ];
    for (const token of refusals) {
      expect((await renew(token)).errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
    }
    // Not a token, an expired one, one signed with another key: bad input (the socket's own token is still good).
    const expired = await signToken(config.jwtSecret, { ...claims, name: 'Dr. Maya Lee' }, 1, Date.now() / 1000 - 60);
    for (const token of [
      'nonsense',
      expired,
      await signToken('another-secret-of-32-characters!!', { ...claims, name: 'x' }),
    ]) {
      expect((await renew(token)).errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'token' });
    }
    // Nothing changed: the socket still closes when its own token expires.
    expect(await socket.whenClosed(8000)).toMatchObject({ code: 4403, reason: 'Token expired' });

    // Over HTTP there is no connection to renew.
    const http = await fixture.server.gql(
      RENEW_CONNECTION,
      { t: await fixture.token('lee') },
      await fixture.token('lee'),
    );
    expect(http.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('should run an SSE stream on a renewed token: events once and in order, open past the old expiry', async () => {
    const { config, url } = fixture.server;
    const claims = { userId: fixture.sunrise.users.lee, tenantId: fixture.sunrise.tenantId, role: 'PROVIDER' as const };
    const short = await signToken(config.jwtSecret, { ...claims, name: 'Dr. Maya Lee' }, 3);
    const expiresAt = Date.now() + 3000;
    const stream = await openEventStream(url, short, APPOINTMENT_CHANGED);
    const streamId = stream.headers.get('x-request-id')!;
    await waitForStreams(fixture.server, 1);
    const frontDesk = await fixture.token('frontdesk');
    const ids = [await book(frontDesk)];
    await stream.waitFor(1);

    const renewStream = (token: string, id = streamId) =>
      fixture.server.gql('mutation($s: ID!) { renewStream(streamId: $s) { expiresAt } }', { s: id }, token);
    // Someone else's token for this stream: refused, and the stream is left as it was.
    expect(errorCode(await renewStream(await fixture.token('patel')))).toBe('FORBIDDEN');
    const renewed = await renewStream(await fixture.token('lee'));
    expect(renewed.errors).toBeUndefined();
    expect(Date.parse(renewed.data!.renewStream.expiresAt)).toBeGreaterThan(Date.now() + 60_000);

    ids.push(await book(frontDesk));
    await vi.waitUntil(() => Date.now() > expiresAt + 1500, { timeout: 10_000, interval: 100 });
    ids.push(await book(frontDesk));
    const results = await stream.waitFor(ids.length);
    expect(results.map((r) => r.data.appointmentChanged.appointment.id)).toEqual(ids);
    expect(stream.results()).toHaveLength(ids.length);
    stream.close();
  });

  it("should renew an integration client's socket with its next token from the token endpoint", async () => {
    const client = await createIntegrationClient(fixture.server, ['appointments:read', 'patients:read']);
    const socket = await liveSocket(fixture.server, await integrationToken(fixture.server.url, client));
    const renew = async (token: string) => (await collect(socket.socket, RENEW_CONNECTION, { t: token }).waitFor(1))[0];
    // A token of the same client with other scopes would change what the socket's subscriptions may see: refused.
    const narrower = await renew(await integrationToken(fixture.server.url, client, 'appointments:read'));
    expect(narrower.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
    const renewed = await renew(await integrationToken(fixture.server.url, client));
    expect(renewed.errors).toBeUndefined();
    await waitForStreams(fixture.server, 1);
    await book(await fixture.token('frontdesk'));
    await socket.sub.waitFor(1);
    await socket.socket.dispose();
  });
});
