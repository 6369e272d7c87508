import { dayInZone } from './helpers/time.js';
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { snapshotRows } from './helpers/dbSnapshot.js';
import { errorCode, type GraphQLResponse, type TestServer } from './helpers/testServer.js';
import { useTestServer } from './helpers/setup.js';

const PATIENT = 'id mrn firstName lastName displayName dateOfBirth phone email';
const CREATE = `mutation($i: CreatePatientInput!) { createPatient(input: $i) { ${PATIENT} } }`;
const READ = `query($id: ID!) { patient(id: $id) { ${PATIENT} } }`;
const SEARCH = `query($s: String, $first: Int, $after: String) {
  patients(search: $s, first: $first, after: $after) {
    edges { cursor node { id mrn firstName lastName displayName } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;

type Ids = Awaited<ReturnType<TestServer['ids']>>;
interface Page {
  edges: {
    cursor: string;
    node: { id: string; mrn: string; firstName: string; lastName: string; displayName: string };
  }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

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

async function search(
  variables: { s?: string | null; first?: number | null; after?: string | null },
  as = token.frontdesk,
) {
  return server.gql<{ patients: Page }>(SEARCH, variables, as);
}

async function names(s: string): Promise<string[]> {
  const res = await search({ s, first: 100 });
  expect(res.errors).toBeUndefined();
  return res.data!.patients.edges.map((e) => e.node.displayName);
}

async function countRows(table: string, where: Record<string, unknown> = {}): Promise<number> {
  const [{ n }] = await server.db(table).where(where).count({ n: '*' });
  return Number(n);
}

/** Runs a request that must fail, and proves it wrote nothing: no patient, no audit row, no change anywhere. */
async function withoutWrites(run: () => Promise<GraphQLResponse>): Promise<GraphQLResponse> {
  const [patientsBefore, before] = [await countRows('patients'), await snapshotRows(server.db)];
  const res = await run();
  expect(res.errors).toBeDefined();
  expect(await countRows('patients')).toBe(patientsBefore);
  expect(await snapshotRows(server.db)).toEqual(before);
  return res;
}

const cursorOf = (values: unknown) => Buffer.from(JSON.stringify(values)).toString('base64url');

describe('patients(search)', () => {
  it('matches the start of the first name, case-insensitively', async () => {
    expect(await names('oLiV')).toEqual(['Olivia Bennett']);
  });

  it('matches the start of the last name, case-insensitively', async () => {
    expect(await names('GAR')).toEqual(['Mason Garcia']);
  });

  it('matches the start of the MRN, case-insensitively', async () => {
    const res = await search({ s: 'sun-101', first: 100 });
    expect(res.data!.patients.edges.map((e) => e.node.mrn).sort()).toEqual(['SUN-1010', 'SUN-1011', 'SUN-1012']);
  });

  it('matches only at the start, not in the middle of a name', async () => {
    expect(await names('enne')).toEqual([]);
    expect(await names('1001')).toEqual([]);
  });

  it('ignores surrounding spaces and treats % and _ as plain characters', async () => {
    expect(await names('  mia  ')).toEqual(['Mia Lopez']);
    expect(await names('%')).toEqual([]);
    expect(await names('_')).toEqual([]);
    expect(await names('L_pez')).toEqual([]);
  });

  it("never finds another clinic's patients", async () => {
    expect(await names('Harper')).toEqual([]);
    const res = await search({ s: 'lak', first: 100 });
    expect(res.data!.patients.edges).toEqual([]);
    const theirs = await search({ s: 'harper', first: 100 }, token.lakeside);
    expect(theirs.data!.patients.edges.map((e) => e.node.displayName)).toEqual(['Harper Nguyen']);
  });

  it('refuses a search longer than 100 characters with BAD_USER_INPUT', async () => {
    const res = await search({ s: 'a'.repeat(101) });
    expect(errorCode(res)).toBe('BAD_USER_INPUT');
    expect(res.errors![0].extensions!.field).toBe('search');
  });
});

describe('patients(first, after): cursor pagination', () => {
  // Three namesakes make the id the only tie-breaker, and a page boundary falls between them.
  const extra = [
    ['Quinn', 'Walker'],
    ['Quinn', 'Walker'],
    ['Quinn', 'Walker'],
    ['Aaron', 'Walker'],
    ['Zoe', 'Abbott'],
    ['Yusuf', 'Zeller'],
    ['Ines', 'Diaz'],
  ];

  beforeAll(async () => {
    for (const [n, [firstName, lastName]] of extra.entries()) {
      const res = await server.gql(
        'mutation($i: CreatePatientInput!) { createPatient(input: $i) { id } }',
        { i: { mrn: `PG-${n}`, firstName, lastName, dateOfBirth: '1980-01-01' } },
        token.frontdesk,
      );
      expect(res.errors).toBeUndefined();
    }
  });

  /** Follows `endCursor` until `hasNextPage` is false, checking each page's own bookkeeping on the way. */
  async function walk(s: string | null, first: number): Promise<{ pages: Page[]; ids: string[] }> {
    const pages: Page[] = [];
    let after: string | null = null;
    for (;;) {
      const res = await search({ s, first, after });
      expect(res.errors).toBeUndefined();
      const page = res.data!.patients;
      pages.push(page);
      expect(page.edges.length).toBeLessThanOrEqual(first);
      expect(page.pageInfo.hasPreviousPage).toBe(after !== null);
      expect(page.pageInfo.startCursor).toBe(page.edges[0]?.cursor ?? null);
      expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)?.cursor ?? null);
      if (!page.pageInfo.hasNextPage) break;
      expect(page.edges).toHaveLength(first);
      after = page.pageInfo.endCursor;
      expect(pages.length).toBeLessThan(100);
    }
    return { pages, ids: pages.flatMap((p) => p.edges.map((e) => e.node.id)) };
  }

  it('walks every patient of the clinic five at a time, in last-name, first-name order, without duplicates or gaps', async () => {
    const expected = await server
      .db('patients')
      .where({ tenantId: sunrise.tenantId })
      .orderBy(['lastName', 'firstName', 'id'])
      .pluck('id');
    expect(expected.length).toBe(12 + extra.length);

    const { pages, ids } = await walk(null, 5);
    expect(pages).toHaveLength(Math.ceil(expected.length / 5));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expected);

    const nodes = pages.flatMap((p) => p.edges.map((e) => e.node));
    expect(nodes[0]).toMatchObject({ lastName: 'Abbott', firstName: 'Zoe' });
    expect(nodes.at(-1)).toMatchObject({ lastName: 'Zeller', firstName: 'Yusuf' });
    expect(nodes.filter((p) => p.lastName === 'Diaz').map((p) => p.firstName)).toEqual(['Emma', 'Ines']);
    expect(nodes.filter((p) => p.lastName === 'Walker').map((p) => p.firstName)).toEqual([
      'Aaron',
      'Quinn',
      'Quinn',
      'Quinn',
    ]);
  });

  it('pages through namesakes one at a time within a search', async () => {
    const { pages, ids } = await walk('walker', 1);
    expect(pages).toHaveLength(4);
    expect(new Set(ids).size).toBe(4);
    expect(pages.map((p) => p.edges[0].node.firstName)).toEqual(['Aaron', 'Quinn', 'Quinn', 'Quinn']);
  });

  it('returns 25 patients when `first` is left out, and up to 100 when asked', async () => {
    const byDefault = await search({});
    expect(byDefault.data!.patients.edges).toHaveLength(12 + extra.length);
    const most = await search({ first: 100 });
    expect(most.data!.patients.edges).toHaveLength(12 + extra.length);
    expect(most.data!.patients.pageInfo.hasNextPage).toBe(false);
  });

  it('returns an empty last page after the last cursor', async () => {
    const all = await search({ first: 100 });
    const res = await search({ first: 5, after: all.data!.patients.pageInfo.endCursor });
    expect(res.data!.patients).toEqual({
      edges: [],
      pageInfo: { hasNextPage: false, hasPreviousPage: true, startCursor: null, endCursor: null },
    });
  });

  it.each([
    ['first: 0', { first: 0 }, 'first'],
    ['first: 101', { first: 101 }, 'first'],
    ['a negative first', { first: -1 }, 'first'],
    ['an after that is not base64 JSON', { after: 'garbage!' }, 'after'],
    ['an after that is JSON but not an array', { after: cursorOf({ lastName: 'Walker' }) }, 'after'],
    ['an after with the wrong number of values', { after: cursorOf(['Walker', 'Quinn']) }, 'after'],
    ['an after whose values are not strings', { after: cursorOf([1, 2, 3]) }, 'after'],
    ['an after whose id is not a UUID', { after: cursorOf(['Walker', 'Quinn', 'not-a-uuid']) }, 'after'],
  ])('refuses %s with BAD_USER_INPUT', async (_case, variables, field) => {
    const res = await search(variables);
    expect(errorCode(res)).toBe('BAD_USER_INPUT');
    expect(res.errors![0].extensions!.field).toBe(field);
    expect(res.data).toBeNull();
  });
});

describe('createPatient', () => {
  const input = {
    mrn: 'NEW-1',
    firstName: 'Grace',
    lastName: 'Hopper',
    dateOfBirth: '1990-12-09',
    phone: '555-0199',
    email: 'grace@example.com',
  };

  it('registers a patient, trimming names and lower-casing the email, who can then be found and read', async () => {
    const res = await server.gql(
      CREATE,
      { i: { ...input, firstName: '  Grace ', lastName: ' Hopper  ', email: 'Grace@Example.COM' } },
      token.frontdesk,
    );
    expect(res.errors).toBeUndefined();
    const patient = res.data!.createPatient;
    expect(patient).toEqual({ id: expect.any(String), ...input, displayName: 'Grace Hopper' });
    expect(await server.db('patients').where({ id: patient.id }).first()).toMatchObject({
      tenantId: sunrise.tenantId,
      mrn: 'NEW-1',
    });
    expect(await names('hop')).toEqual(['Grace Hopper']);
    const read = await server.gql(READ, { id: patient.id }, token.nurse);
    expect(read.data!.patient).toEqual(patient);
  });

  it.each([['nurse'], ['admin']] as const)('lets the %s register a patient', async (role) => {
    const res = await server.gql(CREATE, { i: { ...input, mrn: `NEW-${role}` } }, token[role]);
    expect(res.data!.createPatient.mrn).toBe(`NEW-${role}`);
  });

  it('leaves out the phone and email when they are not given', async () => {
    const res = await server.gql(
      CREATE,
      { i: { mrn: 'NEW-2', firstName: 'Ada', lastName: 'Lovelace', dateOfBirth: '1985-12-10' } },
      token.frontdesk,
    );
    expect(res.data!.createPatient).toMatchObject({ phone: null, email: null });
  });

  it('answers FORBIDDEN to a provider and registers nobody', async () => {
    const res = await withoutWrites(() => server.gql(CREATE, { i: { ...input, mrn: 'NEW-3' } }, token.lee));
    expect(errorCode(res)).toBe('FORBIDDEN');
  });

  it('asks for a token and registers nobody', async () => {
    const res = await withoutWrites(() => server.gql(CREATE, { i: { ...input, mrn: 'NEW-4' } }));
    expect(errorCode(res)).toBe('UNAUTHENTICATED');
  });

  const inTwoDays = dayInZone('America/New_York', 2);
  it.each([
    ['an empty MRN', { mrn: '' }, 'mrn'],
    ['an MRN of only spaces', { mrn: '   ' }, 'mrn'],
    ['an MRN longer than 40 characters', { mrn: 'M'.repeat(41) }, 'mrn'],
    ['an empty first name', { firstName: ' ' }, 'firstName'],
    ['a first name longer than 100 characters', { firstName: 'F'.repeat(101) }, 'firstName'],
    ['an empty last name', { lastName: '' }, 'lastName'],
    ['a last name longer than 100 characters', { lastName: 'L'.repeat(101) }, 'lastName'],
    ['a date of birth in the future', { dateOfBirth: inTwoDays }, 'dateOfBirth'],
    ['an email that is not an address', { email: 'grace-at-example' }, 'email'],
    ['a phone number longer than 40 characters', { phone: '5'.repeat(41) }, 'phone'],
  ])('refuses %s with BAD_USER_INPUT naming the field, and registers nobody', async (_case, change, field) => {
    const res = await withoutWrites(() =>
      server.gql(CREATE, { i: { ...input, mrn: 'BAD-1', ...change } }, token.frontdesk),
    );
    expect(errorCode(res)).toBe('BAD_USER_INPUT');
    expect(res.errors![0].extensions!.field).toBe(field);
  });

  it("counts the future from the clinic's today, not UTC's: today is a birth date, tomorrow is not", async () => {
    const today = await server.gql(
      CREATE,
      { i: { ...input, mrn: 'BORN-TODAY', dateOfBirth: dayInZone('America/New_York') } },
      token.frontdesk,
    );
    expect(today.errors).toBeUndefined();
    const tomorrow = await withoutWrites(() =>
      server.gql(
        CREATE,
        { i: { ...input, mrn: 'BORN-TOMORROW', dateOfBirth: dayInZone('America/New_York', 1) } },
        token.frontdesk,
      ),
    );
    expect(errorCode(tomorrow)).toBe('BAD_USER_INPUT');
    expect(tomorrow.errors![0].extensions!.field).toBe('dateOfBirth');
  });

  it('refuses a date of birth that is not a real day with BAD_USER_INPUT', async () => {
    const res = await withoutWrites(() =>
      server.gql(CREATE, { i: { ...input, mrn: 'BAD-2', dateOfBirth: '1990-02-30' } }, token.frontdesk),
    );
    expect(errorCode(res)).toBe('BAD_USER_INPUT');
  });

  it('answers CONFLICT MRN_TAKEN to an MRN already used in the clinic, even with surrounding spaces, and registers nobody', async () => {
    for (const mrn of ['SUN-1001', '  SUN-1001 ']) {
      const res = await withoutWrites(() => server.gql(CREATE, { i: { ...input, mrn } }, token.frontdesk));
      expect(errorCode(res)).toBe('CONFLICT');
      expect(res.errors![0].extensions!.reason).toBe('MRN_TAKEN');
    }
  });

  it('accepts an MRN that only another clinic uses: MRNs are unique per clinic', async () => {
    const res = await server.gql(CREATE, { i: { ...input, mrn: 'SUN-1002' } }, token.lakeside);
    expect(res.errors).toBeUndefined();
    const owners = await server.db('patients').where({ mrn: 'SUN-1002' }).select('tenantId');
    expect(owners.map((row: { tenantId: string }) => row.tenantId).sort()).toEqual(
      [sunrise.tenantId, lakeside.tenantId].sort(),
    );
  });
});

describe('updatePatient', () => {
  const UPDATE = `mutation($id: ID!, $i: UpdatePatientInput!) { updatePatient(id: $id, input: $i) { ${PATIENT} } }`;
  let id: string;
  beforeAll(async () => {
    const res = await server.gql(
      CREATE,
      {
        i: { mrn: 'UPD-1', firstName: 'Rosalind', lastName: 'Franklin', dateOfBirth: '1980-07-25', phone: '555-0100' },
      },
      token.frontdesk,
    );
    id = res.data!.createPatient.id;
  });

  it('corrects the given fields, keeps the others, clears the phone with an empty string, and logs the change', async () => {
    const res = await server.gql(
      UPDATE,
      { id, i: { lastName: ' Franklin-Smith ', email: 'R.Franklin@Example.com', phone: '' } },
      token.frontdesk,
    );
    expect(res.errors).toBeUndefined();
    expect(res.data!.updatePatient).toEqual({
      id,
      mrn: 'UPD-1',
      firstName: 'Rosalind',
      lastName: 'Franklin-Smith',
      displayName: 'Rosalind Franklin-Smith',
      dateOfBirth: '1980-07-25',
      phone: null,
      email: 'r.franklin@example.com',
    });
    expect(await countRows('patientAccessLog', { patientId: id, action: 'UPDATE' })).toBe(1);
    expect(await names('franklin-')).toEqual(['Rosalind Franklin-Smith']);
  });

  it.each([['nurse'], ['admin']] as const)('lets the %s correct a patient', async (role) => {
    const res = await server.gql(UPDATE, { id, i: { phone: `555-01${role.length}` } }, token[role]);
    expect(res.data!.updatePatient.phone).toBe(`555-01${role.length}`);
  });

  it('answers FORBIDDEN to a provider and changes nothing', async () => {
    const res = await withoutWrites(() => server.gql(UPDATE, { id, i: { firstName: 'Ros' } }, token.lee));
    expect(errorCode(res)).toBe('FORBIDDEN');
  });

  it("answers NOT_FOUND to an unknown id, a malformed one, or another clinic's patient, and changes nothing", async () => {
    const theirs = await server.db('patients').where({ tenantId: lakeside.tenantId }).first('id');
    for (const other of [randomUUID(), 'nobody', theirs.id]) {
      const res = await withoutWrites(() => server.gql(UPDATE, { id: other, i: { firstName: 'X' } }, token.frontdesk));
      expect(errorCode(res)).toBe('NOT_FOUND');
    }
  });

  it('answers CONFLICT MRN_TAKEN to the MRN of another patient, and changes nothing', async () => {
    const res = await withoutWrites(() => server.gql(UPDATE, { id, i: { mrn: 'SUN-1001' } }, token.frontdesk));
    expect(errorCode(res)).toBe('CONFLICT');
    expect(res.errors![0].extensions!.reason).toBe('MRN_TAKEN');
  });

  const inTwoDays = dayInZone('America/New_York', 2);
  it.each([
    ['an empty MRN', { mrn: ' ' }, 'mrn'],
    ['a null MRN', { mrn: null }, 'mrn'],
    ['an MRN longer than 40 characters', { mrn: 'M'.repeat(41) }, 'mrn'],
    ['an empty first name', { firstName: '' }, 'firstName'],
    ['a null first name', { firstName: null }, 'firstName'],
    ['a last name longer than 100 characters', { lastName: 'L'.repeat(101) }, 'lastName'],
    ['a null last name', { lastName: null }, 'lastName'],
    ['a date of birth in the future', { dateOfBirth: inTwoDays }, 'dateOfBirth'],
    ['a null date of birth', { dateOfBirth: null }, 'dateOfBirth'],
    ['an email that is not an address', { email: 'rosalind' }, 'email'],
    ['a phone number longer than 40 characters', { phone: '5'.repeat(41) }, 'phone'],
  ])('refuses %s with BAD_USER_INPUT naming the field, and changes nothing', async (_case, change, field) => {
    const res = await withoutWrites(() => server.gql(UPDATE, { id, i: change }, token.frontdesk));
    expect(errorCode(res)).toBe('BAD_USER_INPUT');
    expect(res.errors![0].extensions!.field).toBe(field);
  });
});

describe('patient(id)', () => {
  const accessLog = (where: Record<string, unknown>) => server.db('patientAccessLog').where(where).orderBy('id');

  it('returns the patient and records the read in the access log', async () => {
    const patientId = sunrise.patients[0];
    const before = await accessLog({ patientId });
    const res = await server.gql(READ, { id: patientId }, token.nurse);
    expect(res.data!.patient).toMatchObject({
      id: patientId,
      mrn: 'SUN-1001',
      displayName: 'Olivia Bennett',
      dateOfBirth: '1984-03-12',
    });
    const after = await accessLog({ patientId });
    expect(after).toHaveLength(before.length + 1);
    expect(after.at(-1)).toMatchObject({
      tenantId: sunrise.tenantId,
      patientId,
      userId: sunrise.users.nurse,
      action: 'VIEW',
    });
  });

  it('records every read, by whoever reads', async () => {
    const patientId = sunrise.patients[1];
    await server.gql(READ, { id: patientId }, token.lee);
    await server.gql(READ, { id: patientId }, token.frontdesk);
    // Searches earlier in this file read it too, through Query.patients (access-audit.test.ts).
    const rows = await accessLog({ patientId, through: 'Query.patient' });
    expect(rows.map((r: { userId: string; action: string }) => [r.userId, r.action])).toEqual([
      [sunrise.users.lee, 'VIEW'],
      [sunrise.users.frontdesk, 'VIEW'],
    ]);
  });

  it.each([
    ['an id that is not a UUID', () => 'SUN-1001'],
    ['an unknown id', () => randomUUID()],
    ["another clinic's patient", () => lakeside.patients[0]],
  ])('returns null for %s and records nothing', async (_case, id) => {
    const before = await snapshotRows(server.db);
    const res = await server.gql(READ, { id: id() }, token.nurse);
    expect(res.errors).toBeUndefined();
    expect(res.data!.patient).toBeNull();
    expect(await snapshotRows(server.db)).toEqual(before);
  });

  it("lists the patient's appointments in a range, and refuses a range over 366 days", async () => {
    const patientId = sunrise.patients[0];
    const from = new Date(Date.now() - 3 * 24 * 3600 * 1000).toISOString();
    const to = new Date(Date.now() + 3 * 24 * 3600 * 1000).toISOString();
    const query =
      'query($id: ID!, $from: DateTime!, $to: DateTime!) { patient(id: $id) { appointments(from: $from, to: $to) { id startsAt patient { id } } } }';
    const res = await server.gql(query, { id: patientId, from, to }, token.nurse);
    const expected = await server
      .db('appointments')
      .where({ patientId })
      .andWhere('startsAt', '>=', from)
      .andWhere('startsAt', '<', to)
      .orderBy('startsAt')
      .pluck('id');
    expect(expected.length).toBeGreaterThan(0);
    expect(res.data!.patient.appointments.map((a: { id: string }) => a.id)).toEqual(expected);

    const tooLong = await server.gql(
      query,
      { id: patientId, from, to: new Date(Date.parse(from) + 367 * 24 * 3600 * 1000).toISOString() },
      token.nurse,
    );
    expect(errorCode(tooLong)).toBe('BAD_USER_INPUT');
  });
});
