import { randomUUID } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { IntegrationViewer } from '../src/auth/tokens.js';
import type { PatientAccessRow } from '../src/db/rows.js';
import { AccessGrant, grantOf } from '../src/domains/patients/accessAudit.js';
import { createIntegrationClient, integrationToken } from './helpers/integrations.js';
import { freeSlot, subscribeLive, waitForStreams } from './helpers/realtime.js';
import { useSockets, useTestServer } from './helpers/setup.js';
import { openAcknowledged } from './helpers/rawSocket.js';
import { openEventStream } from './helpers/sse.js';
import { errorCode, type GraphQLResponse } from './helpers/testServer.js';
import { dayInZone } from './helpers/time.js';
import { collect } from './helpers/ws.js';

const t = useTestServer();
const sockets = useSockets(t);

const READ = 'query($id: ID!) { patient(id: $id) { id displayName } }';
const SCHEDULED_PATIENT = `subscription { appointmentChanged { appointment { id patient { displayName } } } }`;
const BOOK = 'mutation($i: CreateAppointmentInput!) { createAppointment(input: $i) { id } }';
const LOG = `query($patientId: ID, $userId: ID, $integrationClientId: ID, $from: LocalDate, $to: LocalDate, $first: Int, $after: String) {
  patientAccessLog(patientId: $patientId, userId: $userId, integrationClientId: $integrationClientId, from: $from, to: $to, first: $first, after: $after) {
    edges { cursor node { id at action transport through requestId patient { id } user { id } integrationClient { id } } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}`;

type Entry = PatientAccessRow;

/** The entries written since `since` (an id), oldest first. */
async function entriesAfter(since: number, where: Partial<Entry> = {}): Promise<Entry[]> {
  return t.server.db('patientAccessLog').where(where).andWhere('id', '>', since).orderBy('id');
}

async function lastEntryId(): Promise<number> {
  const [{ max }] = await t.server.db('patientAccessLog').max({ max: 'id' });
  return Number(max ?? 0);
}

/** Counts the INSERT statements into the access log while `run` runs (and until its writes have settled). */
async function auditInserts(run: () => Promise<unknown>): Promise<number> {
  let inserts = 0;
  const onQuery = (q: { sql: string }) => {
    if (/^insert into "?patient_access_log\b/i.test(q.sql)) inserts += 1;
  };
  t.server.db.on('query', onQuery);
  try {
    await run();
    await t.server.app.services.audit.settled();
  } finally {
    t.server.db.off('query', onQuery);
  }
  return inserts;
}

let nurse: string;
let admin: string;
let patientA: string;

beforeAll(async () => {
  nurse = await t.token('nurse');
  admin = await t.token('admin');
  [patientA] = t.sunrise.patients;
});

describe('Reads over HTTP', () => {
  it('should record patient(id) with who, which patient, the transport, the field path and the request id', async () => {
    const since = await lastEntryId();
    const res = await t.server.gql(READ, { id: patientA }, nurse, { 'x-request-id': 'audit-http-1' });
    expect(res.data!.patient.id).toBe(patientA);
    expect(await entriesAfter(since)).toEqual([
      expect.objectContaining({
        tenantId: t.sunrise.tenantId,
        patientId: patientA,
        userId: t.sunrise.users.nurse,
        integrationClientId: null,
        action: 'VIEW',
        transport: 'HTTP',
        through: 'Query.patient',
        requestId: 'audit-http-1',
      }),
    ]);
  });

  it('should record each patient of a search page, through the connection', async () => {
    const since = await lastEntryId();
    const res = await t.server.gql('{ patients(first: 3) { edges { node { id } } } }', {}, nurse);
    const ids = res.data!.patients.edges.map((e: { node: { id: string } }) => e.node.id);
    expect(ids).toHaveLength(3);
    const entries = await entriesAfter(since);
    expect(entries.map((e) => e.patientId).sort()).toEqual([...ids].sort());
    expect(new Set(entries.map((e) => e.through))).toEqual(
      new Set(['Query.patients > PatientConnection.edges > PatientEdge.node']),
    );
  });

  it("should record an appointment's patient by the schema's names, whatever the aliases", async () => {
    const [appointment] = await t.server.db('appointments').where({ tenantId: t.sunrise.tenantId }).limit(1);
    const since = await lastEntryId();
    const res = await t.server.gql(
      'query($id: ID!) { visit: appointment(id: $id) { who: patient { id } ...P } } fragment P on Appointment { patient { displayName } }',
      { id: appointment.id },
      nurse,
    );
    expect(res.errors).toBeUndefined();
    expect(await entriesAfter(since)).toEqual([
      expect.objectContaining({ patientId: appointment.patientId, through: 'Query.appointment > Appointment.patient' }),
    ]);
  });

  it('should record the patient of a thread', async () => {
    const since = await lastEntryId();
    const res = await t.server.gql('{ threads { id patient { id } } }', {}, nurse);
    expect(res.errors).toBeUndefined();
    const withPatient = res.data!.threads.filter((th: { patient: unknown }) => th.patient);
    expect(withPatient.length).toBeGreaterThan(0);
    const entries = await entriesAfter(since);
    expect(entries.map((e) => e.through)).toContain('Query.threads > Thread.patient');
  });

  it('should record nothing for an operation that reads no patient', async () => {
    const since = await lastEntryId();
    expect(await auditInserts(() => t.server.gql('{ me { id } schedule { id status } }', {}, nurse))).toBe(0);
    expect(await entriesAfter(since)).toEqual([]);
  });

  it('should write the reads of a 50-appointment schedule in one statement, one entry per patient', async () => {
    const day = '2034-03-01';
    const patients: string[] = [];
    for (let i = 0; i < 50; i++) patients.push(randomUUID());
    await t.server.db('patients').insert(
      patients.map((id, i) => ({
        id,
        tenantId: t.sunrise.tenantId,
        mrn: `SCHED-${i}`,
        firstName: `Pat${i}`,
        lastName: 'Schedule',
        dateOfBirth: '1990-01-01',
      })),
    );
    // Noon in New York, fifty 10-minute visits with two providers: all on the clinic's day.
    const start = Date.parse('2034-03-01T15:00:00Z');
    await t.server.db('appointments').insert(
      patients.map((patientId, i) => ({
        tenantId: t.sunrise.tenantId,
        providerId: i % 2 ? t.sunrise.users.lee : t.sunrise.users.patel,
        patientId,
        startsAt: new Date(start + Math.floor(i / 2) * 10 * 60_000),
        endsAt: new Date(start + (Math.floor(i / 2) + 1) * 10 * 60_000),
        status: 'SCHEDULED',
      })),
    );
    const since = await lastEntryId();
    let res: GraphQLResponse | undefined;
    const inserts = await auditInserts(async () => {
      res = await t.server.gql(
        'query($d: LocalDate) { schedule(date: $d) { id patient { displayName } again: patient { mrn } } }',
        { d: day },
        nurse,
      );
    });
    expect(res!.data!.schedule).toHaveLength(50);
    expect(inserts).toBe(1);
    const entries = await entriesAfter(since);
    expect(entries).toHaveLength(50);
    expect(new Set(entries.map((e) => e.patientId))).toEqual(new Set(patients));
    expect(new Set(entries.map((e) => e.through))).toEqual(new Set(['Query.schedule > Appointment.patient']));
  });

  it('should record an integration client as the reader, never a user', async () => {
    const client = await createIntegrationClient(t.server, ['patients:read']);
    const token = await integrationToken(t.server.url, client);
    const since = await lastEntryId();
    const res = await t.server.gql(READ, { id: patientA }, token);
    expect(res.errors).toBeUndefined();
    expect(await entriesAfter(since)).toEqual([
      expect.objectContaining({ userId: null, integrationClientId: client.id, transport: 'HTTP' }),
    ]);
  });

  it('should record CREATE and UPDATE in the transaction of the change', async () => {
    const since = await lastEntryId();
    const created = await t.server.gql(
      'mutation($i: CreatePatientInput!) { createPatient(input: $i) { id } }',
      { i: { mrn: `AUD-${randomUUID().slice(0, 8)}`, firstName: 'Ada', lastName: 'Audit', dateOfBirth: '1970-01-01' } },
      nurse,
    );
    const id = created.data!.createPatient.id as string;
    await t.server.gql('mutation($id: ID!) { updatePatient(id: $id, input: { phone: "555" }) { id } }', { id }, nurse);
    const entries = await entriesAfter(since, { patientId: id });
    expect(entries.map((e) => [e.action, e.through])).toEqual([
      ['CREATE', 'Mutation.createPatient'],
      ['UPDATE', 'Mutation.updatePatient'],
    ]);
  });
});

describe('Reads over WebSocket and SSE', () => {
  it('should record a query over WebSocket with its transport', async () => {
    const since = await lastEntryId();
    const result = collect(sockets.open(nurse), READ, { id: patientA });
    await result.waitFor(1);
    expect(await entriesAfter(since)).toEqual([
      expect.objectContaining({ patientId: patientA, transport: 'WEBSOCKET', through: 'Query.patient' }),
    ]);
  });

  it('should record a query over SSE with its transport', async () => {
    const since = await lastEntryId();
    const stream = await openEventStream(t.server.url, nurse, READ, { id: patientA });
    await stream.waitFor(1);
    stream.close();
    expect(await entriesAfter(since)).toEqual([
      expect.objectContaining({ patientId: patientA, transport: 'SSE', through: 'Query.patient' }),
    ]);
  });

  it("should record every subscriber sent an event's patient, from one execution and one insert", async () => {
    const [lee, patel] = [await t.token('lee'), await t.token('patel')];
    const client = await createIntegrationClient(t.server, ['patients:read', 'appointments:read']);
    const integration = await integrationToken(t.server.url, client);
    // Two providers share one delivery group over WebSocket; the integration client listens over SSE.
    const a = await subscribeLive(t.server, sockets.open(lee), SCHEDULED_PATIENT);
    const b = await subscribeLive(t.server, sockets.open(patel), SCHEDULED_PATIENT);
    const streams = t.server.app.services.realtime.streams.count;
    const sse = await openEventStream(t.server.url, integration, SCHEDULED_PATIENT);
    await waitForStreams(t.server, streams + 1);
    const since = await lastEntryId();
    const inserts = await auditInserts(async () => {
      const booked = await t.server.gql(
        BOOK,
        { i: { patientId: patientA, providerId: t.sunrise.users.lee, ...freeSlot() } },
        nurse,
      );
      expect(booked.errors).toBeUndefined();
      await Promise.all([a.waitFor(1), b.waitFor(1), sse.waitFor(1)]);
      await vi.waitFor(async () => expect(await entriesAfter(since)).toHaveLength(3));
    });
    sse.close();
    const through = 'Subscription.appointmentChanged > AppointmentEvent.appointment > Appointment.patient';
    const entries = await entriesAfter(since);
    expect(entries.map((e) => [e.userId ?? e.integrationClientId, e.transport, e.through]).sort()).toEqual(
      [
        [t.sunrise.users.lee, 'WEBSOCKET', through],
        [t.sunrise.users.patel, 'WEBSOCKET', through],
        [client.id, 'SSE', through],
      ].sort(),
    );
    expect(entries.every((e) => e.patientId === patientA)).toBe(true);
    // One statement per group at most (two groups here: staff of one role, and the integration's scopes).
    expect(inserts).toBeLessThanOrEqual(2);
  });
});

describe('Operation ids chosen by clients', () => {
  it('should record a subscriber whose operation id holds quotes, backslashes, commas and braces, as it is', async () => {
    const socket = await openAcknowledged(t.server.url, await t.token('lee'));
    const id = 'op "1" \\ {a,b}';
    const streams = t.server.app.services.realtime.streams.count;
    socket.send({ id, type: 'subscribe', payload: { query: SCHEDULED_PATIENT } });
    await waitForStreams(t.server, streams + 1);
    const since = await lastEntryId();
    const booked = await t.server.gql(
      BOOK,
      { i: { patientId: patientA, providerId: t.sunrise.users.lee, ...freeSlot() } },
      nurse,
    );
    expect(booked.errors).toBeUndefined();
    await socket.waitFor((m) => m.type === 'next' && m.id === id);
    await vi.waitFor(async () => {
      const [entry] = await entriesAfter(since, { userId: t.sunrise.users.lee });
      expect(entry?.requestId?.endsWith(`/${id}`)).toBe(true);
    });
    socket.ws.close();
  });
});

describe('Reads by signals and by a resume', () => {
  it("should record each subscriber sent a chart's viewers with its patient", async () => {
    const chart = t.sunrise.patients[1];
    const viewers = 'subscription($p: ID!) { patientViewersChanged(patientId: $p) { patient { displayName } } }';
    const since = await lastEntryId();
    const nurseSees = await subscribeLive(t.server, sockets.open(nurse), viewers, { p: chart });
    await nurseSees.waitFor(1);
    // Dr. Lee opening the chart is a signal to both: each is sent the patient.
    const leeSees = await subscribeLive(t.server, sockets.open(await t.token('lee')), viewers, { p: chart });
    await Promise.all([nurseSees.waitFor(2), leeSees.waitFor(1)]);
    const through = 'Subscription.patientViewersChanged > PatientViewersEvent.patient';
    await vi.waitFor(async () => {
      const entries = await entriesAfter(since, { patientId: chart, through });
      expect(entries.filter((e) => e.userId === t.sunrise.users.nurse)).toHaveLength(2);
      expect(entries.filter((e) => e.userId === t.sunrise.users.lee)).toHaveLength(1);
    });
  });

  it('should record what a resume replays from the log', async () => {
    const query =
      'subscription($after: String) { appointmentChanged(after: $after) { cursor appointment { patient { id } } } }';
    const first = await subscribeLive(t.server, sockets.open(nurse), query);
    const booked = await t.server.gql(
      BOOK,
      { i: { patientId: patientA, providerId: t.sunrise.users.patel, ...freeSlot() } },
      nurse,
    );
    expect(booked.errors).toBeUndefined();
    const [event] = await first.waitFor(1);
    const cursor = event.data!.appointmentChanged.cursor as string;
    await t.server.gql(BOOK, { i: { patientId: patientA, providerId: t.sunrise.users.patel, ...freeSlot() } }, nurse);
    await first.waitFor(2);
    first.stop();
    await t.server.app.services.audit.settled();
    const since = await lastEntryId();
    const resumed = await subscribeLive(t.server, sockets.open(await t.token('frontdesk')), query, { after: cursor });
    await resumed.waitFor(1);
    await vi.waitFor(async () =>
      expect(await entriesAfter(since, { userId: t.sunrise.users.frontdesk })).toEqual([
        expect.objectContaining({
          patientId: patientA,
          transport: 'WEBSOCKET',
          through: 'Subscription.appointmentChanged > AppointmentEvent.appointment > Appointment.patient',
        }),
      ]),
    );
  });
});

describe('When the audit cannot be written', () => {
  afterEach(async () => {
    await t.server.db.raw('alter table patient_access_log drop constraint if exists audit_refuses_all');
  });

  it('should withhold the record over HTTP and WebSocket with SERVICE_UNAVAILABLE (AUDIT_UNAVAILABLE)', async () => {
    await t.server.db.raw('alter table patient_access_log add constraint audit_refuses_all check (false) not valid');
    const http = await t.server.gql(READ, { id: patientA }, nurse);
    expect(http.status).toBe(503);
    expect(http.data).toBeUndefined();
    expect(http.errors![0].extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', reason: 'AUDIT_UNAVAILABLE' });
    const ws = collect(sockets.open(nurse), READ, { id: patientA });
    const [result] = await ws.waitFor(1);
    expect(result.data).toBeUndefined();
    expect(result.errors![0].extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', reason: 'AUDIT_UNAVAILABLE' });
  });

  it('should deliver a subscription event, then write its entries once the database takes them again', async () => {
    const sub = await subscribeLive(t.server, sockets.open(await t.token('lee')), SCHEDULED_PATIENT);
    await t.server.db.raw('alter table patient_access_log add constraint audit_refuses_all check (false) not valid');
    const since = await lastEntryId();
    const booked = await t.server.gql(
      BOOK,
      { i: { patientId: patientA, providerId: t.sunrise.users.lee, ...freeSlot() } },
      nurse,
    );
    expect(booked.errors).toBeUndefined();
    const [event] = await sub.waitFor(1);
    expect(event.data!.appointmentChanged.appointment.patient).toBeTruthy();
    // Delivered, its entry refused: it waits for the next try (0.5 s, then 2 s…).
    await t.server.app.services.audit.settled();
    expect(await entriesAfter(since)).toEqual([]);
    await t.server.db.raw('alter table patient_access_log drop constraint audit_refuses_all');
    await vi.waitFor(
      async () =>
        expect(await entriesAfter(since)).toEqual([
          expect.objectContaining({ patientId: patientA, userId: t.sunrise.users.lee, transport: 'WEBSOCKET' }),
        ]),
      { timeout: 10_000, interval: 100 },
    );
  });
});

describe('The audit writer', () => {
  /** An integration client of Sunrise as the writer's reader, the way its token's verification makes one. */
  const integrationViewer = (clientId: string): IntegrationViewer => ({
    kind: 'integration',
    clientId,
    tenantId: t.sunrise.tenantId,
    name: 'audit test',
    scopes: ['patients:read'],
    expiresAt: Date.now() + 60_000,
  });

  it('should write thousands of entries in one statement', async () => {
    const since = await lastEntryId();
    // An integration client of its own: the searches below page through the nurse's entries.
    const client = await createIntegrationClient(t.server, ['patients:read']);
    const reader = integrationViewer(client.id);
    const reads = Array.from({ length: 6000 }, (_, i) => ({
      patientId: patientA,
      through: `Test.read${i}`,
      at: new Date(),
    }));
    const inserts = await auditInserts(() =>
      t.server.app.services.audit.write(grantOf(reads, reader, 'HTTP', 'audit-bulk')),
    );
    expect(inserts).toBe(1);
    expect(await entriesAfter(since, { requestId: 'audit-bulk' })).toHaveLength(6000);
  });

  it("should write each event's own readers when a large group's readers change between events", async () => {
    // A group's members are the readers of each event it delivers; the columns of a large group's readers are built
    // once and reused while its members stay the same, and must never be once one differs, even at the same count.
    // Integration clients of their own as the readers: other tests page through the staff's entries.
    const clients = [
      (await createIntegrationClient(t.server, ['patients:read'])).id,
      (await createIntegrationClient(t.server, ['patients:read'])).id,
    ];
    const viewers = clients.map((id) => integrationViewer(id));
    const readerAt = (i: number, requestId: string) => ({
      viewer: viewers[i % 2],
      origin: { via: 'WEBSOCKET' as const, requestId },
    });
    const run = randomUUID();
    const members = Array.from({ length: 200 }, (_, i) => readerAt(i, `${run}/${i}`));
    const oneReplaced = members.map((m, i) => (i === 117 ? readerAt(i, `${run}/replaced`) : m));
    const reads = [{ patientId: patientA, through: 'Test.groupRead', at: new Date() }];
    for (const readers of [members, members, oneReplaced, members]) {
      const grant = new AccessGrant(t.sunrise.tenantId, reads);
      for (const reader of readers) grant.add(reader);
      const since = await lastEntryId();
      await t.server.app.services.audit.write([grant]);
      const written = await entriesAfter(since, { through: 'Test.groupRead' });
      expect(written.map((e) => [e.requestId, e.integrationClientId]).sort()).toEqual(
        readers.map((r) => [r.origin.requestId, r.viewer.clientId]).sort(),
      );
    }
  });
});

describe('patientAccessLog', () => {
  it('should list the entries of a patient newest first, with their reader, for an admin', async () => {
    await t.server.gql(READ, { id: patientA }, nurse, { 'x-request-id': 'audit-list-1' });
    const res = await t.server.gql(LOG, { patientId: patientA, first: 5 }, admin);
    expect(res.errors).toBeUndefined();
    const nodes = res.data!.patientAccessLog.edges.map((e: { node: any }) => e.node);
    expect(nodes[0]).toMatchObject({
      action: 'VIEW',
      transport: 'HTTP',
      through: 'Query.patient',
      requestId: 'audit-list-1',
      patient: { id: patientA },
      user: { id: t.sunrise.users.nurse },
      integrationClient: null,
    });
    const times = nodes.map((n: { at: string }) => Date.parse(n.at));
    expect(times).toEqual([...times].sort((x, y) => y - x));
  });

  it('should page with first and after, without losing or repeating an entry', async () => {
    const all = await t.server.gql(LOG, { userId: t.sunrise.users.nurse, first: 200 }, admin);
    const ids = all.data!.patientAccessLog.edges.map((e: { node: { id: string } }) => e.node.id);
    expect(ids.length).toBeGreaterThan(4);
    const paged: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: any = await t.server.gql(LOG, { userId: t.sunrise.users.nurse, first: 3, after }, admin);
      paged.push(...page.data.patientAccessLog.edges.map((e: { node: { id: string } }) => e.node.id));
      if (!page.data.patientAccessLog.pageInfo.hasNextPage) break;
      after = page.data.patientAccessLog.pageInfo.endCursor;
    }
    expect(paged).toEqual(ids);
  });

  it("should take from and to as days of the clinic's time zone, both included", async () => {
    await t.server.gql(READ, { id: patientA }, nurse);
    const today = dayInZone('America/New_York');
    const yesterday = dayInZone('America/New_York', -1);
    const tomorrow = dayInZone('America/New_York', 1);
    const count = async (from: string, to: string) =>
      (await t.server.gql(LOG, { patientId: patientA, from, to, first: 200 }, admin)).data!.patientAccessLog.edges
        .length as number;
    expect(await count(today, today)).toBeGreaterThan(0);
    expect(await count(yesterday, yesterday)).toBe(0);
    expect(await count(tomorrow, tomorrow)).toBe(0);
  });

  it("should count a day from the clinic's midnight on the day its clocks fall back", async () => {
    // New York, Sunday 1 November 2026: midnight is 04:00Z (EDT), the next midnight 05:00Z (EST), 25 hours later.
    const patientId = t.sunrise.patients[3];
    const at = ['2026-11-01T03:59:00Z', '2026-11-01T04:01:00Z', '2026-11-02T04:59:00Z', '2026-11-02T05:01:00Z'];
    await t.server.db('patientAccessLog').insert(
      at.map((instant) => ({
        tenantId: t.sunrise.tenantId,
        patientId,
        userId: t.sunrise.users.patel,
        action: 'VIEW',
        transport: 'HTTP',
        through: 'Test.dst',
        at: new Date(instant),
      })),
    );
    const res = await t.server.gql(
      LOG,
      { patientId, userId: t.sunrise.users.patel, from: '2026-11-01', to: '2026-11-01' },
      admin,
    );
    const seen = res.data!.patientAccessLog.edges.map((e: { node: { at: string } }) =>
      new Date(e.node.at).toISOString(),
    );
    expect(seen).toEqual(['2026-11-02T04:59:00.000Z', '2026-11-01T04:01:00.000Z']);
    // The CSV writes each with the offset of its instant.
    const csv = await fetch(
      `${t.server.url}/audit/patient-access.csv?patientId=${patientId}&userId=${t.sunrise.users.patel}&from=2026-11-01&to=2026-11-01`,
      { headers: { authorization: `Bearer ${admin}` } },
    );
    const times = (await csv.text())
      .split('\r\n')
      .slice(1, -1)
      .map((line) => line.split(',')[0]);
    expect(times).toEqual(['2026-11-01T23:59:00.000-05:00', '2026-11-01T00:01:00.000-04:00']);
  });

  it('should filter by integration client', async () => {
    const client = await createIntegrationClient(t.server, ['patients:read']);
    await t.server.gql(READ, { id: patientA }, await integrationToken(t.server.url, client));
    const res = await t.server.gql(LOG, { integrationClientId: client.id }, admin);
    expect(res.data!.patientAccessLog.edges.map((e: { node: any }) => e.node.integrationClient)).toEqual([
      { id: client.id },
    ]);
  });

  it.each([
    ['from after to', { from: '2026-12-02', to: '2026-12-01' }, 'to'],
    ['a patient id that is not an id', { patientId: 'SUN-1001' }, 'patientId'],
    ['a user id that is not an id', { userId: 'nurse' }, 'userId'],
    ['an integration client id that is not an id', { integrationClientId: '42' }, 'integrationClientId'],
    ['a page of 0', { first: 0 }, 'first'],
    ['a page of more than 200', { first: 201 }, 'first'],
    ['a cursor this API did not give', { after: 'bm90IGEgY3Vyc29y' }, 'after'],
  ])('should refuse %s with BAD_USER_INPUT naming the field', async (_case, variables, field) => {
    const res = await t.server.gql(LOG, variables, admin);
    expect(errorCode(res)).toBe('BAD_USER_INPUT');
    expect(res.errors![0].extensions!.field).toBe(field);
  });

  it('should refuse a day that is not one', async () => {
    const res = await t.server.gql(LOG, { from: '2026-02-30' }, admin);
    expect(errorCode(res)).toBe('BAD_USER_INPUT');
  });

  it('should be FORBIDDEN to staff who are not admins and to integration clients', async () => {
    expect(errorCode(await t.server.gql(LOG, {}, nurse))).toBe('FORBIDDEN');
    const client = await createIntegrationClient(t.server, ['patients:read']);
    const res = await t.server.gql(LOG, {}, await integrationToken(t.server.url, client));
    expect(errorCode(res)).toBe('FORBIDDEN');
  });

  it("should show another clinic's admin nothing of this clinic", async () => {
    const lakesideAdmin = await t.token('admin', 'lakeside-skin');
    const byPatient = await t.server.gql(LOG, { patientId: patientA }, lakesideAdmin);
    expect(byPatient.data!.patientAccessLog.edges).toEqual([]);
    const byUser = await t.server.gql(LOG, { userId: t.sunrise.users.nurse }, lakesideAdmin);
    expect(byUser.data!.patientAccessLog.edges).toEqual([]);
    const all = await t.server.gql(LOG, { first: 200 }, lakesideAdmin);
    const sunrisePatients = new Set(t.sunrise.patients);
    for (const edge of all.data!.patientAccessLog.edges) expect(sunrisePatients.has(edge.node.patient.id)).toBe(false);
  });
});

describe('GET /audit/patient-access.csv', () => {
  const exportCsv = (query: string, token: string | null) =>
    fetch(`${t.server.url}/audit/patient-access.csv${query}`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });

  it("should stream the entries as CSV, times in the clinic's zone with its offset, fields escaped", async () => {
    const created = await t.server.gql(
      'mutation($i: CreatePatientInput!) { createPatient(input: $i) { id } }',
      {
        i: {
          mrn: `CSV-${randomUUID().slice(0, 8)}`,
          firstName: '=HYPERLINK("x")',
          lastName: 'O"Neil, Jr',
          dateOfBirth: '1970-01-01',
        },
      },
      nurse,
    );
    const id = created.data!.createPatient.id as string;
    await t.server.gql(READ, { id }, nurse);
    const res = await exportCsv(`?patientId=${id}`, admin);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toMatch(
      /^attachment; filename="patient-access-sunrise-derm.*\.csv"$/,
    );
    const lines = (await res.text()).split('\r\n');
    expect(lines[0]).toBe(
      'time,action,patient_id,patient_mrn,patient_name,reader_kind,reader_id,reader_name,transport,through,request_id',
    );
    expect(lines.at(-1)).toBe('');
    const [view, create] = lines.slice(1, 3);
    expect(view).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}-0[45]:00,VIEW,/);
    expect(view).toContain(`,"'=HYPERLINK(""x"") O""Neil, Jr",user,${t.sunrise.users.nurse},`);
    expect(view).toContain(',HTTP,Query.patient,');
    expect(create).toContain(',CREATE,');
  });

  it('should stream every entry over many pages, and audit the names it gives once per patient', async () => {
    // This patient has thousands of entries by now ("The audit writer"): the export reads them 1,000 at a time.
    const [{ n }] = await t.server.db('patientAccessLog').where({ patientId: patientA }).count({ n: '*' });
    expect(Number(n)).toBeGreaterThan(2000);
    const since = await lastEntryId();
    const res = await exportCsv(`?patientId=${patientA}`, admin);
    expect(res.status).toBe(200);
    const lines = (await res.text()).split('\r\n').slice(1, -1);
    expect(lines).toHaveLength(Number(n));
    expect(new Set(lines.map((line) => line.split(',')[2]))).toEqual(new Set([patientA]));
    // The 6,000 written at once, many in the same millisecond: each once, across the pages' seams.
    const bulk = lines.filter((line) => line.endsWith(',audit-bulk')).map((line) => line.split(',')[9]);
    expect(new Set(bulk).size).toBe(6000);
    expect(await entriesAfter(since)).toEqual([
      expect.objectContaining({
        patientId: patientA,
        userId: t.sunrise.users.admin,
        transport: 'HTTP',
        through: 'GET /audit/patient-access.csv',
      }),
    ]);
  });

  it('should answer 503 (AUDIT_UNAVAILABLE) and send nothing when the names it would give cannot be audited', async () => {
    await t.server.db.raw('alter table patient_access_log add constraint audit_refuses_all check (false) not valid');
    try {
      const res = await exportCsv(`?patientId=${patientA}`, admin);
      expect(res.status).toBe(503);
      expect((await res.json()).errors[0].extensions).toMatchObject({
        code: 'SERVICE_UNAVAILABLE',
        reason: 'AUDIT_UNAVAILABLE',
      });
    } finally {
      await t.server.db.raw('alter table patient_access_log drop constraint audit_refuses_all');
    }
  });

  it('should answer 401 without a valid token, 403 to other staff and integration clients, 400 to a bad filter', async () => {
    const unauthenticated = await exportCsv('', null);
    expect(unauthenticated.status).toBe(401);
    expect((await unauthenticated.json()).errors[0].extensions.code).toBe('UNAUTHENTICATED');
    expect((await exportCsv('', 'not-a-token')).status).toBe(401);
    const staff = await exportCsv('', nurse);
    expect(staff.status).toBe(403);
    expect((await staff.json()).errors[0].extensions.code).toBe('FORBIDDEN');
    const client = await createIntegrationClient(t.server, ['patients:read']);
    expect((await exportCsv('', await integrationToken(t.server.url, client))).status).toBe(403);
    const bad = await exportCsv('?from=2026-12-05&to=2026-12-01', admin);
    expect(bad.status).toBe(400);
    expect((await bad.json()).errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'to' });
    expect((await exportCsv('?userId=x', admin)).status).toBe(400);
    expect((await exportCsv('?from=a&from=b', admin)).status).toBe(400);
  });
});
