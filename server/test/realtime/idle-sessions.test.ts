import { describe, expect, it, vi } from 'vitest';
import { DEMO_PASSWORD } from '../../src/db/seeds/demo.js';
import { createIntegrationClient, integrationToken, liveSocket } from '../helpers/integrations.js';
import { APPOINTMENT_CHANGED, waitForStreams } from '../helpers/realtime.js';
import { openAcknowledged, openSocket } from '../helpers/rawSocket.js';
import { useSockets, useTestServer } from '../helpers/setup.js';
import { openEventStream } from '../helpers/sse.js';
import type { StaffKey } from '../helpers/testServer.js';
import { signToken } from '../helpers/tokens.js';
import { collect } from '../helpers/ws.js';

const IDLE_SECONDS = 3;
const LOGIN = `mutation($e: String!, $p: String!) {
  login(tenant: "sunrise-derm", email: $e, password: $p) { token idleTimeoutSeconds }
}`;
const ME = '{ me { id } }';

describe('sessions: automatic logoff after SESSION_IDLE_TIMEOUT', () => {
  const fixture = useTestServer({ sessionIdleTimeoutSeconds: IDLE_SECONDS });
  const sockets = useSockets(fixture);

  async function signIn(key: StaffKey): Promise<string> {
    const res = await fixture.server.gql(LOGIN, { e: `${key}@sunrise.example`, p: DEMO_PASSWORD });
    expect(res.data!.login.idleTimeoutSeconds).toBe(IDLE_SECONDS);
    return res.data!.login.token as string;
  }

  /** A graphql-ws socket with a live subscription, and when and how it closed. */
  function socketOf(token: string) {
    let closed: { code: number; reason: string; at: number } | undefined;
    const client = sockets.open(token, {
      onClosed: (e) => (closed ??= { code: e.code, reason: e.reason, at: Date.now() }),
    });
    collect(client, APPOINTMENT_CHANGED);
    return { client, closed: () => closed };
  }

  const me = async (token: string) => {
    const res = await fixture.server.gql(ME, {}, token);
    return { status: res.status, ...res.errors?.[0]?.extensions };
  };

  it('should close an idle session and refuse its token, and not a busy one: pings and renewals are not activity', async () => {
    const signedInAt = Date.now();
    const [idle, renewing, busyOverHttp, busyOverSocket] = await Promise.all([
      signIn('lee'),
      signIn('patel'),
      signIn('nurse'),
      signIn('frontdesk'),
    ]);
    // The idle session: a socket that answers and sends keep-alive pings (as the web app's does every 8 s), and an
    // SSE stream.
    const pinging = await openAcknowledged(fixture.server.url, idle);
    const idleSocket = socketOf(idle);
    const stream = await openEventStream(fixture.server.url, idle, APPOINTMENT_CHANGED);
    // A session whose client only renews its token (a heartbeat), over HTTP.
    const renewingSocket = socketOf(renewing);
    // Busy sessions: a query every second, over HTTP, and over their socket.
    const busySocket = socketOf(busyOverHttp);
    const busyWs = socketOf(busyOverSocket);
    await waitForStreams(fixture.server, 4);

    let renewed = renewing;
    for (let second = 0; second < 6; second++) {
      const tick = Date.now();
      pinging.send({ type: 'ping' });
      const [http, renewal, ws] = await Promise.all([
        fixture.server.gql(ME, {}, busyOverHttp),
        fixture.server.gql('mutation { renewToken { token } }', {}, renewed),
        collect(busyWs.client, ME).waitFor(1),
      ]);
      expect(http.errors).toBeUndefined();
      expect(ws[0].errors).toBeUndefined();
      if (renewal.data) renewed = renewal.data.renewToken.token as string;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, 1000 - (Date.now() - tick))));
    }

    // Idle: closed with 4403 "Session idle" after the timeout, not before; the stream ends saying so.
    expect(idleSocket.closed()).toMatchObject({ code: 4403, reason: 'Session idle' });
    expect(idleSocket.closed()!.at - signedInAt).toBeGreaterThanOrEqual(IDLE_SECONDS * 1000);
    expect(await pinging.closed).toEqual({ code: 4403, reason: 'Session idle' });
    await stream.ended;
    expect(stream.results().at(-1)).toMatchObject({
      errors: [{ extensions: { code: 'UNAUTHENTICATED', reason: 'SESSION_IDLE' } }],
    });
    // Its token is refused with a reason of its own, on every transport: HTTP 401, WebSocket 4403 "Session idle".
    expect(await me(idle)).toEqual({ status: 401, code: 'UNAUTHENTICATED', reason: 'SESSION_IDLE' });
    const again = await openSocket(fixture.server.url);
    again.send({ type: 'connection_init', payload: { authorization: `Bearer ${idle}` } });
    expect(await again.closed).toEqual({ code: 4403, reason: 'Session idle' });
    expect((await openEventStream(fixture.server.url, idle, APPOINTMENT_CHANGED)).status).toBe(401);

    // Renewing the token kept nothing alive: closed, and the renewed token refused too.
    expect(renewingSocket.closed()).toMatchObject({ code: 4403, reason: 'Session idle' });
    expect(await me(renewed)).toEqual({ status: 401, code: 'UNAUTHENTICATED', reason: 'SESSION_IDLE' });

    // Busy: open, and its token good.
    expect(busySocket.closed()).toBeUndefined();
    expect(busyWs.closed()).toBeUndefined();
    expect(await me(busyOverHttp)).toEqual({ status: 200 });
    expect(await me(busyOverSocket)).toEqual({ status: 200 });

    // Signing in again starts a new session at once.
    expect(await me(await signIn('lee'))).toEqual({ status: 200 });
  });

  it('should never close an integration client, nor a token without a session, for idleness', async () => {
    const client = await createIntegrationClient(fixture.server, ['appointments:read']);
    const token = await integrationToken(fixture.server.url, client);
    const integration = await liveSocket(fixture.server, token);
    const { config } = fixture.server;
    // Made by hand with the signing key (the server never issues a staff token without a session): exempt.
    const handMade = await signToken(config.jwtSecret, {
      userId: fixture.sunrise.users.lee,
      tenantId: fixture.sunrise.tenantId,
      role: 'PROVIDER',
      name: 'Dr. Maya Lee',
    });
    const handMadeSocket = socketOf(handMade);
    // The control: a signed-in session left idle beside them, which the idle timer closes.
    const control = socketOf(await signIn('nurse'));
    await waitForStreams(fixture.server, 3);

    await vi.waitUntil(() => control.closed(), { timeout: (IDLE_SECONDS + 10) * 1000, interval: 50 });
    expect(control.closed()).toMatchObject({ code: 4403, reason: 'Session idle' });
    expect(integration.closed()).toBeUndefined();
    expect(handMadeSocket.closed()).toBeUndefined();
    expect(await me(handMade)).toEqual({ status: 200 });
    const res = await fixture.server.gql('{ schedule { id } }', {}, token);
    expect(res.errors).toBeUndefined();
    await integration.socket.dispose();
  });

  it("should say how long a session may idle: login's and renewToken's idleTimeoutSeconds", async () => {
    const token = await signIn('admin');
    const res = await fixture.server.gql('mutation { renewToken { idleTimeoutSeconds } }', {}, token);
    expect(res.data).toEqual({ renewToken: { idleTimeoutSeconds: IDLE_SECONDS } });
    // (Asking `me` would be activity: the session is left alone, then asked once.)
    await new Promise((resolve) => setTimeout(resolve, (IDLE_SECONDS + 1.5) * 1000));
    expect(await me(token)).toEqual({ status: 401, code: 'UNAUTHENTICATED', reason: 'SESSION_IDLE' });
  });
});
