import { describe, expect, it } from 'vitest';
import { waitingOnLock } from '../helpers/locks.js';
import { errorCode } from '../helpers/testServer.js';
import { subscribeLive } from '../helpers/realtime.js';
import { useSockets, useTestServer } from '../helpers/setup.js';

// A second connection holds the appointment's lock while a mutation waits on it: the embedded database has one
// connection, on which the mutation would wait for ever. PostgreSQL only.
const t = useTestServer();
const sockets = useSockets(t);

const WHOLE = 'id status provider { id name } patient { id displayName }';
const WATCH = `subscription { appointmentChanged { kind appointment { ${WHOLE} } } }`;
const READ = `query($id: ID!) { appointment(id: $id) { ${WHOLE} } }`;
const CREATE = 'mutation($i: CreateAppointmentInput!) { createAppointment(input: $i) { id } }';
const CHECK_IN = 'mutation($id: ID!) { checkInAppointment(id: $id) { id } }';
const UPDATE = 'mutation($id: ID!, $i: UpdateAppointmentInput!) { updateAppointment(id: $id, input: $i) { id } }';

/** A visit with Dr. Lee for the clinic's first patient, in Room 1 at 15:00 UTC on `day` of March 2032: its id. */
async function book(frontDesk: string, day: number): Promise<string> {
  const { server, sunrise } = t;
  const start = Date.UTC(2032, 2, day, 15);
  const booked = await server.gql(
    CREATE,
    {
      i: {
        providerId: sunrise.users.lee,
        patientId: sunrise.patients[0],
        startsAt: new Date(start).toISOString(),
        endsAt: new Date(start + 30 * 60_000).toISOString(),
        room: 'Room 1',
      },
    },
    frontDesk,
  );
  expect(booked.errors).toBeUndefined();
  return booked.data!.createAppointment.id as string;
}

describe('a change that waited on another change of the same appointment', () => {
  it.each([
    // One statement (changeInPlace), and a change that locks the appointment first (lockAppointment). Each waits in
    // the statement that starts as named (PostgreSQL shows a statement's first 1,024 bytes).
    ['a check-in', CHECK_IN, {}, 'update appointments set status', 'CHECKED_IN', 'CHECKED_IN', 3],
    ['a change of status', UPDATE, { i: { status: 'IN_PROGRESS' } }, 'to_jsonb(u)', 'UPDATED', 'IN_PROGRESS', 6],
  ])(
    'shows the provider and patient the appointment names once the other committed, not those it named before: %s',
    async (_, mutation, variables, waitsIn, kind, status, day) => {
      const { server, sunrise } = t;
      const { db } = server.app.services;
      const [frontDesk, nurse] = await Promise.all([t.token('frontdesk'), t.token('nurse')]);
      const id = await book(frontDesk, day);
      const watch = await subscribeLive(server, sockets.open(nurse), WATCH);

      // Another change holds the appointment, giving it to another provider and patient, while the change comes in.
      const other = await db.transaction();
      try {
        await other('appointments').where({ id }).forUpdate().first();
        await other('appointments')
          .where({ id })
          .update({ providerId: sunrise.users.patel, patientId: sunrise.patients[1] });
        const change = server.gql(mutation, { id, ...variables }, frontDesk);
        await waitingOnLock(db, waitsIn);
        await other.commit();
        expect((await change).errors).toBeUndefined();
      } finally {
        if (!other.isCompleted()) await other.rollback();
      }

      const [event] = await watch.waitFor(1);
      const pushed = event.data!.appointmentChanged;
      expect(pushed.kind).toBe(kind);
      expect(pushed.appointment).toMatchObject({
        status,
        provider: { id: sunrise.users.patel, name: 'Dr. Arjun Patel' },
        patient: { id: sunrise.patients[1] },
      });
      expect(pushed.appointment).toEqual((await server.gql(READ, { id }, frontDesk)).data!.appointment);
    },
  );

  it.each([
    ['a room', UPDATE, { i: { room: 'Room 2' } }, 'update appointments set room', 2],
    ['a check-in', CHECK_IN, {}, 'update appointments set status', 5],
  ])(
    'refuses %s for an appointment cancelled while its statement waited, and writes nothing',
    async (_, mutation, variables, fragment, day) => {
      const { server, sunrise } = t;
      const { db } = server.app.services;
      const frontDesk = await t.token('frontdesk');
      const id = await book(frontDesk, day);
      const lastSeq = async () =>
        (await db('event_counters').where({ tenantId: sunrise.tenantId }).first('lastSeq')).lastSeq as number;
      const before = await lastSeq();

      // Another connection cancels the appointment and holds it while the change comes in; the change's statement was
      // planned when the appointment was not cancelled yet.
      const other = await db.transaction();
      try {
        await other('appointments').where({ id }).update({ status: 'CANCELLED', cancellationReason: 'Clinic closed' });
        const change = server.gql(mutation, { id, ...variables }, frontDesk);
        await waitingOnLock(db, fragment);
        await other.commit();
        const res = await change;
        expect(errorCode(res)).toBe('CONFLICT');
        expect(res.errors![0].extensions).toMatchObject({ reason: 'APPOINTMENT_CANCELLED' });
      } finally {
        if (!other.isCompleted()) await other.rollback();
      }
      expect(await db('appointments').where({ id }).first('room', 'status', 'checkedInAt')).toEqual({
        room: 'Room 1',
        status: 'CANCELLED',
        checkedInAt: null,
      });
      expect(await lastSeq()).toBe(before);
    },
  );
});
