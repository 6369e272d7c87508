import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { eventsAfter, lastEventSeq, snapshotRows } from './helpers/dbSnapshot.js';
import { dataOf, errorCode, type TestServer } from './helpers/testServer.js';
import { useTestServer } from './helpers/setup.js';

type Staff = 'admin' | 'lee' | 'patel' | 'nurse' | 'frontdesk';

const t = useTestServer();
let server: TestServer;
let sunrise: Awaited<ReturnType<TestServer['ids']>>;
let lakeside: Awaited<ReturnType<TestServer['ids']>>;
const token = {} as Record<Staff, string>;

beforeAll(async () => {
  ({ server, sunrise, lakeside } = t);
  for (const key of ['admin', 'lee', 'patel', 'nurse', 'frontdesk'] as const)
    token[key] = await server.login('sunrise-derm', key);
});

const TASK_FIELDS =
  'id title details priority status dueAt patient { id } assignee { id } createdBy { id } createdAt completedAt';
const ASSIGN = `mutation($i: AssignTaskInput!) { assignTask(input: $i) { ${TASK_FIELDS} } }`;
const COMPLETE = `mutation($id: ID!) { completeTask(id: $id) { ${TASK_FIELDS} } }`;
const TASKS = `query($a: ID, $s: TaskStatus) { tasks(assigneeId: $a, status: $s) { ${TASK_FIELDS} } }`;
const NOTIFICATION_FIELDS = 'id kind priority title task { id } thread { id } patient { id } readAt createdAt';
const SEND_ALERT = `mutation($i: SendAlertInput!) { sendAlert(input: $i) { ${NOTIFICATION_FIELDS} } }`;
const NOTIFICATIONS = `query($u: Boolean, $f: Int) { notifications(unreadOnly: $u, first: $f) { ${NOTIFICATION_FIELDS} } }`;
const UNREAD = '{ unreadNotificationCount }';
const MARK_READ = `mutation($id: ID!) { markNotificationRead(id: $id) { ${NOTIFICATION_FIELDS} } }`;
const MARK_ALL = 'mutation { markAllNotificationsRead }';

async function assign(by: Staff, input: Record<string, unknown>) {
  return dataOf(await server.gql(ASSIGN, { i: input }, token[by])).assignTask;
}

async function tasksOf(viewer: Staff, variables: Record<string, unknown> = {}) {
  return dataOf(await server.gql(TASKS, variables, token[viewer])).tasks as any[];
}

async function alert(by: Staff, input: Record<string, unknown>) {
  return dataOf(await server.gql(SEND_ALERT, { i: input }, token[by])).sendAlert;
}

async function notificationsOf(user: Staff, variables: Record<string, unknown> = {}) {
  return dataOf(await server.gql(NOTIFICATIONS, { f: 100, ...variables }, token[user])).notifications as any[];
}

async function unreadCount(user: Staff): Promise<number> {
  return dataOf(await server.gql(UNREAD, {}, token[user])).unreadNotificationCount;
}

describe('assignTask', () => {
  it('creates an open task and a TASK_ASSIGNED notification for the assignee', async () => {
    const unreadBefore = await unreadCount('nurse');
    const dueAt = new Date(Date.now() + 2 * 24 * 3600 * 1000).toISOString();
    const patientId = sunrise.patients[1];
    const task = await assign('lee', {
      title: '  Call back re biopsy  ',
      details: 'Results are in the chart.',
      priority: 'HIGH',
      dueAt,
      patientId,
      assigneeId: sunrise.users.nurse,
    });
    expect(task).toEqual({
      id: expect.any(String),
      title: 'Call back re biopsy',
      details: 'Results are in the chart.',
      priority: 'HIGH',
      status: 'OPEN',
      dueAt,
      patient: { id: patientId },
      assignee: { id: sunrise.users.nurse },
      createdBy: { id: sunrise.users.lee },
      createdAt: expect.any(String),
      completedAt: null,
    });

    expect(await unreadCount('nurse')).toBe(unreadBefore + 1);
    const [newest] = await notificationsOf('nurse');
    expect(newest).toMatchObject({
      kind: 'TASK_ASSIGNED',
      priority: 'HIGH',
      title: 'New task: Call back re biopsy',
      task: { id: task.id },
      thread: null,
      patient: { id: patientId },
      readAt: null,
    });
    expect((await notificationsOf('lee')).map((n) => n.task?.id)).not.toContain(task.id);
  });

  it('logs the assignment and the notification in one transaction', async () => {
    const seq = await lastEventSeq(server.db, sunrise.tenantId);
    const task = await assign('patel', { title: 'Prep cryo', assigneeId: sunrise.users.nurse });
    const events = await eventsAfter(server.db, sunrise.tenantId, seq);
    const notification = await server.db('notifications').where({ taskId: task.id }).first();
    expect(events).toEqual([
      expect.objectContaining({
        seq: seq + 1,
        topic: 'task',
        kind: 'ASSIGNED',
        entityId: task.id,
        userId: sunrise.users.nurse,
      }),
      expect.objectContaining({
        seq: seq + 2,
        topic: 'notification',
        kind: 'CREATED',
        entityId: notification.id,
        userId: sunrise.users.nurse,
      }),
    ]);
    const row = await server.db('tasks').where({ id: task.id }).first();
    // PostgreSQL's now() is the transaction's start: one value for the task, its notification and both events.
    for (const at of [notification.createdAt, ...events.map((e) => e.occurredAt)])
      expect(at.getTime()).toBe(row.createdAt.getTime());
  });

  it('defaults the priority to NORMAL, and lets the front desk assign too', async () => {
    const task = await assign('frontdesk', { title: 'Confirm insurance', assigneeId: sunrise.users.patel });
    expect(task).toMatchObject({
      priority: 'NORMAL',
      details: null,
      dueAt: null,
      patient: null,
      createdBy: { id: sunrise.users.frontdesk },
    });
    const [newest] = await notificationsOf('patel');
    expect(newest).toMatchObject({ kind: 'TASK_ASSIGNED', priority: 'NORMAL', task: { id: task.id } });
  });

  it.each<[string, () => Record<string, unknown>, string]>([
    ['an empty title', () => ({ title: '  ' }), 'title'],
    ['a title over 200 characters', () => ({ title: 't'.repeat(201) }), 'title'],
    ['details over 2,000 characters', () => ({ details: 'd'.repeat(2001) }), 'details'],
    ['an assignee that names nobody', () => ({ assigneeId: randomUUID() }), 'assigneeId'],
    ['an assignee id that is not a UUID', () => ({ assigneeId: 'nurse' }), 'assigneeId'],
    ['an assignee of another clinic', () => ({ assigneeId: lakeside.users.nurse }), 'assigneeId'],
    ['a patientId that names nobody', () => ({ patientId: randomUUID() }), 'patientId'],
    ['a patientId that is not a UUID', () => ({ patientId: 'SUN-1001' }), 'patientId'],
    ['a patient of another clinic', () => ({ patientId: lakeside.patients[0] }), 'patientId'],
  ])('refuses %s with BAD_USER_INPUT naming the field, and writes nothing', async (_case, change, field) => {
    const before = await snapshotRows(server.db);
    const res = await server.gql(
      ASSIGN,
      { i: { title: 'Refused', assigneeId: sunrise.users.nurse, ...change() } },
      token.lee,
    );
    expect(errorCode(res)).toBe('BAD_USER_INPUT');
    expect(res.errors![0].extensions!.field).toBe(field);
    expect(res.data).toBeNull();
    expect(await snapshotRows(server.db)).toEqual(before);
  });
});

describe('completeTask', () => {
  it('lets the assignee complete a task, which then leaves their open tasks', async () => {
    const task = await assign('lee', { title: 'Order dressings', assigneeId: sunrise.users.nurse });
    const seq = await lastEventSeq(server.db, sunrise.tenantId);
    const done = dataOf(await server.gql(COMPLETE, { id: task.id }, token.nurse)).completeTask;
    expect(done).toMatchObject({ id: task.id, status: 'COMPLETED', completedAt: expect.any(String) });
    expect(await eventsAfter(server.db, sunrise.tenantId, seq)).toEqual([
      expect.objectContaining({ topic: 'task', kind: 'COMPLETED', entityId: task.id, userId: sunrise.users.nurse }),
    ]);
    expect((await tasksOf('nurse')).map((t) => t.id)).not.toContain(task.id);
    expect((await tasksOf('nurse', { s: 'COMPLETED' })).map((t) => t.id)).toContain(task.id);
  });

  it.each<[string, Staff]>([
    ['whoever assigned it', 'lee'],
    ['an admin', 'admin'],
  ])('lets %s complete a task', async (_case, by) => {
    const task = await assign('lee', { title: `Completed by ${by}`, assigneeId: sunrise.users.nurse });
    const done = dataOf(await server.gql(COMPLETE, { id: task.id }, token[by])).completeTask;
    expect(done.status).toBe('COMPLETED');
  });

  it.each<[string, Staff]>([
    ['another provider', 'patel'],
    ['the front desk', 'frontdesk'],
  ])('answers FORBIDDEN to %s, who neither holds nor assigned the task, and changes nothing', async (_case, by) => {
    const task = await assign('lee', { title: 'Not yours', assigneeId: sunrise.users.nurse });
    const before = await snapshotRows(server.db);
    const res = await server.gql(COMPLETE, { id: task.id }, token[by]);
    expect(errorCode(res)).toBe('FORBIDDEN');
    expect(res.data).toBeNull();
    expect(await snapshotRows(server.db)).toEqual(before);
  });

  it('answers CONFLICT when the task is completed a second time, and keeps the first completion', async () => {
    const task = await assign('lee', { title: 'Twice', assigneeId: sunrise.users.nurse });
    const first = dataOf(await server.gql(COMPLETE, { id: task.id }, token.nurse)).completeTask;
    const before = await snapshotRows(server.db);
    const res = await server.gql(COMPLETE, { id: task.id }, token.nurse);
    expect(errorCode(res)).toBe('CONFLICT');
    expect(await snapshotRows(server.db)).toEqual(before);
    const [stored] = await tasksOf('nurse', { s: 'COMPLETED' }).then((all) => all.filter((t) => t.id === task.id));
    expect(stored.completedAt).toBe(first.completedAt);
  });

  it.each([
    ['an id that names no task', () => randomUUID()],
    ['an id that is not a UUID', () => 'task-1'],
  ])('answers NOT_FOUND to %s', async (_case, id) => {
    const res = await server.gql(COMPLETE, { id: id() }, token.admin);
    expect(errorCode(res)).toBe('NOT_FOUND');
    expect(res.errors![0].message).toBe('Task not found');
  });
});

describe('tasks', () => {
  it('lists the signed-in user’s open tasks by default, newest first', async () => {
    const older = await assign('lee', { title: 'Older task', assigneeId: sunrise.users.patel });
    const newer = await assign('lee', { title: 'Newer task', assigneeId: sunrise.users.patel });
    const completed = await assign('lee', { title: 'Done task', assigneeId: sunrise.users.patel });
    dataOf(await server.gql(COMPLETE, { id: completed.id }, token.patel));

    const open = await tasksOf('patel');
    expect(open.length).toBeGreaterThanOrEqual(2);
    expect(open.every((t) => t.status === 'OPEN' && t.assignee.id === sunrise.users.patel)).toBe(true);
    const ids = open.map((t) => t.id);
    expect(ids).not.toContain(completed.id);
    expect(ids.indexOf(newer.id)).toBeLessThan(ids.indexOf(older.id));
    expect(ids.indexOf(older.id)).toBeGreaterThanOrEqual(0);
    const times = open.map((t) => Date.parse(t.createdAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });

  it('lists completed tasks with status: COMPLETED', async () => {
    const done = await tasksOf('nurse', { s: 'COMPLETED' });
    expect(done.length).toBeGreaterThan(0);
    expect(done.every((t) => t.status === 'COMPLETED' && t.completedAt !== null)).toBe(true);
  });

  it('includes the demo task assigned to the nurse', async () => {
    const seeded = await server
      .db('tasks')
      .where({ tenantId: sunrise.tenantId, title: 'Call patient with biopsy results' })
      .first('id');
    expect((await tasksOf('nurse')).map((t) => t.id)).toContain(seeded.id);
  });

  it('lists another staff member’s tasks with assigneeId', async () => {
    const task = await assign('frontdesk', { title: 'For the nurse', assigneeId: sunrise.users.nurse });
    const asLee = await tasksOf('lee', { a: sunrise.users.nurse });
    expect(asLee).toEqual(await tasksOf('nurse'));
    expect(asLee.map((t) => t.id)).toContain(task.id);
    expect(await tasksOf('lee', { a: randomUUID() })).toEqual([]);
  });
});

describe('tasksAssignedByMe', () => {
  const MINE = `query($s: TaskStatus) { tasksAssignedByMe(status: $s) { ${TASK_FIELDS} } }`;

  it('lists the open tasks I assigned to colleagues, newest first, not those I gave myself or others gave', async () => {
    const first = await assign('admin', { title: 'Restock biopsy kits', assigneeId: sunrise.users.nurse });
    const second = await assign('admin', { title: 'Call the lab', assigneeId: sunrise.users.frontdesk });
    const own = await assign('admin', { title: 'Note to self', assigneeId: sunrise.users.admin });
    const others = await assign('lee', { title: 'Not by the admin', assigneeId: sunrise.users.nurse });
    const listed = dataOf(await server.gql(MINE, {}, token.admin)).tasksAssignedByMe as any[];
    const ids = listed.map((t) => t.id);
    expect(ids.slice(0, 2)).toEqual([second.id, first.id]);
    expect(ids).not.toContain(own.id);
    expect(ids).not.toContain(others.id);
    expect(listed.every((t) => t.createdBy.id === sunrise.users.admin && t.status === 'OPEN')).toBe(true);
  });

  it('moves a task to the completed ones once its assignee completes it', async () => {
    const task = await assign('patel', { title: 'Fax the referral', assigneeId: sunrise.users.frontdesk });
    dataOf(await server.gql(COMPLETE, { id: task.id }, token.frontdesk));
    const open = dataOf(await server.gql(MINE, {}, token.patel)).tasksAssignedByMe as any[];
    const done = dataOf(await server.gql(MINE, { s: 'COMPLETED' }, token.patel)).tasksAssignedByMe as any[];
    expect(open.map((t) => t.id)).not.toContain(task.id);
    expect(done.map((t) => t.id)).toContain(task.id);
  });

  it('refuses a status that is not one with GRAPHQL_VALIDATION_FAILED or BAD_USER_INPUT, and asks for a token', async () => {
    const bad = await server.gql(MINE, { s: 'LATER' }, token.admin);
    expect(['BAD_USER_INPUT', 'GRAPHQL_VALIDATION_FAILED']).toContain(errorCode(bad));
    expect(errorCode(await server.gql(MINE, {}))).toBe('UNAUTHENTICATED');
  });
});

describe('sendAlert', () => {
  it('sends an ALERT that the recipient sees among their unread notifications', async () => {
    const unreadBefore = await unreadCount('nurse');
    const seq = await lastEventSeq(server.db, sunrise.tenantId);
    const patientId = sunrise.patients[3];
    const sent = await alert('lee', {
      userId: sunrise.users.nurse,
      kind: 'ALERT',
      priority: 'URGENT',
      title: 'Room 4 needs a scribe',
      patientId,
    });
    expect(sent).toEqual({
      id: expect.any(String),
      kind: 'ALERT',
      priority: 'URGENT',
      title: 'Room 4 needs a scribe',
      task: null,
      thread: null,
      patient: { id: patientId },
      readAt: null,
      createdAt: expect.any(String),
    });
    expect(await unreadCount('nurse')).toBe(unreadBefore + 1);
    expect((await notificationsOf('nurse'))[0]).toEqual(sent);
    expect(await eventsAfter(server.db, sunrise.tenantId, seq)).toEqual([
      expect.objectContaining({
        topic: 'notification',
        kind: 'CREATED',
        entityId: sent.id,
        userId: sunrise.users.nurse,
      }),
    ]);
  });

  it.each<[Staff, Staff]>([
    ['nurse', 'lee'],
    ['admin', 'patel'],
  ])('lets the %s send a LAB_RESULT, NORMAL by default', async (by, to) => {
    const sent = await alert(by, { userId: sunrise.users[to], kind: 'LAB_RESULT', title: 'Pathology ready' });
    expect(sent).toMatchObject({ kind: 'LAB_RESULT', priority: 'NORMAL', patient: null });
    expect((await notificationsOf(to))[0].id).toBe(sent.id);
  });

  it.each<[string, () => Record<string, unknown>, string]>([
    ['kind TASK_ASSIGNED', () => ({ kind: 'TASK_ASSIGNED' }), 'kind'],
    ['kind NEW_MESSAGE', () => ({ kind: 'NEW_MESSAGE' }), 'kind'],
    ['an empty title', () => ({ title: ' ' }), 'title'],
    ['a title over 200 characters', () => ({ title: 'a'.repeat(201) }), 'title'],
    ['a recipient that names nobody', () => ({ userId: randomUUID() }), 'userId'],
    ['a recipient of another clinic', () => ({ userId: lakeside.users.nurse }), 'userId'],
    ['a patientId that names nobody', () => ({ patientId: randomUUID() }), 'patientId'],
    ['a patient of another clinic', () => ({ patientId: lakeside.patients[1] }), 'patientId'],
  ])('refuses %s with BAD_USER_INPUT naming the field, and writes nothing', async (_case, change, field) => {
    const before = await snapshotRows(server.db);
    const input = { userId: sunrise.users.nurse, kind: 'ALERT', title: 'Refused', ...change() };
    const res = await server.gql(SEND_ALERT, { i: input }, token.lee);
    expect(errorCode(res)).toBe('BAD_USER_INPUT');
    expect(res.errors![0].extensions!.field).toBe(field);
    expect(await snapshotRows(server.db)).toEqual(before);
  });

  it('answers FORBIDDEN to the front desk, and writes nothing', async () => {
    const before = await snapshotRows(server.db);
    const res = await server.gql(
      SEND_ALERT,
      { i: { userId: sunrise.users.nurse, kind: 'ALERT', title: 'From the desk' } },
      token.frontdesk,
    );
    expect(errorCode(res)).toBe('FORBIDDEN');
    expect(res.data).toBeNull();
    expect(await snapshotRows(server.db)).toEqual(before);
  });
});

describe('notifications', () => {
  it('lists the signed-in user’s notifications newest first, and only unread ones with unreadOnly: true', async () => {
    const a = await alert('lee', { userId: sunrise.users.frontdesk, kind: 'ALERT', title: 'First' });
    const b = await alert('lee', { userId: sunrise.users.frontdesk, kind: 'ALERT', title: 'Second' });
    dataOf(await server.gql(MARK_READ, { id: a.id }, token.frontdesk));

    const all = await notificationsOf('frontdesk');
    expect(all.map((n) => n.id).slice(0, 2)).toEqual([b.id, a.id]);
    const times = all.map((n) => Date.parse(n.createdAt));
    expect(times).toEqual([...times].sort((x, y) => y - x));

    const unread = await notificationsOf('frontdesk', { u: true });
    expect(unread.map((n) => n.id)).toContain(b.id);
    expect(unread.map((n) => n.id)).not.toContain(a.id);
    expect(unread.every((n) => n.readAt === null)).toBe(true);
    expect(unread).toHaveLength(await unreadCount('frontdesk'));
  });

  it('returns at most `first` notifications', async () => {
    await alert('lee', { userId: sunrise.users.frontdesk, kind: 'ALERT', title: 'One more' });
    const all = await notificationsOf('frontdesk');
    expect(all.length).toBeGreaterThan(1);
    expect(await notificationsOf('frontdesk', { f: 1 })).toEqual(all.slice(0, 1));
  });

  it.each([0, -1, 101])('refuses first: %i with BAD_USER_INPUT', async (first) => {
    const res = await server.gql(NOTIFICATIONS, { f: first }, token.nurse);
    expect(errorCode(res)).toBe('BAD_USER_INPUT');
    expect(res.errors![0].extensions!.field).toBe('first');
  });

  it('seeds one notification for the nurse about her task', async () => {
    const seeded = await server
      .db('notifications')
      .where({ tenantId: sunrise.tenantId, userId: sunrise.users.nurse })
      .orderBy('createdAt')
      .first();
    expect((await notificationsOf('nurse')).map((n) => n.id)).toContain(seeded.id);
  });
});

describe('markNotificationRead', () => {
  it('marks a notification read once; marking it again changes nothing', async () => {
    const sent = await alert('lee', { userId: sunrise.users.patel, kind: 'ALERT', title: 'Read me' });
    const unreadBefore = await unreadCount('patel');
    const seq = await lastEventSeq(server.db, sunrise.tenantId);

    const read = dataOf(await server.gql(MARK_READ, { id: sent.id }, token.patel)).markNotificationRead;
    expect(read).toMatchObject({ id: sent.id, readAt: expect.any(String) });
    expect(await unreadCount('patel')).toBe(unreadBefore - 1);
    expect(await eventsAfter(server.db, sunrise.tenantId, seq)).toEqual([
      expect.objectContaining({ topic: 'notification', kind: 'READ', entityId: sent.id, userId: sunrise.users.patel }),
    ]);

    const before = await snapshotRows(server.db);
    const again = dataOf(await server.gql(MARK_READ, { id: sent.id }, token.patel)).markNotificationRead;
    expect(again).toEqual(read);
    expect(await unreadCount('patel')).toBe(unreadBefore - 1);
    expect(await snapshotRows(server.db)).toEqual(before);
  });

  it('answers NOT_FOUND to another user’s notification, exactly as to one that does not exist, and changes nothing', async () => {
    const theirs = await alert('lee', { userId: sunrise.users.patel, kind: 'ALERT', title: 'Not for the nurse' });
    const before = await snapshotRows(server.db);
    const res = await server.gql(MARK_READ, { id: theirs.id }, token.nurse);
    const none = await server.gql(MARK_READ, { id: randomUUID() }, token.nurse);
    expect(errorCode(res)).toBe('NOT_FOUND');
    expect(res.errors![0].message).toBe('Notification not found');
    expect({ data: res.data, errors: res.errors }).toEqual({ data: none.data, errors: none.errors });
    expect(await snapshotRows(server.db)).toEqual(before);
    expect((await notificationsOf('patel', { u: true })).map((n) => n.id)).toContain(theirs.id);
  });

  it('answers NOT_FOUND to an id that is not a UUID', async () => {
    const res = await server.gql(MARK_READ, { id: 'notification-1' }, token.nurse);
    expect(errorCode(res)).toBe('NOT_FOUND');
  });
});

describe('markAllNotificationsRead', () => {
  it('marks every unread notification of the user read and returns how many changed', async () => {
    for (const title of ['A', 'B', 'C']) await alert('nurse', { userId: sunrise.users.admin, kind: 'ALERT', title });
    const [one] = await notificationsOf('admin', { u: true });
    dataOf(await server.gql(MARK_READ, { id: one.id }, token.admin));
    const unread = await unreadCount('admin');
    expect(unread).toBeGreaterThanOrEqual(2);
    const othersUnread = await unreadCount('patel');
    const seq = await lastEventSeq(server.db, sunrise.tenantId);

    expect(dataOf(await server.gql(MARK_ALL, {}, token.admin)).markAllNotificationsRead).toBe(unread);
    expect(await unreadCount('admin')).toBe(0);
    expect(await notificationsOf('admin', { u: true })).toEqual([]);
    expect((await notificationsOf('admin')).every((n) => n.readAt !== null)).toBe(true);
    const events = await eventsAfter(server.db, sunrise.tenantId, seq);
    expect(events).toHaveLength(unread);
    expect(
      events.every((e) => e.topic === 'notification' && e.kind === 'READ' && e.userId === sunrise.users.admin),
    ).toBe(true);
    // Nobody else's notifications change.
    expect(await unreadCount('patel')).toBe(othersUnread);

    expect(dataOf(await server.gql(MARK_ALL, {}, token.admin)).markAllNotificationsRead).toBe(0);
  });
});
