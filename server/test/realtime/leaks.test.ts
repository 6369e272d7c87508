import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { SocketInfo } from '../../src/realtime/service.js';
import { openAcknowledged, openSocket, type RawSocket } from '../helpers/rawSocket.js';
import {
  APPOINTMENT_CHANGED,
  CREATE_APPOINTMENT,
  freeSlot,
  metric,
  NOTIFICATION,
  SEND_ALERT,
  subscribeLive,
  waitForStreams,
} from '../helpers/realtime.js';
import { useTestServer, type ClinicIds } from '../helpers/setup.js';
import type { TestServer } from '../helpers/testServer.js';
import { collect, wsClient } from '../helpers/ws.js';

const t = useTestServer();
let server: TestServer;
let sunrise: ClinicIds;
let tokens: string[];

beforeAll(async () => {
  ({ server, sunrise } = t);
  tokens = await Promise.all((['nurse', 'frontdesk', 'lee', 'admin'] as const).map((k) => t.token(k)));
});

const CLIENTS = 24;

/** Nothing of a client is left: no stream, no listener on an event-log tail, no socket; and /metrics says so. */
async function expectNothingLeft(): Promise<void> {
  const { realtime } = server.app.services;
  await waitForStreams(server, 0);
  await vi.waitFor(() => expect(realtime.feed.listenerCount, 'listeners on event-log tails').toBe(0), 10_000);
  expect(server.app.services.delivery.groupCount, 'delivery groups').toBe(0);
  expect(server.app.services.delivery.memberCount, 'members of delivery groups').toBe(0);
  await vi.waitFor(
    async () => expect(await metric(server.url, 'derm_websocket_connections'), 'open sockets').toBe(0),
    10_000,
  );
  expect(await metric(server.url, 'derm_subscription_streams')).toBe(0);
  expect(await metric(server.url, 'derm_event_feed_listeners')).toBe(0);
  expect(await metric(server.url, 'derm_delivery_groups')).toBe(0);
  expect(await metric(server.url, 'derm_delivery_group_members')).toBe(0);
}

/** A raw socket with two durable subscriptions going. */
async function subscribedSocket(i: number, variables: Record<string, unknown> = {}): Promise<RawSocket> {
  const socket = await openAcknowledged(server.url, tokens[i % tokens.length]);
  socket.send({ type: 'subscribe', id: 'a', payload: { query: APPOINTMENT_CHANGED, variables } });
  socket.send({ type: 'subscribe', id: 'n', payload: { query: NOTIFICATION, variables } });
  return socket;
}

async function aCursor(): Promise<string> {
  const client = wsClient(server.url, { token: tokens[0] });
  const sub = await subscribeLive(server, client, APPOINTMENT_CHANGED);
  await server.gql(
    CREATE_APPOINTMENT,
    { i: { providerId: sunrise.users.lee, patientId: sunrise.patients[2], ...freeSlot() } },
    tokens[1],
  );
  const [{ data }] = await sub.waitFor(1);
  await client.dispose();
  await expectNothingLeft();
  return data!.appointmentChanged.cursor;
}

describe('Leaks', () => {
  it('should release every stream, listener and socket of clients that vanish without a close handshake', async () => {
    const sockets = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => subscribedSocket(i)));
    await waitForStreams(server, CLIENTS * 2);
    // 48 subscribers, four callers' roles (nurse, front desk, provider, admin) times two documents: eight delivery
    // groups, each one listener on the clinic's event-log tail.
    const { delivery, realtime } = server.app.services;
    expect(delivery.memberCount).toBe(CLIENTS * 2);
    expect(delivery.groupCount).toBe(8);
    expect(realtime.feed.listenerCount).toBe(8);
    expect(await metric(server.url, 'derm_delivery_groups')).toBe(8);
    expect(await metric(server.url, 'derm_delivery_group_members')).toBe(CLIENTS * 2);
    expect(await metric(server.url, 'derm_websocket_connections')).toBe(CLIENTS);
    expect(await metric(server.url, 'derm_subscription_streams')).toBe(CLIENTS * 2);

    for (const socket of sockets) socket.ws.terminate();
    await expectNothingLeft();
  });

  it('should release everything of clients that leave gracefully', async () => {
    const clients = Array.from({ length: CLIENTS }, (_, i) =>
      wsClient(server.url, { token: tokens[i % tokens.length] }),
    );
    const subscriptions = clients.map((c) => [collect(c, APPOINTMENT_CHANGED), collect(c, NOTIFICATION)]);
    await waitForStreams(server, CLIENTS * 2);
    // An event on its way while they leave; half complete their operations first, then all close their sockets.
    await server.gql(
      SEND_ALERT,
      { i: { userId: sunrise.users.nurse, kind: 'ALERT', title: 'Before leaving' } },
      tokens[0],
    );
    for (const [i, pair] of subscriptions.entries()) if (i % 2) for (const sub of pair) sub.stop();
    await Promise.all(clients.map((c) => c.dispose()));
    await expectNothingLeft();
  });

  it('should release clients that vanish while their replay runs, or before their subscription is even set up', async () => {
    const from = await aCursor();
    // A log to replay: every vanishing client resumes from before it.
    for (let i = 0; i < 10; i++) {
      await Promise.all(
        Array.from({ length: 10 }, (_, j) =>
          server.gql(
            SEND_ALERT,
            { i: { userId: sunrise.users[j % 2 ? 'nurse' : 'frontdesk'], kind: 'ALERT', title: `backlog ${i}/${j}` } },
            tokens[0],
          ),
        ),
      );
    }
    const sockets = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => subscribedSocket(i, { after: from })));
    // The nurse's and the front desk's sockets (tokens 0 and 1) while their first missed alerts are arriving, the
    // others maybe before anything came back.
    await Promise.all(
      sockets
        .filter((_, i) => i % tokens.length < 2 && i < CLIENTS / 2)
        .map((s) => s.waitFor((m) => m.type === 'next')),
    );
    for (const socket of sockets) socket.ws.terminate();
    await expectNothingLeft();
  });

  it('should run the close hooks of a socket that vanished while its open hooks ran, after them', async () => {
    const { realtime } = server.app.services;
    const open = new Set<string>();
    let opened = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let hookStarted!: () => void;
    const started = new Promise<void>((resolve) => (hookStarted = resolve));
    // What presence does, slowed down: a socket is "online" once its open hook has written that down.
    const onOpen = async (s: SocketInfo) => {
      hookStarted();
      await gate;
      open.add(s.id);
      opened++;
    };
    const onClose = (s: SocketInfo) => {
      open.delete(s.id);
    };
    realtime.onSocketOpen.push(onOpen);
    realtime.onSocketClose.push(onClose);
    try {
      const socket = await openSocket(server.url);
      socket.send({ type: 'connection_init', payload: { authorization: `Bearer ${tokens[0]}` } });
      await started;
      socket.ws.terminate();
      // The server sees the socket gone while its open hook still runs.
      await vi.waitFor(async () => expect(await metric(server.url, 'derm_websocket_connections')).toBe(0), 10_000);
      release();
      await vi.waitFor(() => expect(opened, 'open hooks finished').toBe(1), 10_000);
      await vi.waitFor(() => expect(open.size, 'sockets left open by the close hook').toBe(0), 10_000);
      expect(socket.messages).toEqual([]);
    } finally {
      realtime.onSocketOpen.splice(realtime.onSocketOpen.indexOf(onOpen), 1);
      realtime.onSocketClose.splice(realtime.onSocketClose.indexOf(onClose), 1);
    }
    await expectNothingLeft();
  });
});
