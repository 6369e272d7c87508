import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { eventsAfter, lastEventSeq, snapshotRows } from './helpers/dbSnapshot.js';
import { dataOf, errorCode, type TestServer } from './helpers/testServer.js';
import { useTestServer } from './helpers/setup.js';

const t = useTestServer();
let server: TestServer;
let sunrise: Awaited<ReturnType<TestServer['ids']>>;
let lakeside: Awaited<ReturnType<TestServer['ids']>>;
/** The demo thread of Sunrise: Dr. Lee, the nurse and the front desk, three messages. */
let seedThreadId: string;
const token: Record<'admin' | 'lee' | 'patel' | 'nurse' | 'frontdesk', string> = {} as never;

beforeAll(async () => {
  ({ server, sunrise, lakeside } = t);
  for (const key of ['admin', 'lee', 'patel', 'nurse', 'frontdesk'] as const)
    token[key] = await server.login('sunrise-derm', key);
  seedThreadId = (await server.db('threads').where({ tenantId: sunrise.tenantId }).first('id')).id;
});

const READ_STATES = 'readStates { user { id } lastReadMessage { id } lastReadAt }';
const THREAD_FIELDS = `id subject patient { id } participants { id name } lastMessage { id body sender { id } }
  lastActivityAt unreadCount createdAt ${READ_STATES}`;
const CREATE_THREAD = `mutation($i: CreateThreadInput!) { createThread(input: $i) { ${THREAD_FIELDS} } }`;
const THREAD = `query($id: ID!) { thread(id: $id) { ${THREAD_FIELDS} } }`;
const THREADS = '{ threads { id lastActivityAt } }';
const SEND = `mutation($t: ID!, $b: String!) {
  sendMessage(threadId: $t, body: $b) { id body createdAt sender { id name } thread { id lastActivityAt lastMessage { id } ${READ_STATES} } }
}`;
const MESSAGES = `query($t: ID!, $last: Int, $before: String) {
  messages(threadId: $t, last: $last, before: $before) {
    edges { cursor node { id body sender { id } } }
    pageInfo { hasPreviousPage hasNextPage startCursor endCursor }
  }
}`;
const UNREAD = '{ unreadMessageCount }';
const MARK_READ = `mutation($t: ID!, $m: ID) { markThreadRead(threadId: $t, messageId: $m) { id unreadCount ${READ_STATES} } }`;
const NOTIFICATIONS = '{ notifications(first: 100) { id kind title priority thread { id } readAt } }';

async function createThread(creator: keyof typeof token, input: Record<string, unknown>) {
  return dataOf(await server.gql(CREATE_THREAD, { i: input }, token[creator])).createThread;
}

async function send(sender: keyof typeof token, threadId: string, body: string) {
  return dataOf(await server.gql(SEND, { t: threadId, b: body }, token[sender])).sendMessage;
}

async function unreadTotal(user: keyof typeof token): Promise<number> {
  return dataOf(await server.gql(UNREAD, {}, token[user])).unreadMessageCount;
}

async function threadAs(user: keyof typeof token, id: string) {
  return dataOf(await server.gql(THREAD, { id }, token[user])).thread;
}

/** How far one participant has read, as the thread's `readStates` tell it. */
function readStateOf(
  thread: { readStates: { user: { id: string }; lastReadMessage: { id: string } | null; lastReadAt: string | null }[] },
  userId: string,
) {
  const state = thread.readStates.find((s) => s.user.id === userId);
  expect(state, `read state of ${userId}`).toBeDefined();
  return { lastReadMessage: state!.lastReadMessage, lastReadAt: state!.lastReadAt };
}

describe('createThread', () => {
  /** 51 extra staff members of Sunrise, for the participant limit. */
  let extraStaff: string[];
  beforeAll(async () => {
    const rows = await server
      .db('users')
      .insert(
        Array.from({ length: 51 }, (_, i) => ({
          tenantId: sunrise.tenantId,
          email: `extra-${i}@sunrise.example`,
          name: `Extra Staff ${String(i).padStart(2, '0')}`,
          role: 'NURSE',
          passwordHash: '!',
        })),
      )
      .returning('id');
    extraStaff = rows.map((r: { id: string }) => r.id);
  });

  it('starts a thread with its creator among the participants, ordered by name, and no message without a body', async () => {
    const thread = await createThread('lee', {
      subject: '  Rash photos  ',
      participantIds: [sunrise.users.nurse, sunrise.users.patel],
    });
    expect(thread.subject).toBe('Rash photos');
    expect(thread.participants.map((p: { name: string }) => p.name)).toEqual([
      'Dr. Arjun Patel',
      'Dr. Maya Lee',
      'Sam Rivera',
    ]);
    expect(thread).toMatchObject({
      patient: null,
      lastMessage: null,
      unreadCount: 0,
      lastActivityAt: thread.createdAt,
    });
    const messages = dataOf(await server.gql(MESSAGES, { t: thread.id }, token.lee)).messages;
    expect(messages).toEqual({
      edges: [],
      pageInfo: { hasPreviousPage: false, hasNextPage: false, startCursor: null, endCursor: null },
    });
    expect(await server.db('messages').where({ threadId: thread.id })).toEqual([]);
    expect(await server.db('notifications').where({ threadId: thread.id })).toEqual([]);
    // Every participant can open it.
    for (const user of ['lee', 'patel', 'nurse'] as const) expect((await threadAs(user, thread.id)).id).toBe(thread.id);
  });

  it('posts the first body as a message from the creator, unread by the others only', async () => {
    const patientId = sunrise.patients[2];
    const thread = await createThread('lee', {
      subject: 'Biopsy scheduling',
      participantIds: [sunrise.users.patel],
      patientId,
      body: 'Can you take the 3pm slot?',
    });
    expect(thread.patient).toEqual({ id: patientId });
    expect(thread.lastMessage).toMatchObject({ body: 'Can you take the 3pm slot?', sender: { id: sunrise.users.lee } });
    expect(thread.unreadCount).toBe(0);
    expect((await threadAs('patel', thread.id)).unreadCount).toBe(1);
    const stored = await server.db('messages').where({ threadId: thread.id });
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ senderId: sunrise.users.lee, body: 'Can you take the 3pm slot?' });
  });

  it('counts the creator once when they list themselves among the participants', async () => {
    const thread = await createThread('lee', {
      subject: 'Self listed',
      participantIds: [sunrise.users.lee, sunrise.users.patel, sunrise.users.patel],
    });
    expect(thread.participants.map((p: { id: string }) => p.id).sort()).toEqual(
      [sunrise.users.lee, sunrise.users.patel].sort(),
    );
  });

  it('accepts 50 other participants', async () => {
    const thread = await createThread('lee', { subject: 'All hands', participantIds: extraStaff.slice(0, 50) });
    expect(thread.participants).toHaveLength(51);
  });

  it.each<[string, () => Record<string, unknown>, string]>([
    ['an empty subject', () => ({ subject: '   ' }), 'subject'],
    ['a subject over 200 characters', () => ({ subject: 's'.repeat(201) }), 'subject'],
    ['a first body over 5,000 characters', () => ({ body: 'b'.repeat(5001) }), 'body'],
    ['no other participant', () => ({ participantIds: [] }), 'participantIds'],
    ['only the creator as participant', () => ({ participantIds: [sunrise.users.lee] }), 'participantIds'],
    ['more than 50 other participants', () => ({ participantIds: extraStaff }), 'participantIds'],
    [
      'a participant id that names nobody',
      () => ({ participantIds: [sunrise.users.patel, randomUUID()] }),
      'participantIds',
    ],
    [
      'a participant id that is not a UUID',
      () => ({ participantIds: [sunrise.users.patel, 'not-a-uuid'] }),
      'participantIds',
    ],
    [
      'a participant of another clinic',
      () => ({ participantIds: [sunrise.users.patel, lakeside.users.chen] }),
      'participantIds',
    ],
    ['a patientId that names nobody', () => ({ patientId: randomUUID() }), 'patientId'],
    ['a patientId that is not a UUID', () => ({ patientId: 'patient-1' }), 'patientId'],
    ['a patient of another clinic', () => ({ patientId: lakeside.patients[0] }), 'patientId'],
  ])('refuses %s with BAD_USER_INPUT naming the field, and writes nothing', async (_case, change, field) => {
    const before = await snapshotRows(server.db);
    const input = { subject: 'Refused', participantIds: [sunrise.users.patel], body: 'hello', ...change() };
    const res = await server.gql(CREATE_THREAD, { i: input }, token.lee);
    expect(errorCode(res)).toBe('BAD_USER_INPUT');
    expect(res.errors![0].extensions!.field).toBe(field);
    expect(res.data).toBeNull();
    expect(await snapshotRows(server.db)).toEqual(before);
  });
});

describe('threads', () => {
  it('lists the threads the user takes part in, most recently active first; a new message moves its thread to the top', async () => {
    const older = await createThread('patel', { subject: 'Older', participantIds: [sunrise.users.nurse] });
    const newer = await createThread('patel', { subject: 'Newer', participantIds: [sunrise.users.nurse] });

    const order = async () =>
      dataOf(await server.gql(THREADS, {}, token.patel)).threads as { id: string; lastActivityAt: string }[];
    let threads = await order();
    expect(threads.slice(0, 2).map((t) => t.id)).toEqual([newer.id, older.id]);
    const times = threads.map((t) => Date.parse(t.lastActivityAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));

    const message = await send('nurse', older.id, 'Bumping this one');
    threads = await order();
    expect(threads.slice(0, 2).map((t) => t.id)).toEqual([older.id, newer.id]);
    expect(threads[0].lastActivityAt).toBe(message.createdAt);
    // The same order for every participant.
    const nurseThreads = dataOf(await server.gql(THREADS, {}, token.nurse)).threads as { id: string }[];
    expect(nurseThreads.slice(0, 2).map((t) => t.id)).toEqual([older.id, newer.id]);
  });

  it('leaves out the threads the user does not take part in', async () => {
    const thread = await createThread('lee', { subject: 'Providers only', participantIds: [sunrise.users.patel] });
    const adminThreads = dataOf(await server.gql(THREADS, {}, token.admin)).threads as { id: string }[];
    expect(adminThreads.map((t) => t.id)).not.toContain(thread.id);
    expect(adminThreads.map((t) => t.id)).not.toContain(seedThreadId);
    const nurseThreads = dataOf(await server.gql(THREADS, {}, token.nurse)).threads as { id: string }[];
    expect(nurseThreads.map((t) => t.id)).toContain(seedThreadId);
    expect(nurseThreads.map((t) => t.id)).not.toContain(thread.id);
  });

  it.each([0, 101])('refuses first: %i with BAD_USER_INPUT', async (first) => {
    const res = await server.gql('query($f: Int) { threads(first: $f) { id } }', { f: first }, token.lee);
    expect(errorCode(res)).toBe('BAD_USER_INPUT');
    expect(res.errors![0].extensions!.field).toBe('first');
  });
});

describe('sendMessage', () => {
  it('stores the message, returns it with its sender, and makes it the thread’s last message', async () => {
    const thread = await createThread('lee', { subject: 'Send', participantIds: [sunrise.users.nurse] });
    const message = await send('nurse', thread.id, '  Patient is in room 2  ');
    expect(message).toMatchObject({
      body: 'Patient is in room 2',
      sender: { id: sunrise.users.nurse, name: 'Sam Rivera' },
    });
    expect(message.thread.id).toBe(thread.id);
    const after = await threadAs('lee', thread.id);
    expect(after.lastMessage).toEqual({
      id: message.id,
      body: 'Patient is in room 2',
      sender: { id: sunrise.users.nurse },
    });
    expect(after.lastActivityAt).toBe(message.createdAt);
  });

  it('answers with the thread as it is after the message: moved up, and read by its sender', async () => {
    const thread = await createThread('lee', { subject: 'Fresh view', participantIds: [sunrise.users.nurse] });
    const message = await send('nurse', thread.id, 'Read by me, of course');
    expect(message.thread.lastActivityAt).toBe(message.createdAt);
    expect(message.thread.lastMessage).toEqual({ id: message.id });
    expect(readStateOf(message.thread, sunrise.users.nurse).lastReadMessage).toEqual({ id: message.id });
  });

  it('accepts a body of 1 and of 5,000 characters', async () => {
    const thread = await createThread('lee', { subject: 'Lengths', participantIds: [sunrise.users.nurse] });
    expect((await send('lee', thread.id, 'k')).body).toBe('k');
    const long = 'x'.repeat(5000);
    expect((await send('lee', thread.id, long)).body).toBe(long);
  });

  it.each([
    ['an empty body', ''],
    ['a body of only spaces', '   \n '],
    ['a body over 5,000 characters', 'y'.repeat(5001)],
  ])('refuses %s with BAD_USER_INPUT and writes nothing', async (_case, body) => {
    const before = await snapshotRows(server.db);
    const res = await server.gql(SEND, { t: seedThreadId, b: body }, token.lee);
    expect(errorCode(res)).toBe('BAD_USER_INPUT');
    expect(res.errors![0].extensions!.field).toBe('body');
    expect(res.data).toBeNull();
    expect(await snapshotRows(server.db)).toEqual(before);
  });

  it('refuses a thread that does not exist with NOT_FOUND', async () => {
    const res = await server.gql(SEND, { t: randomUUID(), b: 'Anyone?' }, token.lee);
    expect(errorCode(res)).toBe('NOT_FOUND');
  });

  it('logs one message event and one notification event per recipient, in the message’s own transaction, without the body', async () => {
    const thread = await createThread('lee', {
      subject: 'Events',
      participantIds: [sunrise.users.patel, sunrise.users.nurse],
    });
    const body = `Confidential body ${randomUUID()}`;
    const seq = await lastEventSeq(server.db, sunrise.tenantId);
    const message = await send('lee', thread.id, body);
    const events = await eventsAfter(server.db, sunrise.tenantId, seq);

    expect(events.map((e) => e.seq)).toEqual([seq + 1, seq + 2, seq + 3]);
    const added = events.filter((e) => e.topic === 'message');
    expect(added).toHaveLength(1);
    expect(added[0]).toMatchObject({ kind: 'ADDED', entityId: message.id, threadId: thread.id });
    const notes = events.filter((e) => e.topic === 'notification');
    expect(notes.map((e) => e.kind)).toEqual(['CREATED', 'CREATED']);
    expect(notes.map((e) => e.userId).sort()).toEqual([sunrise.users.patel, sunrise.users.nurse].sort());
    const notificationIds = (await server.db('notifications').where({ threadId: thread.id }).pluck('id')) as string[];
    expect(notes.map((e) => e.entityId).sort()).toEqual([...notificationIds].sort());
    // One transaction: PostgreSQL's now() is the transaction's start, shared by the message and every event row.
    const stored = await server.db('messages').where({ id: message.id }).first();
    for (const e of events) expect(e.occurredAt.getTime()).toBe(stored.createdAt.getTime());
    expect(JSON.stringify(events)).not.toContain('Confidential');
  });

  it('notifies the other participants with NEW_MESSAGE, never the sender, and never with the body', async () => {
    const thread = await createThread('patel', {
      subject: 'Notify',
      participantIds: [sunrise.users.lee, sunrise.users.frontdesk],
    });
    const body = `Secret detail ${randomUUID()}`;
    await send('patel', thread.id, body);

    for (const recipient of ['lee', 'frontdesk'] as const) {
      const notes = dataOf(await server.gql(NOTIFICATIONS, {}, token[recipient])).notifications as any[];
      const about = notes.filter((n) => n.thread?.id === thread.id);
      expect(about).toEqual([
        {
          id: expect.any(String),
          kind: 'NEW_MESSAGE',
          title: 'New message from Dr. Arjun Patel',
          priority: 'NORMAL',
          thread: { id: thread.id },
          readAt: null,
        },
      ]);
    }
    const senderNotes = dataOf(await server.gql(NOTIFICATIONS, {}, token.patel)).notifications as any[];
    expect(senderNotes.filter((n) => n.thread?.id === thread.id)).toEqual([]);
    const rows = await server.db('notifications').where({ threadId: thread.id });
    expect(rows.map((r) => r.userId).sort()).toEqual([sunrise.users.lee, sunrise.users.frontdesk].sort());
    expect(JSON.stringify(rows)).not.toContain('Secret detail');
  });
});

describe('messages', () => {
  /** A thread of Dr. Lee and Dr. Patel with seven messages, and their ids in the order sent. */
  let threadId: string;
  let sent: string[];
  beforeAll(async () => {
    threadId = (await createThread('lee', { subject: 'Paging', participantIds: [sunrise.users.patel] })).id;
    sent = [];
    for (let i = 1; i <= 7; i++) sent.push((await send(i % 2 ? 'lee' : 'patel', threadId, `message ${i}`)).id);
  });

  it('reads the newest messages, newest last', async () => {
    const page = dataOf(await server.gql(MESSAGES, { t: threadId, last: 3 }, token.patel)).messages;
    expect(page.edges.map((e: any) => e.node.body)).toEqual(['message 5', 'message 6', 'message 7']);
    expect(page.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: false });
    expect(page.pageInfo.startCursor).toBe(page.edges[0].cursor);
    expect(page.pageInfo.endCursor).toBe(page.edges[2].cursor);
  });

  it('returns up to 30 messages by default', async () => {
    const page = dataOf(await server.gql(MESSAGES, { t: threadId }, token.lee)).messages;
    expect(page.edges.map((e: any) => e.node.id)).toEqual(sent);
    expect(page.pageInfo.hasPreviousPage).toBe(false);
  });

  it.each([1, 2, 3, 7])(
    'walking back with before = startCursor (last: %i) yields every message exactly once, in order',
    async (last) => {
      const seen: string[] = [];
      let before: string | undefined;
      for (let pages = 0; ; pages++) {
        expect(pages).toBeLessThanOrEqual(sent.length);
        const page = dataOf(await server.gql(MESSAGES, { t: threadId, last, before }, token.lee)).messages;
        expect(page.edges.length).toBeGreaterThan(0);
        expect(page.edges.length).toBeLessThanOrEqual(last);
        expect(page.pageInfo.hasNextPage).toBe(before !== undefined);
        seen.unshift(...page.edges.map((e: any) => e.node.id));
        if (!page.pageInfo.hasPreviousPage) break;
        before = page.pageInfo.startCursor;
      }
      expect(seen).toEqual(sent);
    },
  );

  it('gives an empty page before the oldest message', async () => {
    const all = dataOf(await server.gql(MESSAGES, { t: threadId }, token.lee)).messages;
    const page = dataOf(
      await server.gql(MESSAGES, { t: threadId, before: all.pageInfo.startCursor }, token.lee),
    ).messages;
    expect(page.edges).toEqual([]);
    expect(page.pageInfo.hasPreviousPage).toBe(false);
  });

  it.each([0, -1, 101])('refuses last: %i with BAD_USER_INPUT', async (last) => {
    const res = await server.gql(MESSAGES, { t: threadId, last }, token.lee);
    expect(errorCode(res)).toBe('BAD_USER_INPUT');
    expect(res.errors![0].extensions!.field).toBe('last');
  });

  it.each([
    ['not base64 JSON', 'garbage!!'],
    ['an empty string', ''],
    ['a JSON object', Buffer.from('{"seq":3}').toString('base64url')],
    ['a cursor of the wrong shape', Buffer.from('["Bennett","Olivia","x"]').toString('base64url')],
    ['a non-integer position', Buffer.from('["3"]').toString('base64url')],
    ['a fractional position', Buffer.from('[2.5]').toString('base64url')],
  ])('refuses a before cursor that is %s with BAD_USER_INPUT', async (_case, before) => {
    const res = await server.gql(MESSAGES, { t: threadId, before }, token.lee);
    expect(errorCode(res)).toBe('BAD_USER_INPUT');
    expect(res.errors![0].extensions!.field).toBe('before');
  });
});

describe('unread counts and read state', () => {
  it('counts messages from others per thread and overall, never the sender’s own, and returns to 0 after markThreadRead', async () => {
    const thread = await createThread('lee', {
      subject: 'Unread',
      participantIds: [sunrise.users.patel, sunrise.users.nurse],
    });
    const base = {
      lee: await unreadTotal('lee'),
      patel: await unreadTotal('patel'),
      nurse: await unreadTotal('nurse'),
    };

    await send('lee', thread.id, 'one');
    await send('lee', thread.id, 'two');
    expect((await threadAs('lee', thread.id)).unreadCount).toBe(0);
    expect(await unreadTotal('lee')).toBe(base.lee);
    expect((await threadAs('patel', thread.id)).unreadCount).toBe(2);
    expect(await unreadTotal('patel')).toBe(base.patel + 2);

    await send('nurse', thread.id, 'three');
    expect((await threadAs('patel', thread.id)).unreadCount).toBe(3);
    expect(await unreadTotal('patel')).toBe(base.patel + 3);
    expect((await threadAs('lee', thread.id)).unreadCount).toBe(1);
    expect(await unreadTotal('lee')).toBe(base.lee + 1);
    expect((await threadAs('nurse', thread.id)).unreadCount).toBe(0);

    const marked = dataOf(await server.gql(MARK_READ, { t: thread.id }, token.patel)).markThreadRead;
    expect(marked.unreadCount).toBe(0);
    expect((await threadAs('patel', thread.id)).unreadCount).toBe(0);
    expect(await unreadTotal('patel')).toBe(base.patel);
    // Someone else's reading changes nothing for the others.
    expect((await threadAs('lee', thread.id)).unreadCount).toBe(1);
  });

  it('counts a reply as reading the thread up to it: the sender has nothing unread before their own message', async () => {
    const thread = await createThread('lee', { subject: 'Reply', participantIds: [sunrise.users.patel] });
    await send('lee', thread.id, 'question one');
    await send('lee', thread.id, 'question two');
    expect((await threadAs('patel', thread.id)).unreadCount).toBe(2);
    const reply = await send('patel', thread.id, 'answer');
    expect((await threadAs('patel', thread.id)).unreadCount).toBe(0);
    expect(readStateOf(await threadAs('lee', thread.id), sunrise.users.patel).lastReadMessage).toEqual({
      id: reply.id,
    });
    expect((await threadAs('lee', thread.id)).unreadCount).toBe(1);
  });

  it('shows in readStates who has read up to which message', async () => {
    const thread = await createThread('lee', {
      subject: 'Receipts',
      participantIds: [sunrise.users.patel, sunrise.users.nurse],
    });
    const first = await send('lee', thread.id, 'first');
    const second = await send('lee', thread.id, 'second');
    await server.gql(MARK_READ, { t: thread.id, m: first.id }, token.patel);

    const view = await threadAs('nurse', thread.id);
    expect(view.readStates).toHaveLength(3);
    expect(readStateOf(view, sunrise.users.lee).lastReadMessage).toEqual({ id: second.id });
    expect(readStateOf(view, sunrise.users.patel)).toEqual({
      lastReadMessage: { id: first.id },
      lastReadAt: expect.any(String),
    });
    expect(readStateOf(view, sunrise.users.nurse)).toEqual({ lastReadMessage: null, lastReadAt: null });
    expect((await threadAs('patel', thread.id)).unreadCount).toBe(1);
  });

  it('lists readStates in the order of participants, by name, and keeps that order as people read', async () => {
    const thread = await createThread('lee', {
      subject: 'Receipts in order',
      participantIds: [sunrise.users.nurse, sunrise.users.patel],
    });
    // Dr. Arjun Patel, Dr. Maya Lee, Sam Rivera: not the order in which the thread took them in.
    const byName = thread.participants.map((p: { id: string }) => p.id);
    expect(byName).toEqual([sunrise.users.patel, sunrise.users.lee, sunrise.users.nurse]);
    const idsOf = (view: { readStates: { user: { id: string } }[] }) => view.readStates.map((s) => s.user.id);
    expect(idsOf(thread)).toEqual(byName);

    const message = await send('nurse', thread.id, 'Photos are in');
    const marked = dataOf(await server.gql(MARK_READ, { t: thread.id, m: message.id }, token.patel)).markThreadRead;
    expect(idsOf(marked)).toEqual(byName);
    for (const user of ['lee', 'patel', 'nurse'] as const)
      expect(idsOf(await threadAs(user, thread.id))).toEqual(byName);
  });

  it('answers markThreadRead with the read state after the change', async () => {
    const thread = await createThread('lee', { subject: 'Fresh receipts', participantIds: [sunrise.users.patel] });
    const message = await send('lee', thread.id, 'read me');
    const marked = dataOf(await server.gql(MARK_READ, { t: thread.id }, token.patel)).markThreadRead;
    expect(readStateOf(marked, sunrise.users.patel)).toEqual({
      lastReadMessage: { id: message.id },
      lastReadAt: expect.any(String),
    });
  });

  it('only moves read state forward: marking an older message read changes nothing and logs nothing', async () => {
    const thread = await createThread('lee', { subject: 'Forward only', participantIds: [sunrise.users.nurse] });
    const older = await send('lee', thread.id, 'older');
    const newer = await send('lee', thread.id, 'newer');
    dataOf(await server.gql(MARK_READ, { t: thread.id }, token.nurse));

    const before = await snapshotRows(server.db);
    const marked = dataOf(await server.gql(MARK_READ, { t: thread.id, m: older.id }, token.nurse)).markThreadRead;
    expect(marked.unreadCount).toBe(0);
    expect(readStateOf(marked, sunrise.users.nurse).lastReadMessage).toEqual({ id: newer.id });
    expect(await snapshotRows(server.db)).toEqual(before);

    await send('lee', thread.id, 'newest');
    dataOf(await server.gql(MARK_READ, { t: thread.id, m: older.id }, token.nurse));
    expect((await threadAs('nurse', thread.id)).unreadCount).toBe(1);
  });

  it('logs a readReceipt event when markThreadRead advances', async () => {
    const thread = await createThread('lee', { subject: 'Receipt events', participantIds: [sunrise.users.nurse] });
    const message = await send('lee', thread.id, 'seen?');
    const seq = await lastEventSeq(server.db, sunrise.tenantId);
    dataOf(await server.gql(MARK_READ, { t: thread.id }, token.nurse));
    const events = await eventsAfter(server.db, sunrise.tenantId, seq);
    expect(events).toEqual([
      expect.objectContaining({
        topic: 'readReceipt',
        kind: 'READ',
        entityId: message.id,
        threadId: thread.id,
        userId: sunrise.users.nurse,
      }),
      // Its "new message" notification is read too.
      expect.objectContaining({ topic: 'notification', kind: 'READ', userId: sunrise.users.nurse }),
    ]);
    // Marking again advances nothing and logs nothing.
    dataOf(await server.gql(MARK_READ, { t: thread.id }, token.nurse));
    expect(await lastEventSeq(server.db, sunrise.tenantId)).toBe(seq + 2);
  });

  it("clears the reader's NEW_MESSAGE notifications of the thread up to the message read, and no one else's", async () => {
    const thread = await createThread('lee', {
      subject: 'Clears notifications',
      participantIds: [sunrise.users.patel, sunrise.users.nurse],
    });
    const ofThread = async (user: keyof typeof token) =>
      (dataOf(await server.gql(NOTIFICATIONS, {}, token[user])).notifications as any[]).filter(
        (n) => n.thread?.id === thread.id,
      );
    const unreadNotifications = async (user: keyof typeof token) =>
      dataOf(await server.gql('{ unreadNotificationCount }', {}, token[user])).unreadNotificationCount as number;
    const first = await send('lee', thread.id, 'one');
    await send('lee', thread.id, 'two');
    await send('lee', thread.id, 'three');
    const before = await unreadNotifications('patel');
    expect((await ofThread('patel')).filter((n) => !n.readAt)).toHaveLength(3);

    // Read up to the first message: its notification only.
    dataOf(await server.gql(MARK_READ, { t: thread.id, m: first.id }, token.patel));
    expect((await ofThread('patel')).filter((n) => !n.readAt)).toHaveLength(2);
    expect(await unreadNotifications('patel')).toBe(before - 1);

    dataOf(await server.gql(MARK_READ, { t: thread.id }, token.patel));
    expect((await ofThread('patel')).every((n) => n.kind === 'NEW_MESSAGE' && n.readAt)).toBe(true);
    expect(await unreadNotifications('patel')).toBe(before - 3);
    expect((await ofThread('nurse')).filter((n) => !n.readAt)).toHaveLength(3);
  });

  it('marks a thread without messages read without error or event', async () => {
    const thread = await createThread('lee', { subject: 'Empty', participantIds: [sunrise.users.nurse] });
    const before = await snapshotRows(server.db);
    const marked = dataOf(await server.gql(MARK_READ, { t: thread.id }, token.nurse)).markThreadRead;
    expect(marked.unreadCount).toBe(0);
    expect(await snapshotRows(server.db)).toEqual(before);
  });

  it.each<[string, () => Promise<string>]>([
    [
      'a message of another thread',
      async () => (await server.db('messages').where({ threadId: seedThreadId }).first('id')).id,
    ],
    ['an id that names no message', async () => randomUUID()],
    ['an id that is not a UUID', async () => 'message-1'],
  ])('refuses markThreadRead with %s as BAD_USER_INPUT and changes nothing', async (_case, messageId) => {
    const thread = await createThread('lee', { subject: 'Wrong message', participantIds: [sunrise.users.nurse] });
    await send('lee', thread.id, 'unread');
    const m = await messageId();
    const before = await snapshotRows(server.db);
    const res = await server.gql(MARK_READ, { t: thread.id, m }, token.nurse);
    expect(errorCode(res)).toBe('BAD_USER_INPUT');
    expect(res.errors![0].extensions!.field).toBe('messageId');
    expect(await snapshotRows(server.db)).toEqual(before);
    expect((await threadAs('nurse', thread.id)).unreadCount).toBe(1);
  });
});

describe('participants only', () => {
  it('answers null to thread(id) for a same-clinic user who does not take part', async () => {
    expect(await threadAs('admin', seedThreadId)).toBeNull();
    expect(await threadAs('patel', seedThreadId)).toBeNull();
    expect((await threadAs('frontdesk', seedThreadId)).id).toBe(seedThreadId);
  });

  it('answers FORBIDDEN to messages for a same-clinic user who does not take part', async () => {
    const res = await server.gql(MESSAGES, { t: seedThreadId }, token.admin);
    expect(errorCode(res)).toBe('FORBIDDEN');
    expect(res.data).toBeNull();
    expect(JSON.stringify(res)).not.toContain('Pathology');
  });

  it('answers FORBIDDEN to sendMessage for a same-clinic user who does not take part, and writes nothing', async () => {
    const before = await snapshotRows(server.db);
    const res = await server.gql(SEND, { t: seedThreadId, b: 'Let me in' }, token.patel);
    expect(errorCode(res)).toBe('FORBIDDEN');
    expect(await snapshotRows(server.db)).toEqual(before);
  });

  it('answers FORBIDDEN to markThreadRead for a same-clinic user who does not take part, and writes nothing', async () => {
    const message = await server.db('messages').where({ threadId: seedThreadId }).first('id');
    const before = await snapshotRows(server.db);
    for (const m of [undefined, message.id]) {
      const res = await server.gql(MARK_READ, { t: seedThreadId, m }, token.admin);
      expect(errorCode(res)).toBe('FORBIDDEN');
    }
    expect(await snapshotRows(server.db)).toEqual(before);
  });
});
