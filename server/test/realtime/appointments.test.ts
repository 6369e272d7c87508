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
