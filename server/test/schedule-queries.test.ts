import { beforeAll, describe, expect, it } from 'vitest';
import { type TestServer } from './helpers/testServer.js';
import { useTestServer } from './helpers/setup.js';
import { dayInZone, MINUTE, wallClock } from './helpers/time.js';

/**
 * The DataLoader guarantee: a day's schedule with each visit's provider and patient costs the same handful of SQL
 * queries whether the day holds 5 visits or 50. Without batching, the 50-visit day would cost 100 more.
 */

const NEW_YORK = 'America/New_York';
const SCHEDULE = `query($d: LocalDate!) {
  schedule(date: $d) { id startsAt provider { id name } patient { id displayName } }
}`;

interface Visit {
  id: string;
  startsAt: string;
  provider: { id: string; name: string };
  patient: { id: string; displayName: string };
}

const t = useTestServer();
let server: TestServer;
let frontDesk: string;
// Days clear of the demo schedule (today and yesterday) and of each other.
const BUSY_DAY = dayInZone(NEW_YORK, 20);
const QUIET_DAY = dayInZone(NEW_YORK, 21);
const booked = new Map<string, { providerId: string; patientId: string; patientName: string }>();

/** Books `count` visits on a day, alternating the two providers, each with a patient of its own. */
async function fillDay(date: string, count: number, patients: { id: string; name: string }[]) {
  const { users } = await server.ids('sunrise-derm');
  for (let n = 0; n < count; n++) {
    const providerId = n % 2 ? users.patel : users.lee;
    const startsAt = new Date(wallClock(NEW_YORK, date, '07:00').getTime() + Math.floor(n / 2) * 30 * MINUTE);
    const patient = patients[n];
    const res = await server.gql(
      'mutation($i: CreateAppointmentInput!) { createAppointment(input: $i) { id } }',
      {
        i: {
          providerId,
          patientId: patient.id,
          startsAt: startsAt.toISOString(),
          endsAt: new Date(startsAt.getTime() + 20 * MINUTE).toISOString(),
        },
      },
      frontDesk,
    );
    expect(res.errors).toBeUndefined();
    booked.set(res.data!.createAppointment.id, { providerId, patientId: patient.id, patientName: patient.name });
  }
}

/** Every SQL statement the server runs while `run` is in flight, read from knex's own query event. */
async function sqlDuring<T>(run: () => Promise<T>): Promise<{ result: T; sql: string[] }> {
  const sql: string[] = [];
  const listener = (query: { sql: string }) => sql.push(query.sql);
  server.db.on('query', listener);
  try {
    return { result: await run(), sql };
  } finally {
    server.db.removeListener('query', listener);
  }
}

beforeAll(async () => {
  ({ server } = t);
  frontDesk = await server.login('sunrise-derm', 'frontdesk');
  // Fifty new patients, so that the busy day's patient batch really holds fifty different ids.
  const patients: { id: string; name: string }[] = [];
  for (let n = 0; n < 50; n++) {
    const [firstName, lastName] = [`Batch${n}`, `Patient${String(n).padStart(2, '0')}`];
    const res = await server.gql(
      'mutation($i: CreatePatientInput!) { createPatient(input: $i) { id } }',
      { i: { mrn: `DL-${n}`, firstName, lastName, dateOfBirth: '1970-01-01' } },
      frontDesk,
    );
    expect(res.errors).toBeUndefined();
    patients.push({ id: res.data!.createPatient.id, name: `${firstName} ${lastName}` });
  }
  await fillDay(BUSY_DAY, 50, patients);
  await fillDay(QUIET_DAY, 5, patients);
});

describe('schedule(date) with providers and patients', () => {
  async function readDay(date: string) {
    const { result: res, sql } = await sqlDuring(() =>
      server.gql<{ schedule: Visit[] }>(SCHEDULE, { d: date }, frontDesk),
    );
    expect(res.errors).toBeUndefined();
    return { visits: res.data!.schedule, sql };
  }

  it('returns every visit of the day, earliest first, each with its own provider and patient', async () => {
    const { visits } = await readDay(BUSY_DAY);
    expect(visits).toHaveLength(50);
    const starts = visits.map((v) => Date.parse(v.startsAt));
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
    for (const visit of visits) {
      const expected = booked.get(visit.id)!;
      expect(visit.provider.id).toBe(expected.providerId);
      expect(visit.patient).toEqual({ id: expected.patientId, displayName: expected.patientName });
    }
    expect(new Set(visits.map((v) => v.patient.id)).size).toBe(50);
  });

  it('runs the same small number of SQL queries for 5 visits as for 50: one per table, never one per visit', async () => {
    const quiet = await readDay(QUIET_DAY);
    const busy = await readDay(BUSY_DAY);
    expect(quiet.visits).toHaveLength(5);
    expect(busy.visits).toHaveLength(50);

    console.log(
      `schedule(date) SQL queries: ${quiet.sql.length} for ${quiet.visits.length} visits, ${busy.sql.length} for ${busy.visits.length} visits\n` +
        busy.sql.map((q) => `  ${q}`).join('\n'),
    );

    expect(busy.sql.length).toBe(quiet.sql.length);
    // First the sign-in check every request makes (the token's user is still a user of its clinic, and the clinic is
    // not disabled: one read), then the tenant (for its time zone), the day's appointments, and one batch of users and
    // one of patients.
    const [check, ...resolution] = busy.sql;
    expect(check).toMatch(
      /^select t\.disabled_at, t\.sessions_ended_at from users u join tenants t .*where u\.tenant_id = \$1 and u\.id = \$2 /s,
    );
    // Last, the access audit of the patients shown: one insert, for 5 visits as for 50 (access-audit.test.ts).
    const audit = resolution.filter((q) => /^insert into "?patient_access_log\b/.test(q));
    expect(audit).toHaveLength(1);
    const reads = resolution.filter((q) => !audit.includes(q));
    expect(reads.length).toBeLessThanOrEqual(4);
    const tableOf = (q: string) => /from "(\w+)"/.exec(q)?.[1];
    const tables = reads.map(tableOf);
    expect(new Set(tables).size).toBe(tables.length);
    expect(tables).toEqual(expect.arrayContaining(['appointments', 'users', 'patients']));
  });
});
