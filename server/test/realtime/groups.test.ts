import { describe, expect, it, vi } from 'vitest';
import { useSockets, useTestServer } from '../helpers/setup.js';
import { openAcknowledged } from '../helpers/rawSocket.js';
import { APPOINTMENT_CHANGED, CREATE_APPOINTMENT, freeSlot, NOTIFICATION, SEND_ALERT } from '../helpers/realtime.js';
import { streamsOpened, subscribeLive } from '../helpers/realtime.js';
import { openEventStream } from '../helpers/sse.js';
import { dataOf } from '../helpers/testServer.js';

/**
 * Delivery groups (docs/architecture.md, "Delivery groups"): subscribers that would receive the same bytes share one
 * execution and one serialisation per event. Tried here the way an attacker would try a wrong grouping key: same
 * document, same variables, same role, and still nothing of one caller may reach another.
 */
const t = useTestServer({ slowConsumerBytes: 16 * 1024 });
const sockets = useSockets(t);

const MESSAGE_ADDED = `subscription($threadId: ID) {
  messageAdded(threadId: $threadId) { cursor message { body thread { id unreadCount } } }
}`;
const CREATE_THREAD = 'mutation($i: CreateThreadInput!) { createThread(input: $i) { id lastMessage { id } } }';
const SEND = 'mutation($t: ID!, $b: String!) { sendMessage(threadId: $t, body: $b) { id } }';
const MARK_READ = 'mutation($t: ID!) { markThreadRead(threadId: $t) { id } }';
const TYPING = 'subscription($t: ID!) { typing(threadId: $t) { threadId isTyping user { id } } }';
const SET_TYPING = 'mutation($t: ID!) { setTyping(threadId: $t, isTyping: true) }';
const PRESENCE = 'subscription { presence { status user { id name } } }';
const SET_STATUS = 'mutation($s: PresenceStatus!) { setPresenceStatus(status: $s) { status } }';

/**
 * The thread's messages with each body thirty times over (aliases: the most a document may have): frames of ~150 KB,
 * so that a client that stops reading fills the kernel's buffers (megabytes on loopback) within a few dozen messages.
 */
const MESSAGE_ADDED_BIG = `subscription($threadId: ID) {
  messageAdded(threadId: $threadId) {
    cursor
    message { body ${Array.from({ length: 29 }, (_, i) => `b${i}: body`).join(' ')} }
  }
}`;

/**
 * Messages of 5,000 characters, 20 at a time, until `ended()`: the buffers of a client that stopped reading (the
 * kernel's, then the server's 16 KiB here) fill up. Resolves with how many were sent.
 */
async function floodUntil(threadId: string, token: string, ended: () => boolean): Promise<number> {
  const body = (i: number) => `${String(i).padStart(4, '0')} ${'x'.repeat(4_990)}`;
  let sent = 0;
  while (!ended() && sent < 4_000) {
    await Promise.all(
      Array.from({ length: 20 }, (_, j) => t.server.gql(SEND, { t: threadId, b: body(sent + j) }, token)),
    );
    sent += 20;
  }
  return sent;
}

describe('Delivery groups', () => {
  it('should serve one clinic’s identical subscriptions as one group, and never let another clinic’s identical group hear them', async () => {
    const { server, sunrise, lakeside } = t;
    const { delivery } = server.app.services;
    const groupsBefore = delivery.groupCount;
    const desk = await Promise.all([t.token('frontdesk'), t.token('frontdesk'), t.token('frontdesk')]);
    const otherDesk = await t.token('frontdesk', 'lakeside-skin');
    const ours = [];
    for (const token of desk) ours.push(await subscribeLive(server, sockets.open(token), APPOINTMENT_CHANGED));
    const theirs = await subscribeLive(server, sockets.open(otherDesk), APPOINTMENT_CHANGED);
    expect(delivery.groupCount - groupsBefore, 'one group per clinic').toBe(2);

    const input = { providerId: sunrise.users.lee, patientId: sunrise.patients[1], ...freeSlot() };
    const created = dataOf(await server.gql(CREATE_APPOINTMENT, { i: input }, desk[0])).createAppointment;
    const received = await Promise.all(ours.map(async (s) => (await s.waitFor(1))[0]));
    expect(received.map((r) => r.data!.appointmentChanged.appointment.id)).toEqual([
      created.id,
      created.id,
      created.id,
    ]);
    expect(new Set(received.map((r) => JSON.stringify(r))).size, 'the same bytes for all three').toBe(1);

    // The other clinic's group hears its own clinic's events, and only those.
    const theirInput = { providerId: lakeside.users.chen, patientId: lakeside.patients[0], ...freeSlot() };
    const theirCreated = dataOf(await server.gql(CREATE_APPOINTMENT, { i: theirInput }, otherDesk)).createAppointment;
    const [only] = await theirs.waitFor(1);
    expect(only.data!.appointmentChanged.appointment.id).toBe(theirCreated.id);
    expect(theirs.results).toHaveLength(1);
  });

  it('should put an SSE stream in the same group as a WebSocket subscriber of the same document, with the same bytes', async () => {
    const { server, sunrise } = t;
    const { delivery } = server.app.services;
    const [groups, members] = [delivery.groupCount, delivery.memberCount];
    const nurse = await t.token('nurse');
    const overSocket = await subscribeLive(server, sockets.open(nurse), APPOINTMENT_CHANGED);
    const live = streamsOpened(server);
    const overSse = await openEventStream(server.url, nurse, APPOINTMENT_CHANGED);
    await live;
    try {
      expect(delivery.groupCount - groups, 'one group for both transports').toBe(1);
      expect(delivery.memberCount - members).toBe(2);
      const input = { providerId: sunrise.users.patel, patientId: sunrise.patients[3], ...freeSlot() };
      await server.gql(CREATE_APPOINTMENT, { i: input }, nurse);
      const [[viaSocket], [viaSse]] = await Promise.all([overSocket.waitFor(1), overSse.waitFor(1)]);
      expect(viaSse).toEqual(viaSocket);
    } finally {
      overSse.close();
    }
    await vi.waitFor(() => expect(delivery.memberCount - members, 'the closed stream left its group').toBe(1), 10_000);
  });

  it('should keep two providers’ notification streams their own, though document, variables and role are the same', async () => {
    const { server, sunrise } = t;
    const [lee, patel, admin] = await Promise.all([t.token('lee'), t.token('patel'), t.token('admin')]);
    const leeStream = await subscribeLive(server, sockets.open(lee), NOTIFICATION);
    const patelStream = await subscribeLive(server, sockets.open(patel), NOTIFICATION);

    await server.gql(SEND_ALERT, { i: { userId: sunrise.users.lee, kind: 'ALERT', title: 'For Dr. Lee only' } }, admin);
    await server.gql(
      SEND_ALERT,
      { i: { userId: sunrise.users.patel, kind: 'ALERT', title: 'For Dr. Patel only' } },
      admin,
    );
    const [forLee] = await leeStream.waitFor(1);
    const [forPatel] = await patelStream.waitFor(1);
    expect(forLee.data!.notification.notification.title).toBe('For Dr. Lee only');
    expect(forPatel.data!.notification.notification.title).toBe('For Dr. Patel only');
    // A third alert to Dr. Lee: it is the one after the first, nothing of Dr. Patel's came in between.
    await server.gql(
      SEND_ALERT,
      { i: { userId: sunrise.users.lee, kind: 'ALERT', title: 'Again for Dr. Lee' } },
      admin,
    );
    await leeStream.waitFor(2);
    expect(leeStream.results.map((r) => r.data!.notification.notification.title)).toEqual([
      'For Dr. Lee only',
      'Again for Dr. Lee',
    ]);
    expect(patelStream.results).toHaveLength(1);
  });

  it('should give each participant their own unread count in a shared thread subscription', async () => {
    const { server, sunrise } = t;
    const [lee, patel, nurse] = await Promise.all([t.token('lee'), t.token('patel'), t.token('nurse')]);
    const thread = dataOf(
      await server.gql(
        CREATE_THREAD,
        { i: { subject: 'Grouping', participantIds: [sunrise.users.lee, sunrise.users.patel], body: 'first' } },
        nurse,
      ),
    ).createThread;
    // Dr. Lee has read the first message; Dr. Patel has not.
    await server.gql(MARK_READ, { t: thread.id }, lee);
    const leeStream = await subscribeLive(server, sockets.open(lee), MESSAGE_ADDED, { threadId: thread.id });
    const patelStream = await subscribeLive(server, sockets.open(patel), MESSAGE_ADDED, {
      threadId: thread.id,
    });

    await server.gql(SEND, { t: thread.id, b: 'second' }, nurse);
    const [forLee] = await leeStream.waitFor(1);
    const [forPatel] = await patelStream.waitFor(1);
    expect(forLee.data!.messageAdded.message.body).toBe('second');
    expect(forPatel.data!.messageAdded.message.body).toBe('second');
    // Dr. Lee has the thread open (this subscription), so the new message may already count as read for her; Dr.
    // Patel has two unread. Never each other's figure.
    expect(forPatel.data!.messageAdded.message.thread.unreadCount).toBe(2);
    expect(forLee.data!.messageAdded.message.thread.unreadCount).toBeLessThan(2);
  });

  it('should serve presence signals to a clinic’s staff of one role as one group, with the same bytes', async () => {
    const { server, sunrise } = t;
    const { delivery } = server.app.services;
    const groups = delivery.groupCount;
    const [lee, patel, nurse] = await Promise.all([t.token('lee'), t.token('patel'), t.token('nurse')]);
    const watching = [
      await subscribeLive(server, sockets.open(lee), PRESENCE),
      await subscribeLive(server, sockets.open(patel), PRESENCE),
    ];
    expect(delivery.groupCount - groups, 'two providers, one presence group').toBe(1);
    // A status belongs to a connection: the nurse connects, then is busy.
    await subscribeLive(server, sockets.open(nurse), APPOINTMENT_CHANGED);
    dataOf(await server.gql(SET_STATUS, { s: 'BUSY' }, nurse));
    const busy = (r: { data?: Record<string, any> | null }) =>
      r.data!.presence.user.id === sunrise.users.nurse && r.data!.presence.status === 'BUSY';
    const got = await Promise.all(watching.map((s) => vi.waitUntil(() => s.results.find(busy), 10_000)));
    expect(JSON.stringify(got[0])).toBe(JSON.stringify(got[1]));
  });

  it('should show each participant the others typing and never themselves, though they share a typing document', async () => {
    const { server, sunrise } = t;
    const [lee, patel, nurse] = await Promise.all([t.token('lee'), t.token('patel'), t.token('nurse')]);
    const thread = dataOf(
      await server.gql(
        CREATE_THREAD,
        { i: { subject: 'Typing', participantIds: [sunrise.users.lee, sunrise.users.patel], body: 'hello' } },
        nurse,
      ),
    ).createThread;
    const leeSees = await subscribeLive(server, sockets.open(lee), TYPING, { t: thread.id });
    const patelSees = await subscribeLive(server, sockets.open(patel), TYPING, { t: thread.id });

    await server.gql(SET_TYPING, { t: thread.id }, lee);
    await server.gql(SET_TYPING, { t: thread.id }, patel);
    await server.gql(SET_TYPING, { t: thread.id }, nurse);
    const who = (s: typeof leeSees) => s.results.map((r) => r.data!.typing.user.id);
    await vi.waitFor(() => expect(who(leeSees).sort()).toEqual([sunrise.users.patel, sunrise.users.nurse].sort()));
    await vi.waitFor(() => expect(who(patelSees).sort()).toEqual([sunrise.users.lee, sunrise.users.nurse].sort()));
  });

  it('should end a subscriber that stops reading as SLOW_CONSUMER with its last cursor, and keep its group going', async () => {
    const { server, sunrise } = t;
    const [nurse, lee] = await Promise.all([t.token('nurse'), t.token('lee')]);
    const thread = dataOf(
      await server.gql(CREATE_THREAD, { i: { subject: 'Big', participantIds: [sunrise.users.lee], body: 'x' } }, nurse),
    ).createThread;
    const reader = await subscribeLive(server, sockets.open(lee), MESSAGE_ADDED_BIG, { threadId: thread.id });
    // The same caller, document and variables: the same group. Its socket stops reading once subscribed.
    const stalled = await openAcknowledged(server.url, lee);
    stalled.send({
      type: 'subscribe',
      id: 's',
      payload: { query: MESSAGE_ADDED_BIG, variables: { threadId: thread.id } },
    });
    await vi.waitFor(() => expect(server.app.services.delivery.memberCount).toBeGreaterThanOrEqual(2), 10_000);
    stalled.ws.pause();

    // The reading member gets every message, in order, meanwhile.
    const ended = () => server.app.services.delivery.memberCount < 2;
    const sent = await floodUntil(thread.id, nurse, ended);
    expect(ended(), `the stalled member was ended within ${sent} messages`).toBe(true);
    await server.gql(SEND, { t: thread.id, b: 'after the slow one left' }, nurse);
    await reader.waitFor(sent + 1, 60_000);
    expect(reader.results.at(-1)!.data!.messageAdded.message.body).toBe('after the slow one left');

    stalled.ws.resume();
    const error = await stalled.waitFor((m) => m.type === 'error' && m.id === 's', 30_000);
    expect(error.payload[0].extensions).toMatchObject({ code: 'BAD_REQUEST', reason: 'SLOW_CONSUMER' });
    const nexts = stalled.messages.filter((m) => m.type === 'next');
    const cursor: string = error.payload[0].extensions.cursor;
    expect(cursor, 'the cursor of the last event it was sent').toBe(nexts.at(-1)!.payload.data.messageAdded.cursor);
    // Messages sent 20 at a time commit in any order: the reader's stream is the order of the log.
    const inLog = reader.results.map((r) => r.data!.messageAdded.message.body as string);
    const sentToStalled = nexts.map((m) => m.payload.data.messageAdded.message.body as string);
    expect(sentToStalled, 'what the stalled member got: the start of the log, in order').toEqual(
      inLog.slice(0, sentToStalled.length),
    );

    // Resumed with that cursor, it gets exactly what it missed, in order, once.
    const resumed = await subscribeLive(
      server,
      sockets.open(lee),
      `subscription($t: ID, $after: String) {
      messageAdded(threadId: $t, after: $after) { message { body } }
    }`,
      { t: thread.id, after: cursor },
    );
    const missed = inLog.slice(sentToStalled.length);
    await resumed.waitFor(missed.length, 60_000);
    expect(resumed.results.map((r) => r.data!.messageAdded.message.body)).toEqual(missed);
    expect(missed.at(-1)).toBe('after the slow one left');
  });

  it('should end an SSE stream that stops being read the same way: a last event with SLOW_CONSUMER and its cursor', async () => {
    const { server, sunrise } = t;
    const { delivery } = server.app.services;
    const [nurse, lee] = await Promise.all([t.token('nurse'), t.token('lee')]);
    const thread = dataOf(
      await server.gql(
        CREATE_THREAD,
        { i: { subject: 'Big SSE', participantIds: [sunrise.users.lee], body: 'x' } },
        nurse,
      ),
    ).createThread;
    const live = streamsOpened(server);
    const stalled = await openEventStream(
      server.url,
      lee,
      MESSAGE_ADDED_BIG,
      { threadId: thread.id },
      {},
      { paused: true },
    );
    await live;
    const members = delivery.memberCount;

    const sent = await floodUntil(thread.id, nurse, () => delivery.memberCount < members);
    expect(delivery.memberCount, `the stalled stream was ended within ${sent} messages`).toBe(members - 1);

    stalled.resume();
    await stalled.ended;
    const nexts = stalled.results();
    const last = nexts.at(-1);
    expect(last.errors[0].extensions).toMatchObject({ code: 'BAD_REQUEST', reason: 'SLOW_CONSUMER' });
    expect(last.errors[0].extensions.cursor, 'the cursor of the last event it was sent').toBe(
      nexts.at(-2).data.messageAdded.cursor,
    );
    expect(stalled.events.at(-1)!.event).toBe('complete');
  });
});
