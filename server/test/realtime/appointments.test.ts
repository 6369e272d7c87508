import { describe, expect, it } from 'vitest';
import { subscribeLive } from '../helpers/realtime.js';
import { useSockets, useTestServer } from '../helpers/setup.js';

const t = useTestServer();
const sockets = useSockets(t);

const CHANGED = `subscription($providerId: ID, $after: String) {
  appointmentChanged(providerId: $providerId, after: $after) { kind cursor previousProviderId appointment { id status cancellationReason provider { name } patient { displayName } } }
}`;
const CREATE = 'mutation($i: CreateAppointmentInput!) { createAppointment(input: $i) { id } }';

function slot(day: number, hour: number) {
  const start = new Date(Date.UTC(2031, 0, day, hour));
  return { startsAt: start.toISOString(), endsAt: new Date(start.getTime() + 30 * 60_000).toISOString() };
}

describe('appointmentChanged', () => {
  it('delivers a booking made over HTTP to every subscriber of the clinic, and to nobody in another clinic', async () => {
    const { server, sunrise, lakeside } = t;
    const [frontDesk, nurse, otherClinic] = await Promise.all([
      t.token('frontdesk'),
      t.token('nurse'),
      t.token('frontdesk', 'lakeside-skin'),
    ]);
    const mine = await subscribeLive(server, sockets.open(nurse), CHANGED);
    const theirs = await subscribeLive(server, sockets.open(otherClinic), CHANGED);
    const res = await server.gql(
      CREATE,
      { i: { providerId: sunrise.users.lee, patientId: sunrise.patients[0], ...slot(1, 15), reason: 'Mole check' } },
      frontDesk,
    );
    expect(res.errors).toBeUndefined();
    const [event] = await mine.waitFor(1);
    expect(event.data!.appointmentChanged).toMatchObject({
      kind: 'CREATED',
      appointment: { id: res.data!.createAppointment.id, status: 'SCHEDULED', provider: { name: 'Dr. Maya Lee' } },
    });
    // Another booking in the other clinic reaches its subscriber; the first never did.
    await server.gql(
      CREATE,
      { i: { providerId: lakeside.users.chen, patientId: lakeside.patients[0], ...slot(1, 15) } },
      otherClinic,
    );
    const [their] = await theirs.waitFor(1);
    expect(their.data!.appointmentChanged.appointment.provider.name).toBe('Dr. Wei Chen');
    expect(theirs.results).toHaveLength(1);
    expect(mine.results).toHaveLength(1);
  });
});

const WHOLE = `id status room cancellationReason checkedInAt createdAt
  provider { id name role email } patient { id mrn displayName dateOfBirth phone email }`;
const WATCH = `subscription { appointmentChanged { kind appointment { ${WHOLE} } } }`;
const READ = `query($id: ID!) { appointment(id: $id) { ${WHOLE} } }`;
const UPDATE = `mutation($id: ID!, $i: UpdateAppointmentInput!) { updateAppointment(id: $id, input: $i) { id } }`;
const CHECK_IN = 'mutation($id: ID!) { checkInAppointment(id: $id) { id } }';
const CANCEL = 'mutation($id: ID!, $r: String!) { cancelAppointment(id: $id, reason: $r) { id } }';

/**
 * A nurse watching every change of the clinic, then a visit with Dr. Lee for the first patient that the front desk
 * books on `day` of the test month (the watch's first event).
 */
async function watchedBooking(day: number, room?: string) {
  const { server, sunrise } = t;
  const [frontDesk, nurse] = await Promise.all([t.token('frontdesk'), t.token('nurse')]);
  const watch = await subscribeLive(server, sockets.open(nurse), WATCH);
  const booked = await server.gql(
    CREATE,
    { i: { providerId: sunrise.users.lee, patientId: sunrise.patients[0], ...slot(day, 15), room } },
    frontDesk,
  );
  expect(booked.errors).toBeUndefined();
  return { frontDesk, watch, id: booked.data!.createAppointment.id as string };
}

describe("appointmentChanged through an appointment's life", () => {
  it('shows the appointment as the schedule then reads it: booked, moved to another provider and patient, checked in, cancelled', async () => {
    const { server, sunrise } = t;
    const { frontDesk, watch, id } = await watchedBooking(2, 'Room 1');
    const pushedAt = async (at: number) => {
      const pushed = (await watch.waitFor(at + 1))[at].data!.appointmentChanged.appointment;
      const read = await server.gql(READ, { id }, frontDesk);
      expect(pushed).toEqual(read.data!.appointment);
      return pushed;
    };
    expect(await pushedAt(0)).toMatchObject({
      provider: { name: 'Dr. Maya Lee' },
      patient: { id: sunrise.patients[0] },
    });
    const changes: [string, Record<string, unknown>][] = [
      // Another provider and another patient: the event shows the ones it names now, not those it named when locked.
      [UPDATE, { id, i: { providerId: sunrise.users.patel, patientId: sunrise.patients[1], room: 'Room 4' } }],
      [CHECK_IN, { id }],
      [CANCEL, { id, r: 'Patient called in sick' }],
    ];
    for (const [at, [mutation, variables]] of changes.entries()) {
      const res = await server.gql(mutation, variables, frontDesk);
      expect(res.errors).toBeUndefined();
      await pushedAt(at + 1);
    }
    const last = watch.results[3].data!.appointmentChanged.appointment;
    expect(last).toMatchObject({
      status: 'CANCELLED',
      room: 'Room 4',
      provider: { id: sunrise.users.patel, name: 'Dr. Arjun Patel' },
      patient: { id: sunrise.patients[1] },
    });
    expect(last.checkedInAt).toEqual(expect.any(String));
  });

  it('books in two statements between BEGIN and COMMIT, then changes a room, checks in and cancels in one each, each with its event, shown as the schedule reads it', async () => {
    const { server, sunrise } = t;
    const [frontDesk, nurse] = await Promise.all([t.token('frontdesk'), t.token('nurse')]);
    const watch = await subscribeLive(server, sockets.open(nurse), WATCH);
    const sql: { text: string; trx?: string }[] = [];
    const onQuery = (query: { sql: string; __knexTxId?: string }) =>
      sql.push({ text: query.sql, trx: query.__knexTxId });
    // What a change ran, by what each statement does. Not the change's: the door's account read before it, and the
    // access audit's insert after the frames (its subscriber was given the patient).
    const kind = (statement: string) =>
      /^begin/i.test(statement)
        ? 'BEGIN'
        : /^commit/i.test(statement)
          ? 'COMMIT'
          : /insert into appointments[\s\S]*insert into events/.test(statement)
            ? 'booking and event'
            : /update appointments[\s\S]*insert into events/.test(statement)
              ? 'change and event'
              : /from "users".*for no key update/.test(statement)
                ? "provider's lock"
                : statement.split(' ')[0];
    const ranFor = async (mutation: string, variables: Record<string, unknown>, frames: number) => {
      sql.length = 0;
      server.db.on('query', onQuery);
      try {
        const res = await server.gql(mutation, variables, frontDesk);
        expect(res.errors).toBeUndefined();
        await watch.waitFor(frames);
        const ofDoorOrAudit = /^select t\.disabled_at|^insert into patient_access_log/;
        return { res, statements: sql.filter((statement) => !ofDoorOrAudit.test(statement.text)) };
      } finally {
        server.db.removeListener('query', onQuery);
      }
    };

    const booking = await ranFor(
      CREATE,
      { i: { providerId: sunrise.users.lee, patientId: sunrise.patients[0], ...slot(4, 15), room: 'Room 1' } },
      1,
    );
    const id = booking.res.data!.createAppointment.id as string;
    expect(booking.statements.every((statement) => statement.trx === booking.statements[0].trx)).toBe(true);
    expect(booking.statements.map((statement) => kind(statement.text))).toEqual([
      'BEGIN',
      "provider's lock",
      'booking and event',
      'COMMIT',
    ]);

    // A room, a check-in and a cancellation are one statement each, no transaction around it; the delivery reads
    // nothing back before the frame, and shows the appointment as a read of it then does.
    const changes: [string, Record<string, unknown>, Record<string, unknown>][] = [
      [UPDATE, { id, i: { room: 'Room 2' } }, { room: 'Room 2', status: 'SCHEDULED' }],
      [CHECK_IN, { id }, { room: 'Room 2', status: 'CHECKED_IN', checkedInAt: expect.any(String) }],
      [
        CANCEL,
        { id, r: 'Patient called in sick' },
        { status: 'CANCELLED', cancellationReason: 'Patient called in sick' },
      ],
    ];
    for (const [at, [mutation, variables, shown]] of changes.entries()) {
      const change = await ranFor(mutation, variables, at + 2);
      expect(change.statements.map((statement) => [kind(statement.text), statement.trx])).toEqual([
        ['change and event', undefined],
      ]);
      const read = (await server.gql(READ, { id }, frontDesk)).data!.appointment;
      expect(read).toMatchObject({
        ...shown,
        provider: { name: 'Dr. Maya Lee' },
        patient: { id: sunrise.patients[0] },
      });
      expect(watch.results[at + 1].data!.appointmentChanged.appointment).toEqual(read);
    }

    const logged = await server
      .db('events')
      .where({ tenantId: sunrise.tenantId })
      .orderBy('seq', 'desc')
      .limit(4)
      .select('seq', 'topic', 'kind', 'entityId', 'providerId');
    const first = logged[3].seq as number;
    expect(logged.reverse()).toEqual(
      ['CREATED', 'UPDATED', 'CHECKED_IN', 'CANCELLED'].map((kind, at) => ({
        seq: first + at,
        topic: 'appointment',
        kind,
        entityId: id,
        providerId: sunrise.users.lee,
      })),
    );
    expect(watch.results.map((result) => result.data!.appointmentChanged.kind)).toEqual([
      'CREATED',
      'UPDATED',
      'CHECKED_IN',
      'CANCELLED',
    ]);
  });

  it("reads a move's new patient in the update's own statement: no other read of patients until the subscriber has it", async () => {
    const { server, sunrise } = t;
    const { frontDesk, watch, id } = await watchedBooking(3);
    await watch.waitFor(1);

    const sql: string[] = [];
    const onQuery = (query: { sql: string }) => sql.push(query.sql);
    server.db.on('query', onQuery);
    try {
      const moved = await server.gql(UPDATE, { id, i: { patientId: sunrise.patients[2] } }, frontDesk);
      expect(moved.errors).toBeUndefined();
      const [, pushed] = await watch.waitFor(2);
      expect(pushed.data!.appointmentChanged.appointment.patient.id).toBe(sunrise.patients[2]);
    } finally {
      server.db.removeListener('query', onQuery);
    }
    // The lock reads the appointment with the patient it named; the update returns the one it names now.
    const readsOfPatients = sql.filter((statement) => /\bpatients\b/.test(statement));
    expect(readsOfPatients.map((statement) => statement.split(' ')[0])).toEqual(['select', 'update']);
  });
});
