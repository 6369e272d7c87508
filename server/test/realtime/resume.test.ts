import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendEvents, eventCursor } from '../../src/events/eventLog.js';
import { commitChange } from '../../src/events/outbox.js';
import type { AppointmentRow } from '../../src/db/rows.js';
import { createNotifications } from '../../src/domains/notifications/data.js';
import {
  APPOINTMENT_CHANGED,
  ASSIGN_TASK,
  CANCEL_APPOINTMENT,
  CHECK_IN_APPOINTMENT,
  CREATE_APPOINTMENT,
  freeSlot,
  NOTIFICATION,
  SEND_ALERT,
  streamsOpened,
  subscribeLive,
  waitForStreams,
} from '../helpers/realtime.js';
import { useTestServer, type ClinicIds } from '../helpers/setup.js';
import type { TestServer } from '../helpers/testServer.js';
import { openAcknowledged } from '../helpers/rawSocket.js';
import { collect, wsClient, type Collected } from '../helpers/ws.js';

const t = useTestServer();
let server: TestServer;
let sunrise: ClinicIds;
let frontDesk: string;
let nurse: string;
const clients: Client[] = [];

beforeAll(async () => {
  ({ server, sunrise } = t);
  [frontDesk, nurse] = await Promise.all([t.token('frontdesk'), t.token('nurse')]);
});
afterAll(() => Promise.all(clients.map((c) => c.dispose())));

function client(token: string): Client {
  const c = wsClient(server.url, { token });
  clients.push(c);
  return c;
}

async function ok<T = Record<string, any>>(
  query: string,
  variables: Record<string, unknown>,
  token: string,
): Promise<T> {
  const res = await server.gql<T>(query, variables, token);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data!;
}

const book = async (providerKey: 'lee' | 'patel' = 'lee') =>
  (
    await ok(
      CREATE_APPOINTMENT,
      { i: { providerId: sunrise.users[providerKey], patientId: sunrise.patients[1], ...freeSlot() } },
      frontDesk,
    )
  ).createAppointment.id as string;
const alert = async (userKey: string, title: string) =>
  ok(SEND_ALERT, { i: { userId: sunrise.users[userKey], kind: 'ALERT', title } }, nurse);

/** `n` bookings (Dr. Lee's and Dr. Patel's in turn) and their events, committed together as the mutation would. */
async function bookHistory(n: number): Promise<void> {
  await server.db.transaction(async (trx) => {
    const rows: AppointmentRow[] = await trx('appointments')
      .insert(
        Array.from({ length: n }, (_, i) => ({
          tenantId: sunrise.tenantId,
          providerId: sunrise.users[i % 2 ? 'lee' : 'patel'],
          patientId: sunrise.patients[1],
          ...freeSlot(),
        })),
      )
      .returning('*');
    await appendEvents(
      trx,
      sunrise.tenantId,
      rows.map((row) => ({ topic: 'appointment', kind: 'CREATED', entityId: row.id, providerId: row.providerId })),
    );
  });
}

/**
 * What the server's own outbox needs to commit a change (`commitChange`), telling none of its listeners: the events
 * are found in the log, as another instance's would be.
 */
const unannounced = () => ({ db: server.db, log: server.app.services.log, services: { onEventsCommitted: [] } });

/** Alerts to these users and their events, committed together (see the backlog test below). */
async function alertHistory(users: string[]): Promise<void> {
  await commitChange(unannounced(), sunrise.tenantId, (trx, record) =>
    createNotifications(
      trx,
      record,
      sunrise.tenantId,
      users.map((user, i) => ({
        userId: sunrise.users[user],
        kind: 'ALERT' as const,
        priority: 'NORMAL' as const,
        title: `history ${i}`,
      })),
    ),
  );
}

/** The cursors of the log's events after `after` that a subscription selects, oldest first: what it must deliver. */
async function expectedCursors(after: string, where: Record<string, string>): Promise<string[]> {
  const afterSeq = (await server.db('events').where({ tenantId: sunrise.tenantId }).select('seq')).find(
    (r) => eventCursor(sunrise.tenantId, Number(r.seq)) === after,
  )!.seq;
  const seqs = await server
    .db('events')
    .where({ tenantId: sunrise.tenantId, ...where })
    .andWhere('seq', '>', afterSeq)
    .orderBy('seq')
    .pluck('seq');
  return seqs.map((seq: string | number) => eventCursor(sunrise.tenantId, Number(seq)));
}

const cursorsOf = (sub: Collected, field: 'appointmentChanged' | 'notification') =>
  sub.results.map((r) => r.data![field].cursor as string);

/** Subscribes, waits until the stream is live, and returns what it collects. */
function subscribe(token: string, query: string, variables: Record<string, unknown> = {}): Promise<Collected> {
  return subscribeLive(server, client(token), query, variables, 30_000);
}

/** Closes the newest client and waits until the server has ended its stream. */
async function disconnectNewest(): Promise<void> {
  const streams = server.app.services.realtime.streams.count;
  await clients.pop()!.dispose();
  await waitForStreams(server, streams - 1);
}

describe('appointmentChanged(after)', () => {
  it('should replay exactly the events missed while disconnected, in order and once, then go on live', async () => {
    const first = await subscribe(nurse, APPOINTMENT_CHANGED);
    const [a, b] = [await book(), await book()];
    await first.waitFor(2);
    expect(first.results.map((r) => r.data!.appointmentChanged.appointment.id)).toEqual([a, b]);
    const lastSeen = first.results[1].data!.appointmentChanged.cursor;
    await disconnectNewest();

    // Three changes while nobody listens.
    const c = await book();
    await ok(CANCEL_APPOINTMENT, { id: c, r: 'Patient called' }, frontDesk);
    await ok(CHECK_IN_APPOINTMENT, { id: a }, frontDesk);

    const resumed = await subscribe(nurse, APPOINTMENT_CHANGED, { after: lastSeen });
    const missed = await resumed.waitFor(3);
    expect(missed.map((r) => [r.data!.appointmentChanged.kind, r.data!.appointmentChanged.appointment.id])).toEqual([
      ['CREATED', c],
      ['CANCELLED', c],
      ['CHECKED_IN', a],
    ]);
    expect(cursorsOf(resumed, 'appointmentChanged')).toEqual(await expectedCursors(lastSeen, { topic: 'appointment' }));

    // Then live; had anything of the replay come twice, it would precede this event.
    const d = await book();
    await resumed.waitFor(4);
    expect(resumed.results).toHaveLength(4);
    expect(resumed.results[3].data!.appointmentChanged).toMatchObject({ kind: 'CREATED', appointment: { id: d } });
  });

  it("should acknowledge a connection with its clinic's newest cursor, after which a subscription misses nothing", async () => {
    const earlier = await book();
    // What a client does on a first start: connect, read what it shows, then subscribe after the acknowledgement's
    // cursor. The booking made between the acknowledgement and the subscription comes; the earlier one does not.
    const socket = await openAcknowledged(server.url, nurse);
    const { cursor } = socket.messages.find((m) => m.type === 'connection_ack')!.payload as { cursor: string };
    socket.ws.close();
    const newest = await server.db('eventCounters').where({ tenantId: sunrise.tenantId }).first('lastSeq');
    expect(cursor).toBe(eventCursor(sunrise.tenantId, Number(newest.lastSeq)));
    const between = await book();

    const resumed = await subscribe(nurse, APPOINTMENT_CHANGED, { after: cursor });
    await resumed.waitFor(1);
    const later = await book();
    await resumed.waitFor(2);
    expect(resumed.results.map((r) => r.data!.appointmentChanged.appointment.id)).toEqual([between, later]);
    expect(resumed.results.map((r) => r.data!.appointmentChanged.appointment.id)).not.toContain(earlier);

    // Another clinic's acknowledgement carries a cursor of its own, which this clinic's subscription refuses.
    const other = await openAcknowledged(server.url, await t.token('frontdesk', 'lakeside-skin'));
    const theirs = (other.messages.find((m) => m.type === 'connection_ack')!.payload as { cursor: string }).cursor;
    other.ws.close();
    const refused = await collect(client(nurse), APPOINTMENT_CHANGED, { after: theirs }).waitFor(1);
    expect(refused[0].errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
  });

  it('should neither lose nor repeat events committed while a long replay runs', async () => {
    const marker = await subscribe(nurse, APPOINTMENT_CHANGED);
    await book();
    const [{ data }] = await marker.waitFor(1);
    const from = data!.appointmentChanged.cursor;
    // More than one replay page (500) of history, written in one transaction with the server's own data access.
    await bookHistory(520);

    const live = streamsOpened(server, 1, 30_000);
    const resumed = collect(client(nurse), APPOINTMENT_CHANGED, { after: from });
    // Commits racing the replay: before it starts, while it pages, at the seam where it goes live.
    for (let i = 0; i < 8; i++) await Promise.all(Array.from({ length: 5 }, (_, j) => book(j % 2 ? 'lee' : 'patel')));
    // A subscription that fails (a refused connection) says why instead of leaving the wait to time out.
    await Promise.race([live, resumed.failed]);
    const expected = await expectedCursors(from, { topic: 'appointment' });
    expect(expected.length).toBeGreaterThan(500);
    await resumed.waitFor(expected.length, 30_000);
    expect(cursorsOf(resumed, 'appointmentChanged')).toEqual(expected);

    const last = await book();
    await resumed.waitFor(expected.length + 1);
    expect(resumed.results).toHaveLength(expected.length + 1);
    expect(resumed.results.at(-1)!.data!.appointmentChanged.appointment.id).toBe(last);
    // Forty racing mutations and a replay of over 500 events: generous on a loaded machine.
  }, 60_000);
});

describe('notification(after)', () => {
  it('should replay exactly the notifications missed while disconnected, in order and once, then go on live', async () => {
    const first = await subscribe(frontDesk, NOTIFICATION);
    await alert('frontdesk', 'Room 2 needs supplies');
    await first.waitFor(1);
    const lastSeen = first.results[0].data!.notification.cursor;
    await disconnectNewest();

    await alert('frontdesk', 'Call the lab back');
    await alert('admin', 'Not for the front desk');
    await ok(ASSIGN_TASK, { i: { title: 'Confirm tomorrow', assigneeId: sunrise.users.frontdesk } }, nurse);
    await alert('frontdesk', 'Printer jammed');

    const resumed = await subscribe(frontDesk, NOTIFICATION, { after: lastSeen });
    const missed = await resumed.waitFor(3);
    expect(
      missed.map((r) => [r.data!.notification.notification.kind, r.data!.notification.notification.title]),
    ).toEqual([
      ['ALERT', 'Call the lab back'],
      ['TASK_ASSIGNED', 'New task: Confirm tomorrow'],
      ['ALERT', 'Printer jammed'],
    ]);
    expect(cursorsOf(resumed, 'notification')).toEqual(
      await expectedCursors(lastSeen, { topic: 'notification', kind: 'CREATED', userId: sunrise.users.frontdesk }),
    );

    await alert('frontdesk', 'Live again');
    await resumed.waitFor(4);
    expect(resumed.results).toHaveLength(4);
    expect(resumed.results[3].data!.notification.notification.title).toBe('Live again');
  });

  it('should neither lose nor repeat notifications committed while a long replay runs', async () => {
    const marker = await subscribe(frontDesk, NOTIFICATION);
    await alert('frontdesk', 'marker');
    const [{ data }] = await marker.waitFor(1);
    const from = data!.notification.cursor;
    await alertHistory(Array.from({ length: 520 }, (_, i) => (i % 3 ? 'frontdesk' : 'admin')));

    const live = streamsOpened(server, 1, 30_000);
    const resumed = collect(client(frontDesk), NOTIFICATION, { after: from });
    for (let i = 0; i < 8; i++)
      await Promise.all(Array.from({ length: 5 }, (_, j) => alert(j % 3 ? 'frontdesk' : 'admin', `racing ${i}/${j}`)));
    // A subscription that fails (a refused connection) says why instead of leaving the wait to time out.
    await Promise.race([live, resumed.failed]);
    const expected = await expectedCursors(from, {
      topic: 'notification',
      kind: 'CREATED',
      userId: sunrise.users.frontdesk,
    });
    await resumed.waitFor(expected.length, 30_000);
    expect(cursorsOf(resumed, 'notification')).toEqual(expected);

    await alert('frontdesk', 'last');
    await resumed.waitFor(expected.length + 1);
    expect(resumed.results).toHaveLength(expected.length + 1);
    expect(resumed.results.at(-1)!.data!.notification.notification.title).toBe('last');
    // As above.
  }, 60_000);

  it('should replay a backlog larger than what a stream may buffer (1,000), at the pace the client takes it', async () => {
    const marker = await subscribe(frontDesk, NOTIFICATION);
    await alert('frontdesk', 'before the absence');
    const [{ data }] = await marker.waitFor(1);
    const from = data!.notification.cursor;
    // A long absence: 2,500 notifications written in one transaction with the server's own data access (the mutation
    // path, one alert per request, would only make the test slow).
    await commitChange(unannounced(), sunrise.tenantId, (trx, record) =>
      createNotifications(
        trx,
        record,
        sunrise.tenantId,
        Array.from({ length: 2500 }, (_, i) => ({
          userId: sunrise.users.frontdesk,
          kind: 'LAB_RESULT' as const,
          priority: 'NORMAL' as const,
          title: `result ${i}`,
        })),
      ),
    );
    const expected = await expectedCursors(from, {
      topic: 'notification',
      kind: 'CREATED',
      userId: sunrise.users.frontdesk,
    });
    expect(expected).toHaveLength(2500);
    const resumed = collect(client(frontDesk), NOTIFICATION, { after: from });
    await Promise.race([resumed.waitFor(2500, 30_000), resumed.failed]);
    expect(cursorsOf(resumed, 'notification')).toEqual(expected);
    await alert('frontdesk', 'back');
    await resumed.waitFor(2501);
    expect(resumed.results.at(-1)!.data!.notification.notification.title).toBe('back');
  });
});
