import { dayInZone } from './helpers/time.js';
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { snapshotRows } from './helpers/dbSnapshot.js';
import { errorCode, type GraphQLResponse, type TestServer } from './helpers/testServer.js';
import { useTestServer } from './helpers/setup.js';

/**
 * Tenant A is Sunrise Dermatology; tenant B, Lakeside Skin Clinic, probes it with its own tokens. For every entry point
 * that takes an id, B's answer for one of A's real ids must be indistinguishable from its answer for an id that exists
 * nowhere (so B cannot even learn that the id exists), and nothing anywhere may change.
 */

type LakesideStaff = 'admin' | 'chen' | 'okafor' | 'nurse' | 'frontdesk';

const t = useTestServer();
let server: TestServer;
let sunrise: Awaited<ReturnType<TestServer['ids']>>;
let lakeside: Awaited<ReturnType<TestServer['ids']>>;
const token = {} as Record<LakesideStaff, string>;

/** One real object of Sunrise of each kind, and every id Sunrise has. */
const A = {} as {
  user: string;
  provider: string;
  patient: string;
  appointment: string;
  thread: string;
  message: string;
  task: string;
  notification: string;
  allIds: Set<string>;
};
/** Lakeside's own thread (Dr. Chen, the nurse, the front desk). */
let lakesideThread: string;

const dayIn = (timeZone: string, days = 0) => dayInZone(timeZone, days);

beforeAll(async () => {
  ({ server, sunrise, lakeside } = t);
  for (const key of ['admin', 'chen', 'okafor', 'nurse', 'frontdesk'] as const)
    token[key] = await server.login('lakeside-skin', key);

  const db = server.db;
  const tenantId = sunrise.tenantId;
  // A scheduled appointment, an open task and an unread notification: each one a change would visibly affect.
  const appointment = await db('appointments').where({ tenantId, status: 'SCHEDULED' }).first('id');
  const thread = await db('threads').where({ tenantId }).first('id');
  const message = await db('messages').where({ tenantId }).orderBy('seq', 'desc').first('id');
  const task = await db('tasks').where({ tenantId, status: 'OPEN' }).first('id');
  const notification = await db('notifications').where({ tenantId }).whereNull('readAt').first('id');
  Object.assign(A, {
    user: sunrise.users.nurse,
    provider: sunrise.users.lee,
    patient: sunrise.patients[0],
    appointment: appointment.id,
    thread: thread.id,
    message: message.id,
    task: task.id,
    notification: notification.id,
  });
  const ids = new Set<string>([tenantId]);
  for (const table of ['users', 'patients', 'appointments', 'threads', 'messages', 'tasks', 'notifications']) {
    for (const id of await db(table).where({ tenantId }).pluck('id')) ids.add(id);
  }
  A.allIds = ids;
  lakesideThread = (await db('threads').where({ tenantId: lakeside.tenantId }).first('id')).id;
});

/** A response with the probed id replaced by a placeholder, so that answers about two ids can be compared. */
function answer(res: GraphQLResponse, id: string) {
  return JSON.parse(JSON.stringify({ status: res.status, data: res.data, errors: res.errors }).replaceAll(id, '<id>'));
}

/** Every UUID that appears anywhere in a response. */
function uuidsIn(value: unknown): string[] {
  return JSON.stringify(value).match(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi) ?? [];
}

const inFortyDays = (hourUtc: number) => {
  const d = new Date(Date.now() + 40 * 24 * 3600 * 1000);
  d.setUTCHours(hourUtc, 0, 0, 0);
  return d.toISOString();
};

type Kind = Exclude<keyof typeof A, 'allIds'>;
interface Probe {
  /** What B tries, as a sentence. */
  name: string;
  /** Which kind of Sunrise object the probe names. */
  kind: Kind;
  query: string;
  variables: (id: string) => Record<string, unknown>;
  /**
   * The answer for both ids: `null`, an empty list, or an error code (so a typo in the document cannot pass unseen).
   */
  answers: null | [] | 'NOT_FOUND' | 'BAD_USER_INPUT';
  /** Who of Lakeside tries it (default: the admin and the nurse). */
  as?: LakesideStaff[];
}

const APPOINTMENT = 'id status room reason provider { id } patient { id }';
const probes: Probe[] = [
  {
    name: 'patient(id)',
    answers: null,
    kind: 'patient',
    query: 'query($id: ID!) { patient(id: $id) { id mrn firstName lastName } }',
    variables: (id) => ({ id }),
  },
  {
    name: 'appointment(id)',
    answers: null,
    kind: 'appointment',
    query: `query($id: ID!) { appointment(id: $id) { ${APPOINTMENT} } }`,
    variables: (id) => ({ id }),
  },
  {
    name: 'user(id)',
    answers: null,
    kind: 'user',
    query: 'query($id: ID!) { user(id: $id) { id name email role } }',
    variables: (id) => ({ id }),
  },
  {
    name: 'thread(id)',
    answers: null,
    kind: 'thread',
    query: 'query($id: ID!) { thread(id: $id) { id subject } }',
    variables: (id) => ({ id }),
  },
  {
    name: 'messages(threadId)',
    answers: 'NOT_FOUND',
    kind: 'thread',
    query: 'query($id: ID!) { messages(threadId: $id) { edges { node { id body } } } }',
    variables: (id) => ({ id }),
  },
  {
    name: 'tasks(assigneeId)',
    answers: [],
    kind: 'user',
    query: 'query($id: ID!) { tasks(assigneeId: $id) { id title } }',
    variables: (id) => ({ id }),
  },
  {
    name: 'tasks(assigneeId, status: COMPLETED)',
    answers: [],
    kind: 'user',
    query: 'query($id: ID!) { tasks(assigneeId: $id, status: COMPLETED) { id title } }',
    variables: (id) => ({ id }),
  },
  {
    name: 'schedule(providerId)',
    answers: [],
    kind: 'provider',
    query: `query($id: ID!, $d: LocalDate!) { schedule(date: $d, providerId: $id) { ${APPOINTMENT} } }`,
    variables: (id) => ({ id, d: dayIn('America/New_York') }),
  },
  {
    name: 'appointments(providerId)',
    answers: [],
    kind: 'provider',
    query: `query($id: ID!, $f: DateTime!, $t: DateTime!) { appointments(from: $f, to: $t, providerId: $id) { ${APPOINTMENT} } }`,
    variables: (id) => ({
      id,
      f: new Date(Date.now() - 3 * 24 * 3600 * 1000).toISOString(),
      t: new Date(Date.now() + 3 * 24 * 3600 * 1000).toISOString(),
    }),
  },
  {
    name: 'updateAppointment',
    answers: 'NOT_FOUND',
    kind: 'appointment',
    query: `mutation($id: ID!) { updateAppointment(id: $id, input: { room: "Room 9", reason: "Moved" }) { ${APPOINTMENT} } }`,
    variables: (id) => ({ id }),
  },
  {
    name: 'updateAppointment with a new time',
    answers: 'NOT_FOUND',
    kind: 'appointment',
    query: `mutation($id: ID!, $s: DateTime!, $e: DateTime!) { updateAppointment(id: $id, input: { startsAt: $s, endsAt: $e }) { ${APPOINTMENT} } }`,
    variables: (id) => ({ id, s: inFortyDays(14), e: inFortyDays(15) }),
  },
  {
    name: 'cancelAppointment',
    answers: 'NOT_FOUND',
    kind: 'appointment',
    query: `mutation($id: ID!) { cancelAppointment(id: $id, reason: "Called off") { ${APPOINTMENT} } }`,
    variables: (id) => ({ id }),
  },
  {
    name: 'checkInAppointment',
    answers: 'NOT_FOUND',
    kind: 'appointment',
    query: `mutation($id: ID!) { checkInAppointment(id: $id) { ${APPOINTMENT} } }`,
    variables: (id) => ({ id }),
  },
  {
    name: 'sendMessage',
    answers: 'NOT_FOUND',
    kind: 'thread',
    query: 'mutation($id: ID!) { sendMessage(threadId: $id, body: "Anyone there?") { id body } }',
    variables: (id) => ({ id }),
  },
  {
    name: 'markThreadRead',
    answers: 'NOT_FOUND',
    kind: 'thread',
    query: 'mutation($id: ID!) { markThreadRead(threadId: $id) { id unreadCount } }',
    variables: (id) => ({ id }),
  },
  {
    name: "markThreadRead of one's own thread up to a message of theirs",
    answers: 'BAD_USER_INPUT',
    as: ['nurse', 'chen'],
    kind: 'message',
    query: 'mutation($t: ID!, $id: ID!) { markThreadRead(threadId: $t, messageId: $id) { id unreadCount } }',
    variables: (id) => ({ id, t: lakesideThread }),
  },
  {
    name: 'completeTask',
    answers: 'NOT_FOUND',
    kind: 'task',
    query: 'mutation($id: ID!) { completeTask(id: $id) { id status } }',
    variables: (id) => ({ id }),
  },
  {
    name: 'markNotificationRead',
    answers: 'NOT_FOUND',
    kind: 'notification',
    query: 'mutation($id: ID!) { markNotificationRead(id: $id) { id readAt } }',
    variables: (id) => ({ id }),
  },
  {
    name: 'createAppointment with their provider',
    answers: 'BAD_USER_INPUT',
    kind: 'provider',
    query: `mutation($i: CreateAppointmentInput!) { createAppointment(input: $i) { ${APPOINTMENT} } }`,
    variables: (id) => ({
      i: { providerId: id, patientId: lakeside.patients[0], startsAt: inFortyDays(15), endsAt: inFortyDays(16) },
    }),
  },
  {
    name: 'createAppointment with their patient',
    answers: 'BAD_USER_INPUT',
    kind: 'patient',
    query: `mutation($i: CreateAppointmentInput!) { createAppointment(input: $i) { ${APPOINTMENT} } }`,
    variables: (id) => ({
      i: { providerId: lakeside.users.chen, patientId: id, startsAt: inFortyDays(16), endsAt: inFortyDays(17) },
    }),
  },
  {
    name: 'createThread with their user as participant',
    answers: 'BAD_USER_INPUT',
    kind: 'user',
    query: 'mutation($i: CreateThreadInput!) { createThread(input: $i) { id participants { id } } }',
    variables: (id) => ({
      i: { subject: 'Hello neighbours', participantIds: [lakeside.users.okafor, id], body: 'Hi!' },
    }),
  },
  {
    name: 'createThread about their patient',
    answers: 'BAD_USER_INPUT',
    kind: 'patient',
    query: 'mutation($i: CreateThreadInput!) { createThread(input: $i) { id patient { id } } }',
    variables: (id) => ({ i: { subject: 'About a patient', participantIds: [lakeside.users.okafor], patientId: id } }),
  },
  {
    name: 'assignTask to their user',
    answers: 'BAD_USER_INPUT',
    kind: 'user',
    query: 'mutation($i: AssignTaskInput!) { assignTask(input: $i) { id assignee { id } } }',
    variables: (id) => ({ i: { title: 'Do this for us', assigneeId: id } }),
  },
  {
    name: 'assignTask about their patient',
    answers: 'BAD_USER_INPUT',
    kind: 'patient',
    query: 'mutation($i: AssignTaskInput!) { assignTask(input: $i) { id patient { id } } }',
    variables: (id) => ({ i: { title: 'Call them', assigneeId: lakeside.users.okafor, patientId: id } }),
  },
  {
    name: 'sendAlert to their user',
    answers: 'BAD_USER_INPUT',
    kind: 'user',
    query: 'mutation($i: SendAlertInput!) { sendAlert(input: $i) { id } }',
    variables: (id) => ({ i: { userId: id, kind: 'ALERT', title: 'Hello from the lake' } }),
  },
  {
    name: 'sendAlert about their patient',
    answers: 'BAD_USER_INPUT',
    kind: 'patient',
    query: 'mutation($i: SendAlertInput!) { sendAlert(input: $i) { id patient { id } } }',
    variables: (id) => ({ i: { userId: lakeside.users.okafor, kind: 'LAB_RESULT', title: 'Results', patientId: id } }),
  },
];

describe("another clinic's ids", () => {
  // The admin may do everything; the nurse takes part in Lakeside's thread and holds its task and notification.
  const cases = probes.flatMap((probe) =>
    (probe.as ?? ['admin', 'nurse']).map((as) => [probe.name, as, probe] as const),
  );

  it.each(cases)(
    '%s answers the %s of Lakeside exactly as for an id that exists nowhere, and changes nothing',
    async (_name, as, probe) => {
      const real = A[probe.kind];
      const nowhere = randomUUID();
      const before = await snapshotRows(server.db);

      const forReal = await server.gql(probe.query, probe.variables(real), token[as]);
      const forNowhere = await server.gql(probe.query, probe.variables(nowhere), token[as]);

      expect(answer(forReal, real)).toEqual(answer(forNowhere, nowhere));
      if (typeof probe.answers === 'string') {
        expect(errorCode(forReal)).toBe(probe.answers);
        expect(forReal.data).toBeNull();
      } else {
        expect(forReal.errors).toBeUndefined();
        expect(Object.values(forReal.data!)).toEqual([probe.answers]);
      }
      expect(uuidsIn(forReal).filter((id) => A.allIds.has(id) && id !== real)).toEqual([]);
      expect(await snapshotRows(server.db)).toEqual(before);
    },
  );

  it('leaves every Sunrise row as it was after all the probes', async () => {
    // Belt and braces over the per-probe snapshots: Sunrise's own view of its objects is unchanged.
    const lee = await server.login('sunrise-derm', 'lee');
    const res = await server.gql(
      'query($a: ID!) { appointment(id: $a) { status room reason cancellationReason checkedInAt } }',
      { a: A.appointment },
      lee,
    );
    expect(res.data!.appointment).toEqual({
      status: 'SCHEDULED',
      room: expect.any(String),
      reason: expect.any(String),
      cancellationReason: null,
      checkedInAt: null,
    });
    expect(await server.db('tasks').where({ id: A.task }).first('status')).toEqual({ status: 'OPEN' });
    expect(await server.db('notifications').where({ id: A.notification }).first('readAt')).toEqual({ readAt: null });
    expect(await server.db('messages').where({ tenantId: sunrise.tenantId })).toHaveLength(3);
  });
});

describe("the clinic's own lists", () => {
  const lists: [string, string, (as: LakesideStaff) => Record<string, unknown>][] = [
    [
      "today's schedule",
      `query($d: LocalDate!) { schedule(date: $d) { ${APPOINTMENT} } }`,
      () => ({ d: dayIn('America/Chicago') }),
    ],
    [
      "yesterday's schedule",
      `query($d: LocalDate!) { schedule(date: $d) { ${APPOINTMENT} } }`,
      () => ({ d: dayIn('America/Chicago', -1) }),
    ],
    [
      'appointments of the coming and past days',
      `query($f: DateTime!, $t: DateTime!) { appointments(from: $f, to: $t) { ${APPOINTMENT} } }`,
      () => ({
        f: new Date(Date.now() - 3 * 24 * 3600 * 1000).toISOString(),
        t: new Date(Date.now() + 3 * 24 * 3600 * 1000).toISOString(),
      }),
    ],
    ['patients', '{ patients(first: 100) { edges { cursor node { id mrn } } } }', () => ({})],
    ['staff', '{ staff { id name tenant { id } } }', () => ({})],
    ['providers', '{ staff(role: PROVIDER) { id name } }', () => ({})],
    [
      'threads',
      '{ threads { id participants { id } lastMessage { id sender { id } } readStates { user { id } lastReadMessage { id } } } }',
      () => ({}),
    ],
    ['notifications', '{ notifications { id task { id } thread { id } patient { id } } }', () => ({})],
    ['own tasks', '{ tasks { id assignee { id } createdBy { id } patient { id } } }', () => ({})],
    ['me', '{ me { id tenant { id } } }', () => ({})],
  ];
  const cases = lists.flatMap(([name, query, variables]) =>
    (['admin', 'chen', 'nurse'] as const).map((as) => [name, as, query, variables] as const),
  );

  it.each(cases)('%s of the %s contain no id of Sunrise', async (_name, as, query, variables) => {
    const res = await server.gql(query, variables(as), token[as]);
    expect(res.errors).toBeUndefined();
    const ids = uuidsIn(res.data);
    expect(ids.filter((id) => A.allIds.has(id))).toEqual([]);
    // The nurse has something in every list (a thread, a task, a notification), so the check is not vacuous.
    if (as === 'nurse') expect(ids.length).toBeGreaterThan(0);
  });

  it.each([
    ['a Sunrise patient’s last name', 'Bennett'],
    ['a Sunrise MRN prefix', 'SUN-'],
    ['a full Sunrise MRN', 'SUN-1001'],
  ])('finds no patient when searching for %s, exactly as for a name nobody has', async (_case, search) => {
    const query =
      'query($s: String) { patients(search: $s) { edges { node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }';
    const res = await server.gql(query, { s: search }, token.frontdesk);
    const none = await server.gql(query, { s: 'Zzyzx' }, token.frontdesk);
    expect(res.errors).toBeUndefined();
    expect(res.data).toEqual(none.data);
    expect(res.data!.patients.edges).toEqual([]);
  });
});
