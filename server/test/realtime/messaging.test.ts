import { randomUUID } from 'node:crypto';
import type { Client } from 'graphql-ws';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { EphemeralKey } from '../../src/realtime/keys.js';
import { openAcknowledged } from '../helpers/rawSocket.js';
import { liveStreams, waitForStreams } from '../helpers/realtime.js';
import { useTestServer, type ClinicIds } from '../helpers/setup.js';
import type { GraphQLResponse, TestServer } from '../helpers/testServer.js';
import { collect, wsClient, type Collected } from '../helpers/ws.js';

/** Typing signals lapse after 2 s here (6 s by default): the lapse is waited for, not slept through. */
const TYPING_TTL_SECONDS = 2;
const t = useTestServer({ typingTtlSeconds: TYPING_TTL_SECONDS });
let server: TestServer;
let sunrise: ClinicIds;
type User = 'admin' | 'lee' | 'patel' | 'nurse' | 'frontdesk' | 'chen';
const token = {} as Record<User, string>;
/** The demo thread of Lakeside (Dr. Chen, its nurse and its front desk). */
let lakesideThreadId: string;

beforeAll(async () => {
  ({ server, sunrise } = t);
  for (const key of ['admin', 'lee', 'patel', 'nurse', 'frontdesk'] as const) token[key] = await t.token(key);
  token.chen = await t.token('chen', 'lakeside-skin');
  lakesideThreadId = (await server.db('threads').where({ tenantId: t.lakeside.tenantId }).first('id')).id;
});

/** The WebSocket clients of the running test, one per user, closed after it. */
const clients = new Map<User, Client>();
afterEach(async () => {
  await Promise.all([...clients.values()].map((c) => c.dispose()));
  clients.clear();
  // Every stream ends with its client: nothing leaks into the next test.
  await waitForStreams(server, 0);
});

function subscribe<T = Record<string, any>>(
  user: User,
  query: string,
  variables: Record<string, unknown> = {},
): Collected<T> {
  let client = clients.get(user);
  if (!client) clients.set(user, (client = wsClient(server.url, { token: token[user] })));
  return collect<T>(client, query, variables);
}

/** A subscription is live (it hears every event committed from now on) once the server counts its stream. */
async function streamsLive(n: number): Promise<void> {
  await waitForStreams(server, (live) => live >= n);
}

function dataOf<T = Record<string, any>>(res: GraphQLResponse<T>): T {
  expect(res.errors).toBeUndefined();
  return res.data!;
}

const MESSAGE_ADDED = `subscription($threadId: ID, $after: String) {
  messageAdded(threadId: $threadId, after: $after) { cursor occurredAt message { id body thread { id } sender { id name } } }
}`;
const READ_RECEIPT = `subscription($threadId: ID, $after: String) {
  readReceipt(threadId: $threadId, after: $after) { cursor occurredAt thread { id unreadCount } user { id } lastReadMessage { id } }
}`;
const TYPING =
  'subscription($threadId: ID!) { typing(threadId: $threadId) { threadId isTyping expiresAt user { id name } } }';
const UNREAD_COUNTS = 'subscription { unreadCounts { messages notifications thread { id } } }';
const CREATE_THREAD = 'mutation($i: CreateThreadInput!) { createThread(input: $i) { id } }';
const SEND = 'mutation($t: ID!, $b: String!) { sendMessage(threadId: $t, body: $b) { id } }';
const MARK_READ = 'mutation($t: ID!) { markThreadRead(threadId: $t) { id } }';
const SET_TYPING = 'mutation($t: ID!, $typing: Boolean) { setTyping(threadId: $t, isTyping: $typing) }';

/** A new Sunrise thread of `creator` and `others`, with no message yet. */
async function thread(creator: User, others: User[]): Promise<string> {
  const i = { subject: `Thread ${randomUUID().slice(0, 8)}`, participantIds: others.map((u) => sunrise.users[u]) };
  return dataOf(await server.gql(CREATE_THREAD, { i }, token[creator])).createThread.id;
}

async function send(sender: User, threadId: string, body: string): Promise<string> {
  return dataOf(await server.gql(SEND, { t: threadId, b: body }, token[sender])).sendMessage.id;
}

async function setTyping(user: User, threadId: string, typing = true): Promise<boolean> {
  return dataOf(await server.gql(SET_TYPING, { t: threadId, typing }, token[user])).setTyping;
}

async function counts(user: User): Promise<{ messages: number; notifications: number }> {
  const data = dataOf(await server.gql('{ unreadMessageCount unreadNotificationCount }', {}, token[user]));
  return { messages: data.unreadMessageCount, notifications: data.unreadNotificationCount };
}

async function newMessageNotifications(user: User, threadId: string): Promise<number> {
  const data = dataOf(await server.gql('{ notifications(first: 100) { kind thread { id } } }', {}, token[user]));
  return data.notifications.filter(
    (n: { kind: string; thread: { id: string } | null }) => n.kind === 'NEW_MESSAGE' && n.thread?.id === threadId,
  ).length;
}

const bodiesOf = (c: Collected) => c.results.map((r) => r.data!.messageAdded.message.body);

describe('messageAdded', () => {
  it('delivers a message sent over HTTP to the subscribers of its thread and to the all-threads subscriptions of its participants', async () => {
    const t = await thread('lee', ['nurse', 'frontdesk']);
    const one = subscribe('nurse', MESSAGE_ADDED, { threadId: t });
    const all = subscribe('frontdesk', MESSAGE_ADDED);
    await streamsLive(2);
    const id = await send('lee', t, 'Biopsy results are in');
    for (const c of [one, all]) {
      const [event] = await c.waitFor(1);
      expect(event.errors).toBeUndefined();
      expect(event.data!.messageAdded).toMatchObject({
        message: {
          id,
          body: 'Biopsy results are in',
          thread: { id: t },
          sender: { id: sunrise.users.lee, name: 'Dr. Maya Lee' },
        },
        cursor: expect.any(String),
        occurredAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      });
    }
  });

  it('shows every participant the thread as the message left it: its last activity and message, who read what, and their own unread count', async () => {
    const THREAD_AS_LEFT = `subscription {
      messageAdded {
        message {
          id
          createdAt
          thread {
            id
            lastActivityAt
            unreadCount
            lastMessage { id }
            participants { id }
            readStates { user { id } lastReadMessage { id } }
          }
        }
      }
    }`;
    const t = await thread('lee', ['nurse', 'frontdesk']);
    const first = await send('lee', t, 'Two biopsies today');
    // The nurse has read the first message, the front desk has not: one unread each after the next, then two.
    await server.gql(MARK_READ, { t }, token.nurse);
    const streams = { lee: subscribe('lee', THREAD_AS_LEFT), nurse: subscribe('nurse', THREAD_AS_LEFT) };
    const frontdesk = subscribe('frontdesk', THREAD_AS_LEFT);
    await streamsLive(3);
    const second = await send('lee', t, 'The second one is at 3');

    const unread = new Map<Collected, number>([
      [streams.lee, 0],
      [streams.nurse, 1],
      [frontdesk, 2],
    ]);
    for (const [stream, count] of unread) {
      const [event] = await stream.waitFor(1);
      expect(event.errors).toBeUndefined();
      const { message } = event.data!.messageAdded;
      expect(message.id).toBe(second);
      expect(message.thread).toMatchObject({ id: t, unreadCount: count, lastMessage: { id: second } });
      expect(message.thread.lastActivityAt).toBe(message.createdAt);
      expect(message.thread.participants.map((p: { id: string }) => p.id).sort()).toEqual(
        [sunrise.users.lee, sunrise.users.nurse, sunrise.users.frontdesk].sort(),
      );
      const readTo = Object.fromEntries(
        message.thread.readStates.map((s: { user: { id: string }; lastReadMessage: { id: string } | null }) => [
          s.user.id,
          s.lastReadMessage?.id ?? null,
        ]),
      );
      // The sender has read their own message; the nurse the first; the front desk nothing yet.
      expect(readTo).toEqual({
        [sunrise.users.lee]: second,
        [sunrise.users.nurse]: first,
        [sunrise.users.frontdesk]: null,
      });
    }
  });
  it('writes a message, its thread, read position and notifications in two statements, then every event of it in one', async () => {
    const t = await thread('lee', ['nurse', 'frontdesk']);
    const sql: { text: string; trx?: string }[] = [];
    const onQuery = (query: { sql: string; __knexTxId?: string }) =>
      sql.push({ text: query.sql, trx: query.__knexTxId });
    server.db.on('query', onQuery);
    let sent: string;
    try {
      sent = await send('lee', t, 'The biopsy results are in');
    } finally {
      server.db.removeListener('query', onQuery);
    }
    // What the message's transaction ran, by what each statement writes.
    const kind = (statement: string) =>
      /^begin/i.test(statement)
        ? 'BEGIN'
        : /^commit/i.test(statement)
          ? 'COMMIT'
          : /insert into "?messages"?/.test(statement)
            ? 'message'
            : /insert into "?notifications"?/.test(statement)
              ? 'notifications'
              : /insert into "?events"?/.test(statement)
                ? 'events'
                : statement.split(' ')[0];
    const post = sql.find((statement) => kind(statement.text) === 'message')!;
    expect(post.trx).toEqual(expect.any(String));
    const inTransaction = sql
      .filter((statement) => statement.trx === post.trx)
      .map((statement) => kind(statement.text));
    expect(inTransaction).toEqual(['BEGIN', 'message', 'notifications', 'events', 'COMMIT']);
    expect(post.text).toMatch(/update threads\b/);
    expect(post.text).toMatch(/update thread_participants\b/);

    // The message's event comes first in the clinic's log, then its two notifications'; both others are notified.
    const logged = await server
      .db('events')
      .where({ tenantId: sunrise.tenantId })
      .orderBy('seq', 'desc')
      .limit(3)
      .select('topic', 'kind', 'entityId');
    expect(logged.reverse()).toEqual([
      { topic: 'message', kind: 'ADDED', entityId: sent },
      { topic: 'notification', kind: 'CREATED', entityId: expect.any(String) },
      { topic: 'notification', kind: 'CREATED', entityId: expect.any(String) },
    ]);
    expect(await newMessageNotifications('nurse', t)).toBe(1);
    expect(await newMessageNotifications('frontdesk', t)).toBe(1);
    expect(await newMessageNotifications('lee', t)).toBe(0);
  });

  it("reads a message's sender, participants and patient in the message's own statement: no other read of users or patients until its subscribers have it", async () => {
    const SHOWN = `subscription($threadId: ID) {
      messageAdded(threadId: $threadId) {
        message { id sender { id name } thread { id patient { id displayName } participants { id name } } }
      }
    }`;
    const patientId = sunrise.patients[1];
    const i = {
      subject: `Thread ${randomUUID().slice(0, 8)}`,
      participantIds: [sunrise.users.nurse, sunrise.users.frontdesk],
      patientId,
    };
    const t = dataOf(await server.gql(CREATE_THREAD, { i }, token.lee)).createThread.id;
    const streams = [subscribe('nurse', SHOWN, { threadId: t }), subscribe('frontdesk', SHOWN, { threadId: t })];
    await streamsLive(2);

    const sql: string[] = [];
    const onQuery = (query: { sql: string }) => sql.push(query.sql);
    server.db.on('query', onQuery);
    let sent: string;
    let shown: Record<string, any>[];
    try {
      sent = await send('lee', t, 'The biopsy results are in');
      shown = (await Promise.all(streams.map((stream) => stream.waitFor(1)))).map(([event]) => {
        expect(event.errors).toBeUndefined();
        return event.data!.messageAdded.message;
      });
    } finally {
      server.db.removeListener('query', onQuery);
    }
    // Who sends and takes part, and whose thread it is, as the clinic's own rows name them.
    const names = new Map<string, string>(
      (await server.db('users').where({ tenantId: sunrise.tenantId }).select('id', 'name')).map(
        (u: { id: string; name: string }) => [u.id, u.name],
      ),
    );
    const patient = await server.db('patients').where({ id: patientId }).first('firstName', 'lastName');
    for (const message of shown) {
      expect(message.id).toBe(sent);
      expect(message.sender).toEqual({ id: sunrise.users.lee, name: names.get(sunrise.users.lee) });
      expect(message.thread.patient).toEqual({
        id: patientId,
        displayName: `${patient.firstName} ${patient.lastName}`,
      });
      expect(message.thread.participants.map((p: { id: string; name: string }) => [p.id, p.name]).sort()).toEqual(
        [sunrise.users.lee, sunrise.users.nurse, sunrise.users.frontdesk].map((id) => [id, names.get(id)]).sort(),
      );
    }
    // The door reads the sender's account; then only the message's statement reads users or patients.
    const kind = (statement: string) =>
      /from users u join tenants/.test(statement)
        ? 'door'
        : /insert into "?messages"?/.test(statement)
          ? 'message'
          : statement;
    expect(sql.filter((statement) => /\b(users|patients)\b/.test(statement)).map(kind)).toEqual(['door', 'message']);
  });

  it('delivers bodies of every size whole and in order, from a two-word note to a message read seven times over', async () => {
    // The group's payload is framed per socket by the server (http/wsFrames.ts): the three sizes of a WebSocket
    // frame's length field (under 126 bytes, under 64 KiB, over) and multi-byte characters must all arrive intact.
    const t = await thread('lee', ['nurse', 'frontdesk']);
    const small = subscribe('nurse', 'subscription($t: ID) { messageAdded(threadId: $t) { message { body } } }', { t });
    const aliases = Array.from({ length: 7 }, (_, i) => `b${i}: body`).join(' ');
    const large = subscribe(
      'frontdesk',
      `subscription($t: ID) { messageAdded(threadId: $t) { message { ${aliases} } } }`,
      {
        t,
      },
    );
    await streamsLive(2);
    const bodies = ['ok', `Crème brûlée, 🩺 ${'é'.repeat(400)}`, '🧴'.repeat(2500)];
    for (const body of bodies) await send('lee', t, body);
    await small.waitFor(3);
    await large.waitFor(3);
    expect(small.results.map((r) => r.data!.messageAdded.message.body)).toEqual(bodies);
    for (const [i, r] of large.results.entries()) {
      expect(Object.values(r.data!.messageAdded.message)).toEqual(Array(7).fill(bodies[i]));
    }
    // The last one was a frame of more than 64 KiB (seven times 10,000 bytes of UTF-8).
    expect(Buffer.byteLength(JSON.stringify(large.results[2]))).toBeGreaterThan(65_536);
  });

  it('delivers to an all-threads subscription only the messages of threads its user takes part in, never another clinic’s', async () => {
    const notPatels = await thread('lee', ['nurse']);
    const patels = await thread('lee', ['patel']);
    const patel = subscribe('patel', MESSAGE_ADDED);
    const chen = subscribe('chen', MESSAGE_ADDED);
    await streamsLive(2);
    await send('lee', notPatels, 'not for Dr. Patel');
    await server.gql(SEND, { t: lakesideThreadId, b: 'Lakeside only' }, token.chen);
    // Lakeside's message has been fanned out before Dr. Patel's is even sent; Sunrise's log is read in order.
    await chen.waitFor(1);
    await send('lee', patels, 'for Dr. Patel');
    await patel.waitFor(1);
    await send('lee', patels, 'for Dr. Patel again');
    await patel.waitFor(2);
    expect(bodiesOf(patel)).toEqual(['for Dr. Patel', 'for Dr. Patel again']);
    expect(bodiesOf(chen)).toEqual(['Lakeside only']);
  });

  it('lets message bodies reach the thread’s participants only, whoever else listens', async () => {
    const secret = await thread('lee', ['nurse']);
    const everyone = await thread('admin', ['lee', 'patel', 'nurse', 'frontdesk']);
    const listeners = (['admin', 'lee', 'patel', 'nurse', 'frontdesk', 'chen'] as const).map(
      (u) => [u, subscribe(u, MESSAGE_ADDED)] as const,
    );
    await streamsLive(listeners.length);
    await send('lee', secret, 'Pathology: confidential');
    // A message everyone of Sunrise receives after it: once it arrived, the first one has been decided for all.
    await send('admin', everyone, 'barrier');
    for (const [user, c] of listeners) {
      if (user === 'chen') continue;
      await vi.waitFor(() => expect(bodiesOf(c), `${user} received the barrier`).toContain('barrier'), 10_000);
      const expected = user === 'lee' || user === 'nurse' ? ['Pathology: confidential', 'barrier'] : ['barrier'];
      expect(bodiesOf(c), user).toEqual(expected);
    }
    expect(JSON.stringify(listeners.find(([u]) => u === 'chen')![1].results)).not.toContain('confidential');
  });

  it('replays what followed `after`, in order and once, then goes on live with no gap or duplicate at the seam', async () => {
    const t = await thread('lee', ['nurse']);
    const live = subscribe('lee', MESSAGE_ADDED, { threadId: t });
    await streamsLive(1);
    for (const body of ['m1', 'm2', 'm3']) await send('nurse', t, body);
    const [first] = await live.waitFor(3);
    // Subscribing while a message is being sent: the message lands either in the replay or live, exactly once.
    const resumed = subscribe('nurse', MESSAGE_ADDED, { threadId: t, after: first.data!.messageAdded.cursor });
    await send('lee', t, 'm4');
    await resumed.waitFor(3);
    await streamsLive(2);
    await send('lee', t, 'm5');
    await resumed.waitFor(4);
    await live.waitFor(5);
    expect(bodiesOf(resumed)).toEqual(['m2', 'm3', 'm4', 'm5']);
    expect(bodiesOf(live)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    const cursors = resumed.results.map((r) => r.data!.messageAdded.cursor);
    expect(new Set(cursors).size).toBe(4);
  });
});

describe('Who may subscribe to a thread', () => {
  const byThread: Array<[string, string, Record<string, unknown>]> = [
    ['messageAdded', MESSAGE_ADDED, {}],
    ['readReceipt', READ_RECEIPT, {}],
    ['typing', TYPING, {}],
  ];

  it.each(byThread)(
    '%s: a staff member of the clinic who is not a participant gets FORBIDDEN, and no stream',
    async (field, query) => {
      const t = await thread('lee', ['nurse']);
      const patel = subscribe('patel', query, { threadId: t });
      const [result] = await patel.waitFor(1);
      expect(result.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect(result.data ?? null).toBeNull();
      await patel.completed;
      expect(liveStreams(server), field).toBe(0);
    },
  );

  it.each(byThread)('%s: another clinic’s thread, or one that does not exist, is NOT_FOUND', async (_field, query) => {
    for (const threadId of [lakesideThreadId, randomUUID(), 'not-an-id']) {
      const c = subscribe('lee', query, { threadId });
      const [result] = await c.waitFor(1);
      expect(result.errors?.[0]?.extensions?.code, threadId).toBe('NOT_FOUND');
      await c.completed;
    }
    expect(liveStreams(server)).toBe(0);
  });

  it('setTyping: FORBIDDEN for a non-participant, NOT_FOUND for another clinic’s thread', async () => {
    const t = await thread('lee', ['nurse']);
    const forbidden = await server.gql(SET_TYPING, { t }, token.patel);
    expect(forbidden.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const other = await server.gql(SET_TYPING, { t: lakesideThreadId }, token.lee);
    expect(other.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });
});

describe('readReceipt', () => {
  it('tells the participants who read the thread up to which message, and nobody else', async () => {
    const t = await thread('lee', ['nurse']);
    const patelsThread = await thread('lee', ['patel']);
    const one = subscribe('lee', READ_RECEIPT, { threadId: t });
    const all = subscribe('lee', READ_RECEIPT);
    const patel = subscribe('patel', READ_RECEIPT);
    await streamsLive(3);
    const message = await send('lee', t, 'Please read');
    dataOf(await server.gql(MARK_READ, { t }, token.nurse));
    for (const c of [one, all]) {
      const [event] = await c.waitFor(1);
      expect(event.data!.readReceipt).toMatchObject({
        thread: { id: t },
        user: { id: sunrise.users.nurse },
        lastReadMessage: { id: message },
        cursor: expect.any(String),
        occurredAt: expect.any(String),
      });
    }
    // Dr. Patel hears the read receipts of his own threads only; the subscription to one thread, that thread's only.
    await send('lee', patelsThread, 'hello');
    dataOf(await server.gql(MARK_READ, { t: patelsThread }, token.patel));
    const [own] = await patel.waitFor(1);
    expect(own.data!.readReceipt).toMatchObject({ thread: { id: patelsThread }, user: { id: sunrise.users.patel } });
    const again = await send('lee', t, 'And this one');
    dataOf(await server.gql(MARK_READ, { t }, token.nurse));
    await one.waitFor(2);
    await all.waitFor(3);
    expect(one.results.map((r) => r.data!.readReceipt.lastReadMessage.id)).toEqual([message, again]);
    expect(all.results.map((r) => r.data!.readReceipt.thread.id)).toEqual([t, patelsThread, t]);
    expect(patel.results).toHaveLength(1);
  });
});

describe('typing', () => {
  it('tells the other participants that someone types and stops, never the typist themself', async () => {
    const t = await thread('lee', ['nurse']);
    const lee = subscribe('lee', TYPING, { threadId: t });
    const nurse = subscribe('nurse', TYPING, { threadId: t });
    await streamsLive(2);
    const before = Date.now();
    expect(await setTyping('lee', t)).toBe(true);
    const [started] = await nurse.waitFor(1);
    expect(started.data!.typing).toMatchObject({
      threadId: t,
      isTyping: true,
      user: { id: sunrise.users.lee, name: 'Dr. Maya Lee' },
    });
    // It says when it lapses unless renewed: TYPING_TTL after it was sent.
    const expiresAt = Date.parse(started.data!.typing.expiresAt);
    expect(expiresAt).toBeGreaterThanOrEqual(before + TYPING_TTL_SECONDS * 1000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + TYPING_TTL_SECONDS * 1000);

    expect(await setTyping('lee', t, false)).toBe(true);
    const [, stopped] = await nurse.waitFor(2);
    expect(stopped.data!.typing).toMatchObject({
      threadId: t,
      isTyping: false,
      expiresAt: null,
      user: { id: sunrise.users.lee },
    });

    // The nurse's own signal reaches Dr. Lee; Dr. Lee's two never reached Dr. Lee.
    await setTyping('nurse', t);
    const [seen] = await lee.waitFor(1);
    expect(seen.data!.typing.user.id).toBe(sunrise.users.nurse);
    expect(lee.results).toHaveLength(1);
    expect(nurse.results.every((r) => r.data!.typing.user.id === sunrise.users.lee)).toBe(true);
  });

  it('passes a `false` on only when the user was typing, and refuses an explicit null', async () => {
    const t = await thread('lee', ['nurse']);
    expect(await setTyping('lee', t, false)).toBe(false);
    const res = await server.gql(SET_TYPING, { t, typing: null }, token.lee);
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'isTyping' });
  });

  it('turns a burst of 50 setTyping calls into one signal', async () => {
    const t = await thread('lee', ['nurse', 'frontdesk']);
    const frontdesk = subscribe('frontdesk', TYPING, { threadId: t });
    await streamsLive(1);
    // One `true` per throttle window (a third of the TTL) goes out, however long the burst takes on a busy machine.
    const startedAt = Date.now();
    const sent = await Promise.all(Array.from({ length: 50 }, () => setTyping('lee', t)));
    const windows = 1 + Math.floor((Date.now() - startedAt) / ((TYPING_TTL_SECONDS * 1000) / 3));
    expect(sent.filter(Boolean).length).toBeGreaterThanOrEqual(1);
    expect(sent.filter(Boolean).length).toBeLessThanOrEqual(windows);
    // Another participant's signal, published after the burst, arrives after everything the burst produced.
    await setTyping('nurse', t);
    await vi.waitFor(
      () => expect(frontdesk.results.map((r) => r.data!.typing.user.id)).toContain(sunrise.users.nurse),
      { timeout: 10_000 },
    );
    const fromLee = frontdesk.results.filter(
      (r) => r.data!.typing.user.id === sunrise.users.lee && r.data!.typing.isTyping,
    );
    expect(fromLee.length).toBe(sent.filter(Boolean).length);
  });

  it('lapses to isTyping: false TYPING_TTL after a `true` that was not renewed', async () => {
    const t = await thread('lee', ['nurse']);
    const nurse = subscribe('nurse', TYPING, { threadId: t });
    await streamsLive(1);
    const sentAt = Date.now();
    await setTyping('lee', t);
    await nurse.waitFor(1);
    const [, lapsed] = await nurse.waitFor(2, 10_000);
    const after = Date.now() - sentAt;
    expect(lapsed.data!.typing).toMatchObject({ isTyping: false, user: { id: sunrise.users.lee } });
    // Not before its time; the upper bound only says it came (a loaded machine may be late).
    expect(after).toBeGreaterThanOrEqual(TYPING_TTL_SECONDS * 1000 - 100);
  });

  it('ends when the typist sends their message', async () => {
    const t = await thread('lee', ['nurse']);
    const nurse = subscribe('nurse', TYPING, { threadId: t });
    await streamsLive(1);
    await setTyping('lee', t);
    await nurse.waitFor(1);
    await send('lee', t, 'done typing');
    const [, stopped] = await nurse.waitFor(2, 3_000);
    expect(stopped.data!.typing).toMatchObject({ isTyping: false, user: { id: sunrise.users.lee } });
  });
});

describe('unreadCounts', () => {
  it('goes up with a message from someone else and back down, notification included, when the thread is read', async () => {
    const t = await thread('lee', ['nurse']);
    const start = await counts('nurse');
    const nurse = subscribe('nurse', UNREAD_COUNTS);
    // First the counts as they are, so that a client that read them before subscribing misses nothing meanwhile.
    const [now] = await nurse.waitFor(1);
    expect(now.data!.unreadCounts).toEqual({ ...start, thread: null });
    await send('lee', t, 'Can you call the patient?');
    const [, up] = await nurse.waitFor(2);
    expect(up.data!.unreadCounts).toEqual({
      messages: start.messages + 1,
      notifications: start.notifications + 1,
      thread: { id: t },
    });

    dataOf(await server.gql(MARK_READ, { t }, token.nurse));
    await vi.waitFor(() => expect(nurse.results.at(-1)!.data!.unreadCounts.messages).toBe(start.messages), {
      timeout: 10_000,
    });
    // Reading the thread read its "new message" notification too.
    expect(nurse.results.at(-1)!.data!.unreadCounts).toEqual({
      messages: start.messages,
      notifications: start.notifications,
      thread: { id: t },
    });
    // The message raised two events (the message and its notification), and so did the reading (the receipt and the
    // notification read): one emission told each, after the first.
    expect(nurse.results).toHaveLength(3);
  });

  it('follows the user’s notifications, and not what others read or send to threads they are not in', async () => {
    const notHers = await thread('lee', ['patel']);
    const start = await counts('nurse');
    const nurse = subscribe('nurse', UNREAD_COUNTS);
    await nurse.waitFor(1);
    await send('lee', notHers, 'not for the nurse');
    dataOf(await server.gql(MARK_READ, { t: notHers }, token.patel));
    const alert = dataOf(
      await server.gql(
        'mutation($i: SendAlertInput!) { sendAlert(input: $i) { id } }',
        { i: { userId: sunrise.users.nurse, kind: 'ALERT', title: 'Room 3 needs supplies' } },
        token.admin,
      ),
    ).sendAlert;
    const [, first] = await nurse.waitFor(2);
    expect(first.data!.unreadCounts).toEqual({
      messages: start.messages,
      notifications: start.notifications + 1,
      thread: null,
    });
    dataOf(
      await server.gql('mutation($id: ID!) { markNotificationRead(id: $id) { id } }', { id: alert.id }, token.nurse),
    );
    const [, , second] = await nurse.waitFor(3);
    expect(second.data!.unreadCounts).toEqual({
      messages: start.messages,
      notifications: start.notifications,
      thread: null,
    });
  });
});

describe('Viewing a thread', () => {
  it('spares a participant with the thread open the NEW_MESSAGE notification, not one without it', async () => {
    const t = await thread('lee', ['nurse', 'frontdesk']);
    const open = subscribe('nurse', MESSAGE_ADDED, { threadId: t });
    // An all-threads subscription is not having this thread open.
    subscribe('frontdesk', MESSAGE_ADDED);
    await streamsLive(2);
    await send('lee', t, 'first');
    await open.waitFor(1);
    expect(await newMessageNotifications('nurse', t)).toBe(0);
    expect(await newMessageNotifications('frontdesk', t)).toBe(1);

    // Closing the thread takes the nurse out of its viewers; the next message notifies her.
    open.stop();
    const key = EphemeralKey.threadViewers(sunrise, t);
    // The nurse leaves the thread's viewers.
    await vi.waitFor(async () => expect(await server.app.services.realtime.sets.members(key)).toHaveLength(0), {
      timeout: 10_000,
    });
    await send('lee', t, 'second');
    expect(await newMessageNotifications('nurse', t)).toBe(1);
    expect(await newMessageNotifications('frontdesk', t)).toBe(2);
  });

  it('takes a participant out of the thread’s viewers when the socket that had it open goes away without completing', async () => {
    const t = await thread('lee', ['nurse']);
    const key = EphemeralKey.threadViewers(sunrise, t);
    const viewers = () => server.app.services.realtime.sets.members(key);
    const socket = await openAcknowledged(server.url, token.nurse);
    socket.send({ type: 'subscribe', id: 'open', payload: { query: MESSAGE_ADDED, variables: { threadId: t } } });
    await vi.waitFor(async () => expect(await viewers()).toHaveLength(1), { timeout: 10_000 });
    await send('lee', t, 'seen as it arrives');
    expect((await socket.waitFor((m) => m.type === 'next' && m.id === 'open')).payload.data.messageAdded).toBeTruthy();
    expect(await newMessageNotifications('nurse', t)).toBe(0);

    // The phone loses its connection: no `complete`, no close handshake.
    socket.ws.terminate();
    await vi.waitFor(async () => expect(await viewers()).toHaveLength(0), { timeout: 10_000 });
    await send('lee', t, 'sent while she is away');
    expect(await newMessageNotifications('nurse', t)).toBe(1);
  });

  it('keeps one viewer member per open subscription, renewed while it lives', async () => {
    const t = await thread('lee', ['nurse']);
    const key = EphemeralKey.threadViewers(sunrise, t);
    const tabs = [
      subscribe('nurse', MESSAGE_ADDED, { threadId: t }),
      subscribe('nurse', MESSAGE_ADDED, { threadId: t }),
    ];
    await streamsLive(2);
    const members = await server.app.services.realtime.sets.members(key);
    expect(members).toHaveLength(2);
    expect(members.every((m) => m.startsWith(`${sunrise.users.nurse}|`))).toBe(true);
    tabs[0].stop();
    await vi.waitFor(async () => expect(await server.app.services.realtime.sets.members(key)).toHaveLength(1), {
      timeout: 10_000,
    });
    await send('lee', t, 'still open in one tab');
    expect(await newMessageNotifications('nurse', t)).toBe(0);
  });
});
