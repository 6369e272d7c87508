import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/testServer.js';
import { collect, wsClient } from '../helpers/ws.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.stop());

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
    const [frontDesk, nurse, otherClinic] = await Promise.all([
      server.login('sunrise-derm', 'frontdesk'),
      server.login('sunrise-derm', 'nurse'),
      server.login('lakeside-skin', 'frontdesk'),
    ]);
    const ids = await server.ids('sunrise-derm');
    const clients = [wsClient(server.url, { token: nurse }), wsClient(server.url, { token: otherClinic })];
    try {
      const [mine, theirs] = clients.map((c) => collect(c, CHANGED));
      // A subscription is live once the server holds its stream.
      await waitForStreams(server, 2);
      const res = await server.gql(
        CREATE,
        { i: { providerId: ids.users.lee, patientId: ids.patients[0], ...slot(1, 15), reason: 'Mole check' } },
        frontDesk,
      );
      expect(res.errors).toBeUndefined();
      const [event] = await mine.waitFor(1);
      expect(event.data!.appointmentChanged).toMatchObject({
        kind: 'CREATED',
        appointment: { id: res.data!.createAppointment.id, status: 'SCHEDULED', provider: { name: 'Dr. Maya Lee' } },
      });
      // Another booking in the other clinic reaches its subscriber; the first never did.
      const lakeside = await server.ids('lakeside-skin');
      await server.gql(
        CREATE,
        { i: { providerId: lakeside.users.chen, patientId: lakeside.patients[0], ...slot(1, 15) } },
        otherClinic,
      );
      const [their] = await theirs.waitFor(1);
      expect(their.data!.appointmentChanged.appointment.provider.name).toBe('Dr. Wei Chen');
      expect(theirs.results).toHaveLength(1);
      expect(mine.results).toHaveLength(1);
    } finally {
      await Promise.all(clients.map((c) => c.dispose()));
    }
  });
});

async function waitForStreams(server: TestServer, n: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (server.app.services.realtime.activeStreams < n) {
    if (Date.now() > deadline)
      throw new Error(`expected ${n} live streams, have ${server.app.services.realtime.activeStreams}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
