import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Role } from '../../src/db/rows.js';
import { eventCursor } from '../../src/events/eventLog.js';
import { latestSeq } from '../../src/events/feed.js';
import {
  APPOINTMENT_CHANGED,
  ASSIGN_TASK,
  CANCEL_APPOINTMENT,
  CHECK_IN_APPOINTMENT,
  CREATE_APPOINTMENT,
  freeSlot,
  NOTIFICATION,
  SEND_ALERT,
  waitForStreams,
} from '../helpers/realtime.js';
import { type TestServer } from '../helpers/testServer.js';
import { useTestServer } from '../helpers/setup.js';
import { signToken } from '../helpers/tokens.js';
import { collect, wsClient, type Collected } from '../helpers/ws.js';

/** A small seeded generator (mulberry32): a failing run can be replayed with the seed it prints. */
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] };
}

/** Fixed, so a run is repeatable; set LOAD_SEED to explore other interleavings of the same load. */
const SEED = Number(process.env.LOAD_SEED ?? 20261126);
const SOCKETS = 30;
const MUTATIONS = 150;
const CONCURRENCY = 8;

interface Staff {
  id: string;
  name: string;
  role: Role;
  token: string;
}
interface Clinic {
  tenantId: string;
  staff: Staff[];
  patients: string[];
  /** Appointments booked by this test, for cancellations and check-ins. */
  booked: string[];
}

const t = useTestServer();
let server: TestServer;
const clinics: Clinic[] = [];
const clients: Client[] = [];

beforeAll(async () => {
  ({ server } = t);
  const { db } = server;
  const admins = {
    'sunrise-derm': await server.login('sunrise-derm', 'admin'),
    'lakeside-skin': await server.login('lakeside-skin', 'admin'),
  };
  // More staff in each demo clinic, made the way an admin makes them.
  const roles: Role[] = ['PROVIDER', 'NURSE', 'FRONT_DESK', 'PROVIDER'];
  for (const [slug, token] of Object.entries(admins)) {
    for (const [i, role] of roles.entries()) {
      const res = await server.gql(
        'mutation($i: CreateUserInput!) { createUser(input: $i) { id } }',
        { i: { email: `load${i}@${slug}.example`, name: `Load ${role} ${i}`, role, password: 'load-test-password' } },
        token,
      );
      expect(res.errors).toBeUndefined();
    }
  }
  // A third clinic, written straight into the tables: nothing in the API creates clinics.
  const [hill] = await db('tenants')
    .insert({ slug: 'hillcrest-derm', name: 'Hillcrest Dermatology', timeZone: 'America/Denver' })
    .returning('id');
  await db('users').insert(
    (['ADMIN', 'PROVIDER', 'PROVIDER', 'NURSE', 'FRONT_DESK'] as Role[]).map((role, i) => ({
      tenantId: hill.id,
      email: `staff${i}@hillcrest.example`,
      name: `Hillcrest ${role} ${i}`,
      role,
      passwordHash: 'not-a-login-account',
    })),
  );
  await db('patients').insert(
    [1, 2, 3].map((i) => ({
      tenantId: hill.id,
      mrn: `HC-${i}`,
      firstName: `Pat${i}`,
      lastName: 'Hill',
      dateOfBirth: '1980-01-0' + i,
    })),
  );

  for (const tenant of await db('tenants').orderBy('slug').select('id')) {
    const users = await db('users').where({ tenantId: tenant.id }).orderBy('email').select('id', 'name', 'role');
    clinics.push({
      tenantId: tenant.id,
      staff: await Promise.all(
        users.map(async (u: Omit<Staff, 'token'>) => ({
          ...u,
          token: await signToken(server.config.jwtSecret, {
            userId: u.id,
            tenantId: tenant.id,
            role: u.role,
            name: u.name,
          }),
        })),
      ),
      patients: await db('patients').where({ tenantId: tenant.id }).orderBy('mrn').pluck('id'),
      booked: [],
    });
  }
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
});

interface Subscriber {
  clinic: Clinic;
  user: Staff;
  what: string;
  sub: Collected;
  /** The log rows of its clinic this subscription must deliver. */
  wants: (row: {
    topic: string;
    kind: string;
    userId: string | null;
    providerId: string | null;
    data: { previousProviderId?: string };
  }) => boolean;
}

const providersOf = (clinic: Clinic) => clinic.staff.filter((s) => s.role === 'PROVIDER');
const may = (role: Role, op: string) =>
  op === 'checkIn'
    ? ['ADMIN', 'FRONT_DESK', 'NURSE'].includes(role)
    : op === 'alert'
      ? ['ADMIN', 'PROVIDER', 'NURSE'].includes(role)
      : true;

describe('tenant isolation under load', () => {
  it('should deliver every event to exactly the subscribers it is for, and none across clinics', async () => {
    const rnd = random(SEED);
    const subscribers: Subscriber[] = [];
    for (let i = 0; i < SOCKETS; i++) {
      // Every clinic gets sockets; the rest are spread at random.
      const clinic = i < clinics.length ? clinics[i] : rnd.pick(clinics);
      const user = rnd.pick(clinic.staff);
      const c = wsClient(server.url, { token: user.token });
      clients.push(c);
      subscribers.push({
        clinic,
        user,
        what: 'appointmentChanged',
        sub: collect(c, APPOINTMENT_CHANGED),
        wants: (r) => r.topic === 'appointment',
      });
      subscribers.push({
        clinic,
        user,
        what: 'notification',
        sub: collect(c, NOTIFICATION),
        wants: (r) => r.topic === 'notification' && r.kind === 'CREATED' && r.userId === user.id,
      });
      if (i % 3 === 0) {
        const provider = rnd.pick(providersOf(clinic));
        subscribers.push({
          clinic,
          user,
          what: `appointmentChanged(providerId: ${provider.name})`,
          sub: collect(c, APPOINTMENT_CHANGED, { providerId: provider.id }),
          wants: (r) =>
            r.topic === 'appointment' && (r.providerId === provider.id || r.data.previousProviderId === provider.id),
        });
      }
      if (i % 10 === 1) {
        // Naming another clinic's provider narrows nothing open: the clinic's own log is the wall.
        const foreign = rnd.pick(providersOf(clinics.find((c) => c !== clinic)!));
        subscribers.push({
          clinic,
          user,
          what: 'appointmentChanged(foreign providerId)',
          sub: collect(c, APPOINTMENT_CHANGED, { providerId: foreign.id }),
          wants: () => false,
        });
      }
    }
    await waitForStreams(server, subscribers.length, 20_000);
    const startSeq = new Map(
      await Promise.all(clinics.map(async (c) => [c.tenantId, await latestSeq(server.db, c.tenantId)] as const)),
    );

    // Random mutations from random staff, several at a time.
    const ops = ['book', 'book', 'cancel', 'checkIn', 'task', 'alert'] as const;
    const plan = Array.from({ length: MUTATIONS }, () => {
      const op = rnd.pick(ops);
      const clinic = rnd.pick(clinics);
      const actor = rnd.pick(clinic.staff.filter((s) => may(s.role, op)));
      return { op, clinic, actor, pickA: rnd.next(), pickB: rnd.next(), pickC: rnd.next() };
    });
    const at = <T>(items: T[], f: number) => items[Math.floor(f * items.length)];
    const refused: string[] = [];
    const run = async ({ op, clinic, actor, pickA, pickB, pickC }: (typeof plan)[number]) => {
      let res;
      if (op === 'book' || clinic.booked.length === 0) {
        const input = {
          providerId: at(providersOf(clinic), pickA).id,
          patientId: at(clinic.patients, pickB),
          ...freeSlot(),
        };
        res = await server.gql(CREATE_APPOINTMENT, { i: input }, actor.token);
        if (res.data?.createAppointment) clinic.booked.push(res.data.createAppointment.id);
      } else if (op === 'cancel') {
        res = await server.gql(CANCEL_APPOINTMENT, { id: at(clinic.booked, pickA), r: 'Load test' }, actor.token);
      } else if (op === 'checkIn') {
        res = await server.gql(CHECK_IN_APPOINTMENT, { id: at(clinic.booked, pickA) }, actor.token);
      } else if (op === 'task') {
        res = await server.gql(
          ASSIGN_TASK,
          { i: { title: `Task ${pickC}`, assigneeId: at(clinic.staff, pickA).id } },
          actor.token,
        );
      } else {
        res = await server.gql(
          SEND_ALERT,
          {
            i: {
              userId: at(clinic.staff, pickA).id,
              kind: pickB < 0.5 ? 'ALERT' : 'LAB_RESULT',
              title: `Alert ${pickC}`,
            },
          },
          actor.token,
        );
      }
      // Cancelling twice, or checking in what is no longer scheduled, is refused; that is the state, not a failure.
      if (res.errors) {
        expect(res.errors[0].extensions?.code, JSON.stringify(res.errors)).toBe('CONFLICT');
        refused.push(op);
      }
    };
    const queue = [...plan];
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let next = queue.shift(); next; next = queue.shift()) await run(next);
      }),
    );
    expect(refused.length).toBeLessThan(MUTATIONS / 2);

    // Then one last event for every subscriber, so that anything still in flight would have shown up before it.
    for (const clinic of clinics) {
      const actor = clinic.staff.find((s) => s.role === 'NURSE')!;
      await server.gql(
        CREATE_APPOINTMENT,
        { i: { providerId: providersOf(clinic)[0].id, patientId: clinic.patients[0], ...freeSlot() } },
        actor.token,
      );
      for (const user of new Set(subscribers.filter((s) => s.clinic === clinic).map((s) => s.user))) {
        expect(
          (await server.gql(SEND_ALERT, { i: { userId: user.id, kind: 'ALERT', title: 'last' } }, actor.token)).errors,
        ).toBeUndefined();
      }
    }

    // What the log says each subscriber must get: its own clinic's rows, through its own filter.
    const rowsOf = new Map<string, any[]>();
    for (const clinic of clinics) {
      rowsOf.set(
        clinic.tenantId,
        await server
          .db('events')
          .where({ tenantId: clinic.tenantId })
          .andWhere('seq', '>', startSeq.get(clinic.tenantId)!)
          .orderBy('seq'),
      );
    }
    const expected = subscribers.map((s) =>
      rowsOf
        .get(s.clinic.tenantId)!
        .filter(s.wants)
        .map((r) => eventCursor(s.clinic.tenantId, Number(r.seq))),
    );
    const received = () =>
      subscribers.map((s) =>
        s.sub.results.map((r) => (r.data?.appointmentChanged ?? r.data?.notification)?.cursor ?? JSON.stringify(r)),
      );
    // Every subscriber catches up.
    await vi.waitFor(
      () => subscribers.forEach((s, i) => expect(s.sub.results.length).toBeGreaterThanOrEqual(expected[i].length)),
      { timeout: 20_000 },
    );

    const ownCursors = new Map(
      clinics.map((c) => [
        c.tenantId,
        new Set(rowsOf.get(c.tenantId)!.map((r) => eventCursor(c.tenantId, Number(r.seq)))),
      ]),
    );
    const crossed = subscribers.flatMap((s, i) =>
      received()
        [i].filter((cursor) => !ownCursors.get(s.clinic.tenantId)!.has(cursor))
        .map((cursor) => `${s.what} of ${s.user.name} got ${cursor}`),
    );
    expect(crossed, `seed ${SEED}`).toEqual([]);
    for (const [i, s] of subscribers.entries()) {
      expect(received()[i], `${s.what} of ${s.user.name} (seed ${SEED})`).toEqual(expected[i]);
    }
    // Sanity: the load was real and reached everyone.
    expect(subscribers.filter((s) => s.what === 'notification').every((s) => s.sub.results.length > 0)).toBe(true);
    expect(
      rowsOf.get(clinics[0].tenantId)!.length +
        rowsOf.get(clinics[1].tenantId)!.length +
        rowsOf.get(clinics[2].tenantId)!.length,
    ).toBeGreaterThan(MUTATIONS);
  });
});
