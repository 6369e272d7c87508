import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { snapshotRows } from './helpers/dbSnapshot.js';
import { errorCode, type GraphQLResponse, type TestServer } from './helpers/testServer.js';
import { useTestServer } from './helpers/setup.js';
import { dayInZone, HOUR, MINUTE, wallClock, wallTimeOf } from './helpers/time.js';

/** Sunrise Dermatology counts its days in New York; Lakeside Skin Clinic in Chicago. */
const NEW_YORK = 'America/New_York';
const CHICAGO = 'America/Chicago';

const FIELDS = `id status startsAt endsAt room reason cancellationReason checkedInAt
  provider { id name } patient { id displayName }`;
const CREATE = `mutation($i: CreateAppointmentInput!) { createAppointment(input: $i) { ${FIELDS} } }`;
const UPDATE = `mutation($id: ID!, $i: UpdateAppointmentInput!) { updateAppointment(id: $id, input: $i) { ${FIELDS} } }`;
const CANCEL = `mutation($id: ID!, $r: String!) { cancelAppointment(id: $id, reason: $r) { ${FIELDS} } }`;
const CHECK_IN = `mutation($id: ID!) { checkInAppointment(id: $id) { ${FIELDS} } }`;
const RANGE = `query($from: DateTime!, $to: DateTime!, $p: ID) {
  appointments(from: $from, to: $to, providerId: $p) { id startsAt provider { id } }
}`;
const SCHEDULE = `query($d: LocalDate!, $p: ID) { schedule(date: $d, providerId: $p) { id startsAt endsAt status provider { id } } }`;

type Ids = Awaited<ReturnType<TestServer['ids']>>;
type Provider = 'lee' | 'patel';

const t = useTestServer();
let server: TestServer;
let sunrise: Ids;
let lakeside: Ids;
const token = {} as Record<'frontdesk' | 'admin' | 'nurse' | 'lee' | 'lakeside', string>;

beforeAll(async () => {
  ({ server, sunrise, lakeside } = t);
  for (const key of ['frontdesk', 'admin', 'nurse', 'lee'] as const)
    token[key] = await server.login('sunrise-derm', key);
  token.lakeside = await server.login('lakeside-skin', 'frontdesk');
});

/**
 * `HH:MM` New York time, `day` days from today. The demo schedule only fills yesterday and today, and every describe
 * below books on a day of its own, so the slots of one test never meet those of another.
 */
const DAYS = Array.from({ length: 14 }, (_, day) => dayInZone(NEW_YORK, day));
const at = (day: number, time: string) => wallClock(NEW_YORK, DAYS[day], time);
const plus = (instant: Date | string, ms: number) => new Date(new Date(instant).getTime() + ms).toISOString();

interface Slot {
  day: number;
  start: string;
  minutes?: number;
  provider?: Provider;
  patient?: number;
  room?: string | null;
  reason?: string | null;
}

function input({ day, start, minutes = 30, provider = 'lee', patient = 0, room, reason }: Slot) {
  const startsAt = at(day, start);
  return {
    providerId: sunrise.users[provider],
    patientId: sunrise.patients[patient],
    startsAt: startsAt.toISOString(),
    endsAt: plus(startsAt, minutes * MINUTE),
    ...(room !== undefined ? { room } : {}),
    ...(reason !== undefined ? { reason } : {}),
  };
}

async function book(slot: Slot, as = token.frontdesk) {
  const res = await server.gql(CREATE, { i: input(slot) }, as);
  expect(res.errors).toBeUndefined();
  return res.data!.createAppointment as {
    id: string;
    startsAt: string;
    endsAt: string;
    status: string;
    provider: { id: string };
  };
}

const appointmentRow = (id: string) => server.db('appointments').where({ id }).first();

async function countRows(table: string, where: Record<string, unknown> = {}): Promise<number> {
  const [{ n }] = await server.db(table).where(where).count({ n: '*' });
  return Number(n);
}

/**
 * Runs a request that must fail, and proves it wrote nothing: the number of appointments and events is unchanged,
 * and so is every row of every table (the touched appointment included).
 */
async function withoutWrites(run: () => Promise<GraphQLResponse>): Promise<GraphQLResponse> {
  const counts = async () => ({ appointments: await countRows('appointments'), events: await countRows('events') });
  const [countsBefore, before] = [await counts(), await snapshotRows(server.db)];
  const res = await run();
  expect(res.errors).toBeDefined();
  expect(await counts()).toEqual(countsBefore);
  expect(await snapshotRows(server.db)).toEqual(before);
  return res;
}

/** Runs a mutation that must succeed, and returns the single event it appended to its clinic's log. */
async function withOneEvent(tenantId: string, run: () => Promise<GraphQLResponse>) {
  const before = await countRows('events', { tenantId });
  const res = await run();
  expect(res.errors).toBeUndefined();
  const events = await server.db('events').where({ tenantId }).orderBy('seq');
  expect(events).toHaveLength(before + 1);
  return { res, event: events.at(-1)! };
}

function expectConflict(res: GraphQLResponse, reason: string) {
  expect(errorCode(res)).toBe('CONFLICT');
  expect(res.errors![0].extensions!.reason).toBe(reason);
  expect(res.data).toBeNull();
}

function expectBadInput(res: GraphQLResponse, field: string) {
  expect(errorCode(res)).toBe('BAD_USER_INPUT');
  expect(res.errors![0].extensions!.field).toBe(field);
}

describe('createAppointment', () => {
  const DAY = 3;

  it('books a scheduled appointment and records one CREATED event in the same clinic log', async () => {
    const i = input({ day: DAY, start: '08:00', provider: 'lee', patient: 2, room: ' Room 3 ', reason: 'Mole check' });
    const { res, event } = await withOneEvent(sunrise.tenantId, () => server.gql(CREATE, { i }, token.frontdesk));
    const appointment = res.data!.createAppointment;
    expect(appointment).toMatchObject({
      status: 'SCHEDULED',
      startsAt: i.startsAt,
      endsAt: i.endsAt,
      room: 'Room 3',
      reason: 'Mole check',
      cancellationReason: null,
      checkedInAt: null,
      provider: { id: sunrise.users.lee, name: 'Dr. Maya Lee' },
      patient: { id: sunrise.patients[2] },
    });
    expect(event).toMatchObject({
      tenantId: sunrise.tenantId,
      topic: 'appointment',
      kind: 'CREATED',
      entityId: appointment.id,
      providerId: sunrise.users.lee,
    });
    const read = await server.gql(
      'query($id: ID!) { appointment(id: $id) { id status } }',
      { id: appointment.id },
      token.nurse,
    );
    expect(read.data!.appointment).toEqual({ id: appointment.id, status: 'SCHEDULED' });
  });

  it('lets a provider book into the schedule', async () => {
    const appointment = await book({ day: DAY, start: '08:00', provider: 'patel', patient: 3 }, token.lee);
    expect(appointment.provider.id).toBe(sunrise.users.patel);
  });

  it('lets back-to-back appointments of one provider share their boundary', async () => {
    const first = await book({ day: DAY, start: '09:00', minutes: 30 });
    const second = await book({ day: DAY, start: '09:30', minutes: 30, patient: 1 });
    expect(second.startsAt).toBe(first.endsAt);
  });

  it('accepts an appointment exactly 12 hours long', async () => {
    const appointment = await book({ day: 12, start: '06:00', minutes: 12 * 60, provider: 'patel' });
    expect(Date.parse(appointment.endsAt) - Date.parse(appointment.startsAt)).toBe(12 * HOUR);
  });

  it.each([
    ['an end equal to the start', () => ({ endsAt: at(DAY, '10:00').toISOString() }), 'endsAt'],
    ['an end before the start', () => ({ endsAt: at(DAY, '09:59').toISOString() }), 'endsAt'],
    ['a visit longer than 12 hours', () => ({ endsAt: plus(at(DAY, '10:00'), 12 * HOUR + MINUTE) }), 'endsAt'],
    ['an unknown provider id', () => ({ providerId: randomUUID() }), 'providerId'],
    ['a provider id that is not a UUID', () => ({ providerId: 'lee' }), 'providerId'],
    ['the id of a staff member who is not a provider', () => ({ providerId: sunrise.users.nurse }), 'providerId'],
    ["another clinic's provider", () => ({ providerId: lakeside.users.chen }), 'providerId'],
    ['an unknown patient id', () => ({ patientId: randomUUID() }), 'patientId'],
    ['a patient id that is not a UUID', () => ({ patientId: '42' }), 'patientId'],
    ["another clinic's patient", () => ({ patientId: lakeside.patients[0] }), 'patientId'],
    ['a room name longer than 40 characters', () => ({ room: 'R'.repeat(41) }), 'room'],
    ['a reason longer than 500 characters', () => ({ reason: 'x'.repeat(501) }), 'reason'],
  ])('refuses %s with BAD_USER_INPUT and writes nothing', async (_case, change, field) => {
    const i = { ...input({ day: DAY, start: '10:00' }), ...change() };
    const res = await withoutWrites(() => server.gql(CREATE, { i }, token.frontdesk));
    expectBadInput(res, field);
  });

  it('accepts a room name of exactly 40 characters', async () => {
    const res = await server.gql(
      CREATE,
      { i: input({ day: DAY, start: '10:00', room: 'R'.repeat(40) }) },
      token.frontdesk,
    );
    expect(res.data!.createAppointment.room).toBe('R'.repeat(40));
  });

  it('asks for a token before booking anything', async () => {
    const res = await withoutWrites(() => server.gql(CREATE, { i: input({ day: DAY, start: '11:00' }) }));
    expect(errorCode(res)).toBe('UNAUTHENTICATED');
  });

  describe('double booking', () => {
    beforeAll(async () => {
      await book({ day: DAY, start: '13:00', minutes: 60, provider: 'lee', patient: 4 });
    });

    it.each([
      ['the very same slot', '13:00', 60],
      ['a slot starting inside it', '13:30', 60],
      ['a slot ending inside it', '12:30', 45],
      ['a slot enclosing it', '12:45', 90],
      ['a slot inside it', '13:15', 15],
    ])('answers CONFLICT PROVIDER_DOUBLE_BOOKED for %s and writes nothing', async (_case, start, minutes) => {
      const res = await withoutWrites(() =>
        server.gql(CREATE, { i: input({ day: DAY, start, minutes, patient: 5 }) }, token.frontdesk),
      );
      expectConflict(res, 'PROVIDER_DOUBLE_BOOKED');
      expect(res.errors![0].message).toContain('Dr. Maya Lee');
    });

    it("says when the provider is booked in the clinic's own time, and gives the instants to clients", async () => {
      const res = await server.gql(CREATE, { i: input({ day: DAY, start: '13:30', patient: 5 }) }, token.frontdesk);
      expectConflict(res, 'PROVIDER_DOUBLE_BOOKED');
      // 1:00 to 2:00 PM in New York, whatever the server's zone or the hour in UTC.
      const weekday = new Intl.DateTimeFormat('en-US', {
        timeZone: 'UTC',
        weekday: 'short',
        month: 'short',
        day: 'numeric',
      });
      const day = weekday.format(new Date(`${DAYS[DAY]}T12:00:00Z`));
      expect(res.errors![0].message).toBe(`Dr. Maya Lee is already booked ${day}, 1:00 – 2:00 PM`);
      expect(res.errors![0].extensions).toMatchObject({
        startsAt: at(DAY, '13:00').toISOString(),
        endsAt: at(DAY, '14:00').toISOString(),
      });
    });

    it('lets another provider see a patient in the same slot', async () => {
      await book({ day: DAY, start: '13:00', minutes: 60, provider: 'patel', patient: 5 });
    });

    it("frees a cancelled appointment's slot for a new booking", async () => {
      const first = await book({ day: DAY, start: '15:00', provider: 'lee', patient: 6 });
      expectConflict(
        await server.gql(CREATE, { i: input({ day: DAY, start: '15:00', patient: 7 }) }, token.frontdesk),
        'PROVIDER_DOUBLE_BOOKED',
      );
      const cancelled = await server.gql(CANCEL, { id: first.id, r: 'Patient called to cancel' }, token.frontdesk);
      expect(cancelled.data!.cancelAppointment.status).toBe('CANCELLED');
      const second = await book({ day: DAY, start: '15:00', patient: 7 });
      expect(second.status).toBe('SCHEDULED');
    });

    it("frees a no-show's slot for a new booking", async () => {
      const first = await book({ day: DAY, start: '16:00', provider: 'lee', patient: 8 });
      const noShow = await server.gql(UPDATE, { id: first.id, i: { status: 'NO_SHOW' } }, token.frontdesk);
      expect(noShow.data!.updateAppointment.status).toBe('NO_SHOW');
      await book({ day: DAY, start: '16:00', patient: 9 });
    });
  });
});

describe('concurrent booking', () => {
  const DAY = 4;
  const ATTEMPTS = 6;

  it.each([
    ['the very same slot', (n: number) => ({ start: '10:00', patient: n })],
    [
      'slots that all overlap one another',
      (n: number) => ({ start: `11:${String(n * 5).padStart(2, '0')}`, patient: n }),
    ],
  ])('lets exactly one of 6 simultaneous bookings for %s succeed; the rest get CONFLICT', async (_case, slot) => {
    const eventsBefore = await countRows('events', { tenantId: sunrise.tenantId });
    const inputs = Array.from({ length: ATTEMPTS }, (_, n) => input({ day: DAY, provider: 'patel', ...slot(n) }));
    const results = await Promise.all(inputs.map((i) => server.gql(CREATE, { i }, token.frontdesk)));

    const winners = results.filter((r) => r.data?.createAppointment);
    const losers = results.filter((r) => !r.data?.createAppointment);
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(ATTEMPTS - 1);
    for (const res of losers) expectConflict(res, 'PROVIDER_DOUBLE_BOOKED');

    const from = inputs[0].startsAt;
    const to = plus(inputs.at(-1)!.endsAt, MINUTE);
    const stored = await server
      .db('appointments')
      .where({ providerId: sunrise.users.patel })
      .andWhere('startsAt', '>=', from)
      .andWhere('startsAt', '<', to);
    expect(stored.map((a: { id: string }) => a.id)).toEqual([winners[0].data!.createAppointment.id]);
    const events = await server.db('events').where({ tenantId: sunrise.tenantId }).andWhere('seq', '>', eventsBefore);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: 'CREATED', entityId: winners[0].data!.createAppointment.id });
  });
});

describe('appointments(from, to, providerId)', () => {
  const DAY = 5;
  let lee9: string;
  let patel930: string;
  let lee10: string;

  beforeAll(async () => {
    lee9 = (await book({ day: DAY, start: '09:00', provider: 'lee' })).id;
    lee10 = (await book({ day: DAY, start: '10:00', provider: 'lee', patient: 1 })).id;
    patel930 = (await book({ day: DAY, start: '09:30', provider: 'patel', patient: 2 })).id;
    // Lakeside books at the very same instant; Sunrise must never see it.
    const sameInstant = at(DAY, '09:00');
    const res = await server.gql(
      CREATE,
      {
        i: {
          providerId: lakeside.users.chen,
          patientId: lakeside.patients[0],
          startsAt: sameInstant.toISOString(),
          endsAt: plus(sameInstant, 30 * MINUTE),
        },
      },
      token.lakeside,
    );
    expect(res.errors).toBeUndefined();
  });

  const range = (from: Date | string, to: Date | string, p?: string) =>
    server.gql(RANGE, { from: new Date(from).toISOString(), to: new Date(to).toISOString(), p }, token.frontdesk);

  it("returns the clinic's appointments starting from `from` (inclusive) to `to` (exclusive), earliest first", async () => {
    const res = await range(at(DAY, '09:00'), at(DAY, '10:00'));
    expect(res.errors).toBeUndefined();
    expect(res.data!.appointments.map((a: { id: string }) => a.id)).toEqual([lee9, patel930]);
  });

  it('narrows to one provider', async () => {
    const res = await range(at(DAY, '00:00'), at(DAY + 1, '00:00'), sunrise.users.lee);
    expect(res.data!.appointments.map((a: { id: string }) => a.id)).toEqual([lee9, lee10]);
    expect(res.data!.appointments.every((a: { provider: { id: string } }) => a.provider.id === sunrise.users.lee)).toBe(
      true,
    );
  });

  it('leaves out an appointment that started before `from`, even if it is still running', async () => {
    const res = await range(at(DAY, '09:15'), at(DAY, '12:00'));
    expect(res.data!.appointments.map((a: { id: string }) => a.id)).toEqual([patel930, lee10]);
  });

  it('accepts a range of exactly 31 days', async () => {
    const res = await range(at(DAY, '00:00'), plus(at(DAY, '00:00'), 31 * 24 * HOUR));
    expect(res.errors).toBeUndefined();
    expect(res.data!.appointments.map((a: { id: string }) => a.id)).toEqual(
      expect.arrayContaining([lee9, patel930, lee10]),
    );
  });

  it.each([
    ['`to` equal to `from`', () => [at(DAY, '09:00'), at(DAY, '09:00')]],
    ['`to` before `from`', () => [at(DAY, '10:00'), at(DAY, '09:00')]],
    ['a range longer than 31 days', () => [at(DAY, '00:00'), plus(at(DAY, '00:00'), 31 * 24 * HOUR + 1000)]],
  ])('refuses %s with BAD_USER_INPUT', async (_case, bounds) => {
    const [from, to] = bounds();
    expectBadInput(await range(from, to), 'to');
  });

  it('returns nothing for a provider id that is not a UUID', async () => {
    const res = await range(at(DAY, '00:00'), at(DAY + 1, '00:00'), 'not-a-uuid');
    expect(res.data!.appointments).toEqual([]);
  });
});

describe('schedule(date)', () => {
  it("holds today's demo schedule counted in New York: 8 visits per provider from 9:00, 45 minutes apart, 30 minutes long", async () => {
    const today = dayInZone(NEW_YORK);
    const res = await server.gql(SCHEDULE, { d: today, p: sunrise.users.lee }, token.frontdesk);
    expect(res.errors).toBeUndefined();
    const visits = res.data!.schedule as { startsAt: string; endsAt: string; provider: { id: string } }[];
    expect(visits.map((v) => wallTimeOf(NEW_YORK, v.startsAt))).toEqual(
      ['09:00', '09:45', '10:30', '11:15', '12:00', '12:45', '13:30', '14:15'].map((time) => ({ date: today, time })),
    );
    for (const v of visits) expect(Date.parse(v.endsAt) - Date.parse(v.startsAt)).toBe(30 * MINUTE);

    const all = await server.gql(SCHEDULE, { d: today }, token.frontdesk);
    expect(all.data!.schedule).toHaveLength(16);
    const starts = all.data!.schedule.map((v: { startsAt: string }) => Date.parse(v.startsAt));
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
  });

  it("opens on the clinic's today when no date is given, and tells which day that is", async () => {
    const TODAY = '{ me { tenant { today } } schedule { id } }';
    for (const [who, zone] of [
      [token.frontdesk, NEW_YORK],
      [token.lakeside, CHICAGO],
    ] as const) {
      const res = await server.gql(TODAY, {}, who);
      expect(res.data!.me.tenant.today).toBe(dayInZone(zone));
      const explicit = await server.gql(SCHEDULE, { d: dayInZone(zone) }, who);
      expect(res.data!.schedule.map((a: { id: string }) => a.id)).toEqual(
        explicit.data!.schedule.map((a: { id: string }) => a.id),
      );
      expect(res.data!.schedule).toHaveLength(16);
    }
  });

  it("counts another clinic's day in that clinic's own time zone (Chicago)", async () => {
    const today = dayInZone(CHICAGO);
    const res = await server.gql(SCHEDULE, { d: today }, token.lakeside);
    expect(res.data!.schedule).toHaveLength(16);
    expect(wallTimeOf(CHICAGO, res.data!.schedule[0].startsAt)).toEqual({ date: today, time: '09:00' });
  });

  it('puts a late-evening visit on its New York day, though in UTC it falls on the next one', async () => {
    const DAY = 6;
    const late = await book({ day: DAY, start: '23:30', provider: 'patel' });
    const early = await book({ day: DAY + 1, start: '00:15', provider: 'patel' });
    expect(new Date(late.startsAt).toISOString().slice(0, 10)).toBe(DAYS[DAY + 1]);

    const day = await server.gql(SCHEDULE, { d: DAYS[DAY], p: sunrise.users.patel }, token.frontdesk);
    const next = await server.gql(SCHEDULE, { d: DAYS[DAY + 1], p: sunrise.users.patel }, token.frontdesk);
    expect(day.data!.schedule.map((a: { id: string }) => a.id)).toContain(late.id);
    expect(day.data!.schedule.map((a: { id: string }) => a.id)).not.toContain(early.id);
    expect(next.data!.schedule.map((a: { id: string }) => a.id)).toContain(early.id);
    expect(next.data!.schedule.map((a: { id: string }) => a.id)).not.toContain(late.id);
  });

  it('counts a 23-hour daylight-saving day by its wall clock (New York, 11 March 2035)', async () => {
    // Clocks jump from 02:00 EST to 03:00 EDT; the day runs from 05:00Z to 04:00Z the next day.
    const slots = [
      '2035-03-11T00:30:00-05:00',
      '2035-03-11T23:30:00-04:00',
      '2035-03-12T00:15:00-04:00',
      '2035-03-10T23:45:00-05:00',
    ];
    const booked: string[] = [];
    for (const startsAt of slots) {
      const res = await server.gql(
        CREATE,
        {
          i: {
            providerId: sunrise.users.lee,
            patientId: sunrise.patients[0],
            startsAt,
            endsAt: plus(startsAt, 10 * MINUTE),
          },
        },
        token.frontdesk,
      );
      expect(res.errors).toBeUndefined();
      booked.push(res.data!.createAppointment.id);
    }
    const res = await server.gql(SCHEDULE, { d: '2035-03-11', p: sunrise.users.lee }, token.frontdesk);
    expect(res.data!.schedule.map((a: { id: string }) => a.id).filter((id: string) => booked.includes(id))).toEqual(
      booked.slice(0, 2),
    );
  });

  it('returns nothing for a provider id that is not a UUID, and refuses a date that does not exist', async () => {
    const res = await server.gql(SCHEDULE, { d: dayInZone(NEW_YORK), p: 'lee' }, token.frontdesk);
    expect(res.data!.schedule).toEqual([]);
    const bad = await server.gql(SCHEDULE, { d: '2035-02-30' }, token.frontdesk);
    expect(errorCode(bad)).toBe('BAD_USER_INPUT');
  });
});

describe('updateAppointment', () => {
  const DAY = 8;

  it('reschedules to a free slot and records one UPDATED event', async () => {
    const appointment = await book({ day: DAY, start: '08:00' });
    const i = { startsAt: at(DAY, '17:00').toISOString(), endsAt: at(DAY, '17:45').toISOString() };
    const { res, event } = await withOneEvent(sunrise.tenantId, () =>
      server.gql(UPDATE, { id: appointment.id, i }, token.frontdesk),
    );
    expect(res.data!.updateAppointment).toMatchObject({ id: appointment.id, status: 'SCHEDULED', ...i });
    expect(event).toMatchObject({
      topic: 'appointment',
      kind: 'UPDATED',
      entityId: appointment.id,
      providerId: sunrise.users.lee,
    });
  });

  it('moves a visit to another provider and notes who had it before', async () => {
    const appointment = await book({ day: DAY, start: '08:00', provider: 'patel' });
    const { res, event } = await withOneEvent(sunrise.tenantId, () =>
      server.gql(
        UPDATE,
        {
          id: appointment.id,
          i: {
            providerId: sunrise.users.lee,
            startsAt: at(DAY, '18:00').toISOString(),
            endsAt: at(DAY, '18:30').toISOString(),
          },
        },
        token.frontdesk,
      ),
    );
    expect(res.data!.updateAppointment.provider.id).toBe(sunrise.users.lee);
    expect(event).toMatchObject({
      kind: 'UPDATED',
      providerId: sunrise.users.lee,
      data: { previousProviderId: sunrise.users.patel },
    });
  });

  it('lets a visit shift within its own time without colliding with itself', async () => {
    const appointment = await book({ day: DAY, start: '09:00', minutes: 60 });
    const res = await server.gql(
      UPDATE,
      { id: appointment.id, i: { startsAt: at(DAY, '09:15').toISOString(), endsAt: at(DAY, '10:15').toISOString() } },
      token.frontdesk,
    );
    expect(res.errors).toBeUndefined();
    expect(res.data!.updateAppointment.startsAt).toBe(at(DAY, '09:15').toISOString());
  });

  it('changes the room, and clears it with an empty string', async () => {
    const appointment = await book({ day: DAY, start: '11:00', room: 'Room 1' });
    const moved = await server.gql(UPDATE, { id: appointment.id, i: { room: 'Room 2' } }, token.nurse);
    expect(moved.data!.updateAppointment.room).toBe('Room 2');
    const cleared = await server.gql(UPDATE, { id: appointment.id, i: { room: '' } }, token.nurse);
    expect(cleared.data!.updateAppointment.room).toBeNull();
  });

  it('changes the reason and the patient (a booking made for the wrong person), keeping the slot', async () => {
    const appointment = await book({ day: DAY, start: '12:00', patient: 6, reason: 'Mole check' });
    const { res, event } = await withOneEvent(sunrise.tenantId, () =>
      server.gql(
        UPDATE,
        { id: appointment.id, i: { patientId: sunrise.patients[7], reason: 'Rash follow-up' } },
        token.frontdesk,
      ),
    );
    expect(res.data!.updateAppointment).toMatchObject({
      patient: { id: sunrise.patients[7] },
      reason: 'Rash follow-up',
      startsAt: appointment.startsAt,
    });
    expect(event).toMatchObject({ kind: 'UPDATED', entityId: appointment.id });
    expect(await appointmentRow(appointment.id)).toMatchObject({ patientId: sunrise.patients[7] });
  });

  it('walks a visit through its day: checked in, in progress, completed; and marks another a no-show', async () => {
    const visit = await book({ day: DAY, start: '07:00', patient: 8 });
    await server.gql(CHECK_IN, { id: visit.id }, token.frontdesk);
    for (const status of ['IN_PROGRESS', 'COMPLETED']) {
      const res = await server.gql(UPDATE, { id: visit.id, i: { status } }, token.lee);
      expect(res.errors).toBeUndefined();
      expect(res.data!.updateAppointment.status).toBe(status);
    }
    const missed = await book({ day: DAY, start: '06:00', patient: 9 });
    const res = await server.gql(UPDATE, { id: missed.id, i: { status: 'NO_SHOW' } }, token.frontdesk);
    expect(res.data!.updateAppointment.status).toBe('NO_SHOW');
  });

  describe('into an occupied slot', () => {
    let occupied: string;
    let mover: string;
    beforeAll(async () => {
      occupied = (await book({ day: DAY, start: '13:00', minutes: 60, provider: 'lee', patient: 1 })).id;
      mover = (await book({ day: DAY, start: '13:00', minutes: 60, provider: 'patel', patient: 2 })).id;
    });

    it('answers CONFLICT PROVIDER_DOUBLE_BOOKED to a move onto a busy provider, and changes nothing', async () => {
      const res = await withoutWrites(() =>
        server.gql(UPDATE, { id: mover, i: { providerId: sunrise.users.lee } }, token.frontdesk),
      );
      expectConflict(res, 'PROVIDER_DOUBLE_BOOKED');
    });

    it('answers CONFLICT PROVIDER_DOUBLE_BOOKED to a reschedule overlapping another visit, and changes nothing', async () => {
      const other = (await book({ day: DAY, start: '14:30', provider: 'lee', patient: 3 })).id;
      const i = { startsAt: at(DAY, '13:45').toISOString(), endsAt: at(DAY, '14:15').toISOString() };
      const res = await withoutWrites(() => server.gql(UPDATE, { id: other, i }, token.frontdesk));
      expectConflict(res, 'PROVIDER_DOUBLE_BOOKED');
    });

    it('lets a visit move into a slot once the visit there is cancelled', async () => {
      await server.gql(CANCEL, { id: occupied, r: 'Rescheduled by phone' }, token.frontdesk);
      const res = await server.gql(UPDATE, { id: mover, i: { providerId: sunrise.users.lee } }, token.frontdesk);
      expect(res.errors).toBeUndefined();
      expect(res.data!.updateAppointment.provider.id).toBe(sunrise.users.lee);
    });

    it('answers CONFLICT when a no-show is put back on the schedule after its slot was taken', async () => {
      const noShow = (await book({ day: DAY, start: '16:00', provider: 'patel', patient: 4 })).id;
      await server.gql(UPDATE, { id: noShow, i: { status: 'NO_SHOW' } }, token.frontdesk);
      await book({ day: DAY, start: '16:00', provider: 'patel', patient: 5 });
      const res = await withoutWrites(() =>
        server.gql(UPDATE, { id: noShow, i: { status: 'SCHEDULED' } }, token.frontdesk),
      );
      expectConflict(res, 'PROVIDER_DOUBLE_BOOKED');
    });
  });

  describe('refuses bad changes with BAD_USER_INPUT and changes nothing', () => {
    let id: string;
    beforeAll(async () => {
      id = (await book({ day: DAY, start: '20:00', provider: 'patel' })).id;
    });

    it.each([
      [
        'an end before the start',
        () => ({ startsAt: at(DAY, '20:00').toISOString(), endsAt: at(DAY, '19:00').toISOString() }),
        'endsAt',
      ],
      ['a new start after the current end', () => ({ startsAt: at(DAY, '20:45').toISOString() }), 'endsAt'],
      ['a visit longer than 12 hours', () => ({ endsAt: plus(at(DAY, '20:00'), 12 * HOUR + MINUTE) }), 'endsAt'],
      ['a staff member who is not a provider', () => ({ providerId: sunrise.users.nurse }), 'providerId'],
      ['an unknown provider', () => ({ providerId: randomUUID() }), 'providerId'],
      ['a room name longer than 40 characters', () => ({ room: 'R'.repeat(41) }), 'room'],
      ['status CANCELLED (cancelAppointment takes a reason)', () => ({ status: 'CANCELLED' }), 'status'],
      ['status CHECKED_IN (checkInAppointment does that)', () => ({ status: 'CHECKED_IN' }), 'status'],
      ['an unknown patient', () => ({ patientId: randomUUID() }), 'patientId'],
      ['a patient id that is not a UUID', () => ({ patientId: 'nobody' }), 'patientId'],
      ["another clinic's patient", () => ({ patientId: lakeside.patients[0] }), 'patientId'],
      ['a null patient', () => ({ patientId: null }), 'patientId'],
    ])('%s', async (_case, change, field) => {
      const res = await withoutWrites(() => server.gql(UPDATE, { id, i: change() }, token.frontdesk));
      expectBadInput(res, field);
    });
  });

  it("answers NOT_FOUND for an unknown appointment or another clinic's", async () => {
    const theirs = await server.db('appointments').where({ tenantId: lakeside.tenantId }).first('id');
    for (const id of [randomUUID(), 'not-a-uuid', theirs.id]) {
      const res = await withoutWrites(() => server.gql(UPDATE, { id, i: { room: 'Room 9' } }, token.frontdesk));
      expect(errorCode(res)).toBe('NOT_FOUND');
    }
  });
});

describe('cancelAppointment', () => {
  const DAY = 9;

  it('cancels with a reason and records one CANCELLED event', async () => {
    const appointment = await book({ day: DAY, start: '09:00' });
    const { res, event } = await withOneEvent(sunrise.tenantId, () =>
      server.gql(CANCEL, { id: appointment.id, r: '  Patient has the flu  ' }, token.frontdesk),
    );
    expect(res.data!.cancelAppointment).toMatchObject({
      status: 'CANCELLED',
      cancellationReason: 'Patient has the flu',
    });
    expect(event).toMatchObject({ topic: 'appointment', kind: 'CANCELLED', entityId: appointment.id });
  });

  it.each([
    ['an empty reason', '', '10:00'],
    ['a reason of only spaces', '   ', '10:30'],
    ['a reason longer than 500 characters', 'x'.repeat(501), '11:00'],
  ])('refuses %s with BAD_USER_INPUT and changes nothing', async (_case, reason, start) => {
    const appointment = await book({ day: DAY, start, patient: 1, provider: 'patel' });
    const res = await withoutWrites(() => server.gql(CANCEL, { id: appointment.id, r: reason }, token.frontdesk));
    expectBadInput(res, 'reason');
  });

  describe('a cancelled appointment', () => {
    let id: string;
    beforeAll(async () => {
      id = (await book({ day: DAY, start: '11:00', patient: 2 })).id;
      const res = await server.gql(CANCEL, { id, r: 'Clinic closed' }, token.frontdesk);
      expect(res.data!.cancelAppointment.status).toBe('CANCELLED');
    });

    it('cannot be cancelled twice (CONFLICT)', async () => {
      expectConflict(
        await withoutWrites(() => server.gql(CANCEL, { id, r: 'Again' }, token.frontdesk)),
        'APPOINTMENT_CANCELLED',
      );
    });

    it.each([
      ['rescheduled', { startsAt: at(DAY, '12:00').toISOString(), endsAt: at(DAY, '12:30').toISOString() }],
      ['given a room', { room: 'Room 4' }],
      ['put back on the schedule', { status: 'SCHEDULED' }],
    ])('cannot be %s (CONFLICT)', async (_case, i) => {
      expectConflict(
        await withoutWrites(() => server.gql(UPDATE, { id, i }, token.frontdesk)),
        'APPOINTMENT_CANCELLED',
      );
    });

    it('cannot be checked in (CONFLICT)', async () => {
      expectConflict(await withoutWrites(() => server.gql(CHECK_IN, { id }, token.frontdesk)), 'APPOINTMENT_CANCELLED');
    });
  });

  it('refuses to cancel a completed visit (CONFLICT)', async () => {
    const appointment = await book({ day: DAY, start: '14:00', patient: 3 });
    await server.gql(UPDATE, { id: appointment.id, i: { status: 'COMPLETED' } }, token.frontdesk);
    const res = await withoutWrites(() => server.gql(CANCEL, { id: appointment.id, r: 'Too late' }, token.frontdesk));
    expectConflict(res, 'APPOINTMENT_COMPLETED');
  });
});

describe('checkInAppointment', () => {
  const DAY = 10;

  it('checks a scheduled patient in, stamps the time and records one CHECKED_IN event', async () => {
    const appointment = await book({ day: DAY, start: '09:00' });
    const before = Date.now();
    const { res, event } = await withOneEvent(sunrise.tenantId, () =>
      server.gql(CHECK_IN, { id: appointment.id }, token.frontdesk),
    );
    const checkedIn = res.data!.checkInAppointment;
    expect(checkedIn.status).toBe('CHECKED_IN');
    // Clock of the database, not of this process: allow a little skew.
    expect(Date.parse(checkedIn.checkedInAt)).toBeGreaterThan(before - 60_000);
    expect(event).toMatchObject({ topic: 'appointment', kind: 'CHECKED_IN', entityId: appointment.id });
  });

  it.each([['nurse'], ['admin']] as const)('lets the %s check a patient in', async (role) => {
    const appointment = await book({ day: DAY, start: role === 'nurse' ? '10:00' : '11:00', patient: 1 });
    const res = await server.gql(CHECK_IN, { id: appointment.id }, token[role]);
    expect(res.data!.checkInAppointment.status).toBe('CHECKED_IN');
  });

  it('answers FORBIDDEN to a provider and changes nothing', async () => {
    const appointment = await book({ day: DAY, start: '12:00', patient: 2 });
    const res = await withoutWrites(() => server.gql(CHECK_IN, { id: appointment.id }, token.lee));
    expect(errorCode(res)).toBe('FORBIDDEN');
  });

  it.each([['CHECKED_IN'], ['IN_PROGRESS'], ['COMPLETED'], ['NO_SHOW']])(
    'checks in only from SCHEDULED: an appointment that is %s gets CONFLICT',
    async (status) => {
      const start = { CHECKED_IN: '13:00', IN_PROGRESS: '14:00', COMPLETED: '15:00', NO_SHOW: '16:00' }[status]!;
      const appointment = await book({ day: DAY, start, patient: 3 });
      if (status === 'CHECKED_IN') await server.gql(CHECK_IN, { id: appointment.id }, token.frontdesk);
      else await server.gql(UPDATE, { id: appointment.id, i: { status } }, token.frontdesk);
      const res = await withoutWrites(() => server.gql(CHECK_IN, { id: appointment.id }, token.frontdesk));
      expectConflict(res, 'NOT_SCHEDULED');
    },
  );

  it('answers NOT_FOUND for an unknown appointment', async () => {
    expect(errorCode(await withoutWrites(() => server.gql(CHECK_IN, { id: randomUUID() }, token.frontdesk)))).toBe(
      'NOT_FOUND',
    );
  });
});

describe('event log', () => {
  const DAY = 11;

  it('writes one event per change, in order, for the whole life of an appointment', async () => {
    const seqBefore = await countRows('events', { tenantId: sunrise.tenantId });
    const appointment = await book({ day: DAY, start: '09:00' });
    await server.gql(UPDATE, { id: appointment.id, i: { room: 'Room 5' } }, token.frontdesk);
    await server.gql(CHECK_IN, { id: appointment.id }, token.frontdesk);
    const second = await book({ day: DAY, start: '10:00' });
    await server.gql(CANCEL, { id: second.id, r: 'Double entry' }, token.frontdesk);

    const events = await server
      .db('events')
      .where({ tenantId: sunrise.tenantId })
      .andWhere('seq', '>', seqBefore)
      .orderBy('seq');
    expect(
      events.map((e: { seq: number; kind: string; entityId: string }) => [Number(e.seq), e.kind, e.entityId]),
    ).toEqual([
      [seqBefore + 1, 'CREATED', appointment.id],
      [seqBefore + 2, 'UPDATED', appointment.id],
      [seqBefore + 3, 'CHECKED_IN', appointment.id],
      [seqBefore + 4, 'CREATED', second.id],
      [seqBefore + 5, 'CANCELLED', second.id],
    ]);
    expect(new Set(events.map((e: { topic: string }) => e.topic))).toEqual(new Set(['appointment']));
  });

  it('rolls the change back when its event cannot be written (transactional outbox)', async () => {
    const appointment = await book({ day: DAY, start: '11:00' });
    // Make the database itself refuse this appointment's next event, after the change has been made in the transaction.
    await server.db.raw(
      `alter table events add constraint test_refuse_event check (entity_id <> '${appointment.id}') not valid`,
    );
    try {
      const res = await withoutWrites(() => server.gql(CANCEL, { id: appointment.id, r: 'Storm' }, token.frontdesk));
      expect(errorCode(res)).toBe('INTERNAL_SERVER_ERROR');
      expect((await appointmentRow(appointment.id)).status).toBe('SCHEDULED');
    } finally {
      await server.db.raw('alter table events drop constraint test_refuse_event');
    }
    const res = await server.gql(CANCEL, { id: appointment.id, r: 'Storm' }, token.frontdesk);
    expect(res.data!.cancelAppointment.status).toBe('CANCELLED');
  });

  it('numbers events 1..n within each clinic, with no gap or duplicate, even under concurrent changes', async () => {
    const existing = await book({ day: DAY, start: '14:00', provider: 'patel' });
    const lakesideInput = (n: number) => {
      const startsAt = wallClock(CHICAGO, dayInZone(CHICAGO, DAY), `${String(8 + n).padStart(2, '0')}:00`);
      return {
        providerId: lakeside.users[n % 2 ? 'chen' : 'okafor'],
        patientId: lakeside.patients[n % 8],
        startsAt: startsAt.toISOString(),
        endsAt: plus(startsAt, 30 * MINUTE),
      };
    };
    const requests: Promise<GraphQLResponse>[] = [
      // Sunrise: distinct slots, a collision pair, and changes to one appointment.
      ...Array.from({ length: 8 }, (_, n) =>
        server.gql(
          CREATE,
          {
            i: input({
              day: DAY,
              start: `${String(12 + (n % 4)).padStart(2, '0')}:${n < 4 ? '00' : '30'}`,
              provider: 'lee',
              patient: n,
            }),
          },
          token.frontdesk,
        ),
      ),
      server.gql(CREATE, { i: input({ day: DAY, start: '17:00', provider: 'patel' }) }, token.frontdesk),
      server.gql(CREATE, { i: input({ day: DAY, start: '17:00', provider: 'patel', patient: 1 }) }, token.nurse),
      server.gql(UPDATE, { id: existing.id, i: { room: 'Room 7' } }, token.nurse),
      server.gql(CHECK_IN, { id: existing.id }, token.frontdesk),
      // Lakeside at the same moment.
      ...Array.from({ length: 6 }, (_, n) => server.gql(CREATE, { i: lakesideInput(n) }, token.lakeside)),
    ];
    const results = await Promise.all(requests);
    const succeeded = results.filter((r) => !r.errors).length;
    // 8 distinct slots + one of the colliding pair + the room change + the check-in, and 6 at Lakeside.
    expect(succeeded).toBe(8 + 1 + 2 + 6);

    for (const clinic of [sunrise, lakeside]) {
      const seqs = (await server.db('events').where({ tenantId: clinic.tenantId }).orderBy('seq').pluck('seq')).map(
        Number,
      );
      expect(seqs.length).toBeGreaterThan(0);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    }
    // Lakeside has its own sequence: it starts at 1 although Sunrise wrote many events before.
    const lakesideEvents = await countRows('events', { tenantId: lakeside.tenantId });
    const sunriseEvents = await countRows('events', { tenantId: sunrise.tenantId });
    expect(lakesideEvents).toBe(1 + 6);
    expect(sunriseEvents).toBeGreaterThan(lakesideEvents);
  });
});
