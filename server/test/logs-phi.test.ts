import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { stdSerializers } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../src/logger.js';
import { CREATE_CLIENT, integrationToken, requestToken, type IntegrationCredentials } from './helpers/integrations.js';
import { instanceClients } from './helpers/instances.js';
import { spawnServer, type ServerProcess } from './helpers/process.js';
import { openSocket } from './helpers/rawSocket.js';
import { freeSlot } from './helpers/realtime.js';
import { TEST_REDIS_URL } from './helpers/services.js';
import { openEventStream } from './helpers/sse.js';
import { scratchDir } from './helpers/templates.js';
import { createTestDatabase, ENGINE } from './helpers/testServer.js';
import { collect, wsClient } from './helpers/ws.js';

/**
 * Logs never carry PHI (docs/architecture.md, "Logs"). The real server runs as its own process at LOG_LEVEL=debug,
 * everything it writes on stdout and stderr captured; a patient and a message are made with names and text nobody
 * else would write (canaries), then every transport carries them: HTTP, WebSocket and SSE, staff and an integration
 * client, subscriptions that deliver them, and bad inputs that make errors echo them. Not one canary may be in the
 * logs, and the logs must show that they did record all this traffic (a server logging nothing would pass otherwise).
 */
const tag = randomBytes(4).toString('hex');
// Letters only, so that each one passes every check on names and text, and is found whatever escapes a log applies.
const letters = (n: number) =>
  [...randomBytes(n)].map((b) => String.fromCharCode(97 + (b % 26))).join('') + tag.replace(/\d/g, 'q');
const CANARY = {
  firstName: `Zebulon${letters(6)}`,
  lastName: `Quillfeather${letters(6)}`,
  message: `canarymessage${letters(8)} about the lesion on the left forearm`,
  mrn: `MRN${letters(6)}`,
  reason: `canaryreason${letters(8)}`,
  search: `canarysearch${letters(8)}`,
  badValue: `canarybadvalue${letters(8)}`,
  subject: `canarysubject${letters(8)}`,
};

/** A server process's database: a copy of the run's template on this project's engine (with Redis on PostgreSQL). */
async function databaseEnv(): Promise<{ env: Record<string, string>; drop: () => Promise<void> }> {
  const namespace = `test-logs-${randomBytes(4).toString('hex')}`;
  if (ENGINE === 'postgres') {
    const database = await createTestDatabase();
    return {
      env: { DATABASE_URL: database.url!, REDIS_URL: TEST_REDIS_URL, REDIS_NAMESPACE: namespace },
      drop: database.drop,
    };
  }
  const dataDir = scratchDir('derm-logs-');
  return { env: { DATA_DIR: dataDir }, drop: async () => rmSync(dataDir, { recursive: true, force: true }) };
}

const PATIENT_FIELDS = 'id mrn firstName lastName displayName dateOfBirth';
const APPOINTMENT_CHANGED =
  'subscription { appointmentChanged { kind appointment { id reason patient { displayName firstName lastName } } } }';
const MESSAGE_ADDED =
  'subscription($t: ID) { messageAdded(threadId: $t) { message { id body sender { id } } cursor } }';

describe('Logs at LOG_LEVEL=debug', () => {
  let server: ServerProcess;
  let drop: () => Promise<void> = async () => {};
  const clients = instanceClients('sunrise-derm');
  let logs = '';

  beforeAll(async () => {
    // As deployed (production): Express and graphql-ws print their own errors outside tests, and those count too.
    let env: Record<string, string>;
    ({ env, drop } = await databaseEnv());
    server = await spawnServer({ ...env, NODE_ENV: 'production', LOG_LEVEL: 'debug' });
  });
  afterAll(async () => {
    await clients.dispose();
    await server?.stop();
    await drop();
  });

  it('should log every connection and operation of the traffic, and none of the patient names or message text', async () => {
    const { url } = server;
    const post = (query: string, variables: Record<string, unknown>, token?: string) =>
      clients.post(server, query, variables, token);
    const desk = await clients.login(server, 'frontdesk');
    const lee = await clients.login(server, 'lee');
    const nurse = await clients.login(server, 'nurse');
    const admin = await clients.login(server, 'admin');
    const staff = (await post('{ staff { id email role } }', {}, desk)).data.staff as Array<{
      id: string;
      email: string;
    }>;
    const leeId = staff.find((u) => u.email.startsWith('lee@'))!.id;
    const nurseId = staff.find((u) => u.email.startsWith('nurse@'))!.id;

    // Live before anything happens: staff over WebSocket (presence on connect), an integration client over SSE.
    const leeSocket = clients.connect(server, lee);
    const nurseSocket = clients.connect(server, nurse);
    const appointments = await clients.subscribedOver(server, leeSocket, APPOINTMENT_CHANGED);
    const messages = await clients.subscribedOver(server, nurseSocket, MESSAGE_ADDED);
    await clients.subscribedOver(server, leeSocket, 'subscription { presence { user { id } status } }');
    const created = await post(
      CREATE_CLIENT,
      { i: { name: `Logs ${tag}`, scopes: ['messages:read', 'patients:read'] } },
      admin,
    );
    const credentials: IntegrationCredentials = {
      id: created.data.createIntegrationClient.client.id,
      secret: created.data.createIntegrationClient.clientSecret,
    };
    const integration = await integrationToken(url, credentials);
    const sse = await openEventStream(url, integration, MESSAGE_ADDED);
    expect(sse.status).toBe(200);

    // The canary patient, read every way a patient is read.
    const patient = (
      await post(
        `mutation($i: CreatePatientInput!) { createPatient(input: $i) { ${PATIENT_FIELDS} } }`,
        {
          i: { mrn: CANARY.mrn, firstName: CANARY.firstName, lastName: CANARY.lastName, dateOfBirth: '1961-04-12' },
        },
        desk,
      )
    ).data.createPatient as { id: string };
    const read = await post(
      `query Chart($id: ID!) { patient(id: $id) { ${PATIENT_FIELDS} } }`,
      { id: patient.id },
      nurse,
    );
    expect(read.data.patient.firstName).toBe(CANARY.firstName);
    const found = await post(
      `query($s: String) { patients(search: $s) { edges { node { ${PATIENT_FIELDS} } } } }`,
      { s: CANARY.lastName },
      desk,
    );
    expect(found.data.patients.edges).toHaveLength(1);
    await post('query($s: String) { patients(search: $s) { edges { node { id } } } }', { s: CANARY.search }, desk);
    const viewers = collect(
      nurseSocket,
      'subscription($p: ID!) { patientViewersChanged(patientId: $p) { viewers { id } } }',
      {
        p: patient.id,
      },
    );

    // Booked (appointmentChanged delivers the patient's name), read on the schedule, cancelled with a reason.
    const booked = await post(
      'mutation($i: CreateAppointmentInput!) { createAppointment(input: $i) { id patient { displayName } } }',
      { i: { providerId: leeId, patientId: patient.id, ...freeSlot(), reason: CANARY.reason } },
      desk,
    );
    expect(booked.errors).toBeUndefined();
    const [event] = await appointments.waitFor(1);
    expect(JSON.stringify(event)).toContain(CANARY.firstName);
    await post('{ schedule { id reason patient { displayName firstName lastName } } }', {}, desk);
    await post(
      'mutation($id: ID!, $r: String!) { cancelAppointment(id: $id, reason: $r) { id } }',
      { id: booked.data.createAppointment.id, r: CANARY.reason },
      desk,
    );

    // A thread about the patient; the message sent over HTTP and over the socket, delivered over WebSocket and SSE.
    const thread = (
      await post(
        'mutation($i: CreateThreadInput!) { createThread(input: $i) { id } }',
        { i: { subject: CANARY.subject, participantIds: [nurseId], patientId: patient.id } },
        lee,
      )
    ).data.createThread as { id: string };
    const typing = collect(nurseSocket, 'subscription($t: ID!) { typing(threadId: $t) { user { id } isTyping } }', {
      t: thread.id,
    });
    await post('mutation($t: ID!) { setTyping(threadId: $t) }', { t: thread.id }, lee);
    await post(
      'mutation($t: ID!, $b: String!) { sendMessage(threadId: $t, body: $b) { id body } }',
      { t: thread.id, b: CANARY.message },
      lee,
    );
    const overSocket = collect(
      leeSocket,
      'mutation Send($t: ID!, $b: String!) { sendMessage(threadId: $t, body: $b) { id } }',
      {
        t: thread.id,
        b: `${CANARY.message} again`,
      },
    );
    await overSocket.completed;
    await messages.waitFor(2);
    await sse.waitFor(2);
    expect(JSON.stringify(sse.results())).toContain(CANARY.message);
    await post(
      'query Thread($t: ID!) { thread(id: $t) { subject lastMessage { body } } messages(threadId: $t) { edges { node { body } } } }',
      { t: thread.id },
      nurse,
    );
    await post('mutation { setPresenceStatus(status: BUSY) { status } }', {}, lee);

    // Bad inputs whose errors echo what was sent: to the client (which is fine), never to the logs.
    const refused = await Promise.all([
      post('query($n: Int) { patients(first: $n) { edges { node { id } } } }', { n: CANARY.badValue }, desk),
      post('query($d: LocalDate) { schedule(date: $d) { id } }', { d: CANARY.badValue }, desk),
      post(`{ patient(id: "${CANARY.badValue}") { id } }`, {}, desk),
      post(`{ patients(search: "${CANARY.search}") { edges { node { ${CANARY.badValue} } } } }`, {}, desk),
      post(
        'mutation($i: CreatePatientInput!) { createPatient(input: $i) { id } }',
        { i: { mrn: CANARY.mrn, firstName: CANARY.firstName, lastName: CANARY.lastName, dateOfBirth: '1961-04-12' } },
        desk,
      ),
      post(
        'mutation($i: CreatePatientInput!) { createPatient(input: $i) { id } }',
        {
          i: {
            mrn: `${CANARY.mrn}x`,
            firstName: `${CANARY.firstName}\u0000`,
            lastName: CANARY.lastName,
            dateOfBirth: '1961-04-12',
          },
        },
        desk,
      ),
      post(
        'mutation($t: ID!, $b: String!) { sendMessage(threadId: $t, body: $b) { id } }',
        { t: CANARY.badValue, b: CANARY.message },
        lee,
      ),
      fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${desk}` },
        body: JSON.stringify({ query: '{ me { id } }', operationName: CANARY.badValue }),
      }).then((res) => res.json()),
      fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${desk}` },
        body: `{"query": "{ me { id } }", "variables": {"x": "${CANARY.badValue}"`,
      }).then((res) => res.text()),
    ]);
    expect(JSON.stringify(refused)).toContain(CANARY.badValue);
    // Credentials that are someone's secret: a password, an integration client's secret, a token.
    const signIn = await post(
      'mutation($e: String!, $p: String!) { login(tenant: "sunrise-derm", email: $e, password: $p) { token } }',
      { e: `${CANARY.badValue}@sunrise.example`, p: CANARY.search },
    );
    expect(signIn.errors).toBeDefined();
    const secret = await requestToken(
      url,
      { grant_type: 'client_credentials' },
      {
        basic: { id: credentials.id, secret: CANARY.badValue },
      },
    );
    expect(secret.status).toBe(401);
    // A socket whose client says things in its close reason, one that reuses an operation id, one with a bad token.
    const chatty = await openSocket(url);
    chatty.send({ type: 'connection_init', payload: { authorization: `Bearer ${lee}` } });
    await chatty.waitFor((m) => m.type === 'connection_ack');
    chatty.ws.close(4000, CANARY.badValue);
    await chatty.closed;
    const reused = await openSocket(url);
    reused.send({ type: 'connection_init', payload: { authorization: `Bearer ${lee}` } });
    await reused.waitFor((m) => m.type === 'connection_ack');
    const subscribe = { type: 'subscribe', id: 'twice', payload: { query: 'subscription { presence { status } }' } };
    reused.send(subscribe);
    reused.send(subscribe);
    expect((await reused.closed).code).toBe(4409);
    const badToken = await openSocket(url);
    badToken.send({ type: 'connection_init', payload: { authorization: `Bearer ${CANARY.badValue}` } });
    expect((await badToken.closed).code).toBe(4403);
    const badSse = await openEventStream(
      url,
      integration,
      `{ patient(id: "${CANARY.badValue}") { firstName ${CANARY.badValue} } }`,
    );
    expect(badSse.status).toBe(400);
    const wsRefused = collect(leeSocket, 'query($n: Int) { patients(first: $n) { edges { node { id } } } }', {
      n: CANARY.badValue,
    });
    await wsRefused.completed;
    expect(wsRefused.results[0].errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');

    // Everything ends: subscriptions completed, sockets and streams closed, a socket refused for its token.
    viewers.stop();
    typing.stop();
    sse.close();
    // Told by the server's own line: a shutdown would end the stream otherwise, as SHUTDOWN.
    await vi.waitFor(() => expect(server.output()).toContain('"msg":"stream closed"'));
    await clients.dispose();
    const closes: unknown[] = [];
    const refusedSocket = wsClient(url, { token: 'not-a-token', onClosed: (e) => closes.push(e.code) });
    await vi.waitFor(() => expect(closes).toEqual([4403]));
    await refusedSocket.dispose();
    expect(await server.stop()).toBe(0);
    logs = server.output();

    // Not one canary, in any form a log could take.
    for (const [what, canary] of Object.entries(CANARY)) {
      const word = canary.split(' ')[0];
      expect(logs.includes(word), `${what} (${word}) is in the logs`).toBe(false);
    }

    // And it did log the traffic: operations over each transport, sockets and streams from start to end.
    const lines = logs
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, any>);
    const said = (msg: string, match: Record<string, unknown> = {}) =>
      lines.filter(
        (l) => l.msg === msg && Object.entries(match).every(([k, v]) => JSON.stringify(l[k]) === JSON.stringify(v)),
      );
    expect(
      said('operation', { transport: 'http', operationName: 'Chart', fields: ['patient'], outcome: 'ok' }),
    ).toHaveLength(1);
    expect(
      said('operation', { transport: 'http', type: 'mutation', fields: ['createPatient'], outcome: 'CONFLICT' }),
    ).toHaveLength(1);
    expect(
      said('operation', { transport: 'http', fields: ['patients'], outcome: 'BAD_USER_INPUT' }).length,
    ).toBeGreaterThan(0);
    expect(
      said('operation', { transport: 'ws', operationName: 'Send', fields: ['sendMessage'], outcome: 'ok' }),
    ).toHaveLength(1);
    expect(said('operation', { transport: 'ws', type: 'subscription', fields: ['messageAdded'] })).toHaveLength(1);
    expect(said('operation', { transport: 'ws', fields: ['patients'], outcome: 'BAD_USER_INPUT' })).toHaveLength(1);
    expect(
      said('operation', { transport: 'sse', type: 'subscription', fields: ['messageAdded'], outcome: 'ok' }),
    ).toHaveLength(1);
    expect(said('operation', { transport: 'sse', outcome: 'GRAPHQL_VALIDATION_FAILED' })).toHaveLength(1);
    const opened = said('socket opened');
    expect(opened.length).toBeGreaterThanOrEqual(6);
    expect(said('socket connection accepted', { userId: leeId })).toHaveLength(3);
    expect(said('socket connection refused', { code: 4403, outcome: 'UNAUTHENTICATED' })).toHaveLength(2);
    expect(said('socket closed', { code: 4000, reason: 'other' })).toHaveLength(1);
    expect(said('socket closed', { code: 4409, reason: 'other' })).toHaveLength(1);
    expect(said('socket operation subscribed', { type: 'subscription', fields: ['typing'] })).toHaveLength(1);
    expect(said('socket operation complete').length).toBeGreaterThanOrEqual(5);
    const closed = said('socket closed');
    expect(closed.map((l) => l.connectionId).sort()).toEqual(opened.map((l) => l.connectionId).sort());
    expect(closed.every((l) => typeof l.code === 'number' && typeof l.ms === 'number')).toBe(true);
    expect(said('stream opened', { clientId: credentials.id })).toHaveLength(1);
    expect(said('stream closed', { end: 'CLIENT_CLOSED' })).toHaveLength(1);
    // Each line says who and which request, with ids only.
    for (const line of said('operation', { transport: 'http', operationName: 'Chart' })) {
      expect(line).toMatchObject({ tenantId: expect.any(String), userId: nurseId, requestId: expect.any(String) });
    }
  });
});

describe('Logs at LOG_LEVEL=info', () => {
  it('should write nothing per connection or operation', async () => {
    const { env, drop } = await databaseEnv();
    const clients = instanceClients('sunrise-derm');
    const server = await spawnServer({ ...env, NODE_ENV: 'production', LOG_LEVEL: 'info' });
    try {
      const nurse = await clients.login(server, 'nurse');
      expect((await clients.post(server, '{ me { id } }', {}, nurse)).data.me.id).toBeDefined();
      const socket = clients.connect(server, nurse);
      const presence = await clients.subscribedOver(server, socket, 'subscription { presence { status } }');
      presence.stop();
      const sse = await openEventStream(server.url, nurse, MESSAGE_ADDED);
      expect(sse.status).toBe(200);
      sse.close();
      await clients.dispose();
    } finally {
      await server.stop();
      await drop();
    }
    const output = server.output();
    // It logged (the sign-in), and nothing of the connections and operations.
    expect(output).toContain('"msg":"user signed in"');
    expect(output).not.toMatch(/"level":20|"msg":"(operation|socket [a-z ]+|stream [a-z]+)"/);
  });
});

describe('Errors in the logs', () => {
  it('should write a database error by its code and the names involved, never the values it echoes', async () => {
    const database = await createTestDatabase();
    try {
      const { db } = database;
      const lines: string[] = [];
      const log = createLogger('info', { destination: { write: (line: string) => void lines.push(line) } });
      const [tenant] = await db('tenants').select('id').limit(1);
      const row = {
        tenantId: tenant.id,
        mrn: CANARY.mrn,
        firstName: CANARY.firstName,
        lastName: CANARY.lastName,
        dateOfBirth: '1961-04-12',
      };
      await db('patients').insert(row);
      const failed = (query: Promise<unknown>) =>
        query.then(
          () => expect.fail('the statement should fail'),
          (e: Error) => e,
        );
      const errors = [
        // PostgreSQL's detail: Key (tenant_id, mrn)=(…, <mrn>) already exists; PGlite's error also has the parameters.
        await failed(db('patients').insert(row)),
        // The message: invalid input syntax for type uuid: "<value>".
        await failed(db.raw('select ?::uuid as id', [CANARY.badValue])),
        // A check of the database's own, with the row's values in its detail.
        await failed(db('patients').insert({ ...row, mrn: `${CANARY.mrn}x`, lastName: CANARY.lastName.repeat(20) })),
      ];
      // What pino would write of them by default: the values are there.
      for (const err of errors.slice(0, 2)) expect(JSON.stringify(stdSerializers.err(err))).toMatch(/canary|MRN/i);

      for (const err of errors) log.error({ err }, 'unexpected error');
      const written = lines.join('');
      for (const [what, canary] of Object.entries(CANARY)) {
        const word = canary.split(' ')[0];
        expect(written.includes(word), `${what} (${word}) is in the logs`).toBe(false);
      }
      const logged = lines.map((line) => JSON.parse(line).err as Record<string, unknown>);
      expect(logged.map((err) => err.code)).toEqual(['23505', '22P02', '22001']);
      expect(logged[0]).toMatchObject({ constraint: 'patients_tenantid_mrn_unique', table: 'patients' });
      expect(logged[1].message).toMatch(/invalid input syntax for type uuid: "…"/);
      expect(logged[0].stack).toMatch(/^\s+at /);
    } finally {
      await database.drop();
    }
  });
});
