import { randomUUID } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { tenantChannel, type PresenceSignal } from '../../src/events/channels.js';
import { openAcknowledged, openSocket } from '../helpers/rawSocket.js';
import { liveStreams, subscribeLive } from '../helpers/realtime.js';
import { useSockets, useTestServer } from '../helpers/setup.js';
import { openEventStream } from '../helpers/sse.js';
import { signToken, type TokenClaims } from '../helpers/tokens.js';

/**
 * A correctly signed staff token whose user is not a user of its clinic — an account deleted, or moved to another
 * clinic, while its token has not expired — is refused at the door on every transport, and nobody is told it is online.
 */
const t = useTestServer();
const sockets = useSockets(t);

const PRESENCE = 'subscription { presence { status user { id name } } }';

/** Tokens for the three ways a signed token can name someone who is not a user of its clinic. */
async function strangers(): Promise<Array<[string, string]>> {
  const { server, sunrise, lakeside } = t;
  const sign = (claims: Partial<TokenClaims>) =>
    signToken(server.config.jwtSecret, {
      userId: randomUUID(),
      tenantId: sunrise.tenantId,
      role: 'FRONT_DESK',
      name: 'Ghost',
      ...claims,
    });
  return [
    ['a user id that exists nowhere', await sign({})],
    ['a user of another clinic (an account moved away)', await sign({ userId: lakeside.users.frontdesk })],
    ['a subject that is not an id at all', await sign({ userId: 'not-a-user' })],
  ];
}

describe('A signed token whose user is not in its clinic', () => {
  it('should be refused over HTTP with 401 UNAUTHENTICATED', async () => {
    for (const [what, token] of await strangers()) {
      const res = await t.server.gql('{ me { id } }', {}, token);
      expect(res.status, what).toBe(401);
      expect(res.errors?.[0]?.extensions?.code, what).toBe('UNAUTHENTICATED');
    }
  });

  it('should be refused at WebSocket connection_init with 4403, and never be announced online', async () => {
    const { server } = t;
    const watcher = await subscribeLive(server, sockets.open(await t.token('nurse')), PRESENCE);
    for (const [what, token] of await strangers()) {
      const socket = await openSocket(server.url);
      socket.send({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } });
      expect(await socket.closed, what).toEqual({ code: 4403, reason: 'Forbidden' });
      expect(socket.messages, what).toEqual([]);
    }
    // A real sign-in afterwards is announced, and is the only thing the watcher ever heard.
    const jordan = t.sunrise.users.frontdesk;
    sockets.open(await t.token('frontdesk'));
    await vi.waitFor(() => expect(watcher.results.map((r) => r.data?.presence.user.id)).toContain(jordan), 10_000);
    expect(watcher.results.map((r) => r.errors ?? r.data!.presence.user.id)).toEqual([jordan]);
  });

  it('should be refused by GraphQL over SSE with 401', async () => {
    for (const [what, token] of await strangers()) {
      const stream = await openEventStream(t.server.url, token, 'subscription { appointmentChanged { cursor } }');
      expect(stream.status, what).toBe(401);
      expect(stream.body.errors[0].extensions.code, what).toBe('UNAUTHENTICATED');
    }
    expect(liveStreams(t.server)).toBe(0);
  });

  it("should stop working once its user is deleted, on a live socket's next connection too", async () => {
    const { server } = t;
    const admin = await t.token('admin');
    const created = await server.gql(
      'mutation($i: CreateUserInput!) { createUser(input: $i) { id } }',
      {
        i: {
          email: `temp-${randomUUID()}@sunrise.example`,
          name: 'Temp Staff',
          role: 'NURSE',
          password: 'a-long-temp-password',
        },
      },
      admin,
    );
    expect(created.errors).toBeUndefined();
    const userId = created.data!.createUser.id as string;
    const token = await signToken(server.config.jwtSecret, {
      userId,
      tenantId: t.sunrise.tenantId,
      role: 'NURSE',
      name: 'Temp Staff',
    });
    expect((await server.gql('{ me { id } }', {}, token)).data).toEqual({ me: { id: userId } });
    await server.db('users').where({ id: userId }).delete();
    expect((await server.gql('{ me { id } }', {}, token)).status).toBe(401);
    const socket = await openSocket(server.url);
    socket.send({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } });
    expect((await socket.closed).code).toBe(4403);
  });
});

describe('presence about someone who is not a user of the clinic', () => {
  it("should be left out, without failing anyone's stream", async () => {
    const { server, sunrise } = t;
    const watcher = await subscribeLive(server, sockets.open(await t.token('nurse')), PRESENCE);
    // A stale signal (a user deleted while online, an instance of an older release) reaches the clinic's channel.
    const stale: PresenceSignal = { userId: randomUUID(), status: 'ONLINE', lastSeenAt: new Date().toISOString() };
    await server.app.services.realtime.hub.publish(tenantChannel(sunrise, 'presence'), stale);
    // Then a real one: it arrives, with nothing before it, and the stream lives on.
    const live = await openAcknowledged(server.url, await t.token('patel'));
    await vi.waitFor(() => expect(watcher.results).toHaveLength(1), 10_000);
    expect(watcher.results[0]).toEqual({
      data: { presence: { status: 'ONLINE', user: { id: sunrise.users.patel, name: 'Dr. Arjun Patel' } } },
    });
    live.ws.close();
    await vi.waitFor(() => expect(watcher.results).toHaveLength(2), 10_000);
    expect(watcher.results[1].data!.presence.status).toBe('OFFLINE');
  });
});
