import type { Client } from 'graphql-ws';
import {
  buildSchema as buildSdl,
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  type GraphQLField,
  type GraphQLInputType,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessRules, type Requirement } from '../../src/auth/access.js';
import { ALL_SCOPES, type Scope } from '../../src/auth/scopes.js';
import { loadTypeDefs } from '../../src/schema.js';
import { accessRulesOf } from '../../src/http/operation.js';
import { buildSchema } from '../../src/schema.js';
import { createIntegrationClient, integrationToken } from '../helpers/integrations.js';
import { openEventStream } from '../helpers/sse.js';
import { type TestServer } from '../helpers/testServer.js';
import { useTestServer } from '../helpers/setup.js';
import { collect, wsClient } from '../helpers/ws.js';
import { liveStreams, waitForStreams } from '../helpers/realtime.js';

const schema = buildSchema();
const rules = accessRulesOf(schema);
const roots = rules.rootFields();

/** Scopes that include `scope` (writing includes reading; bodies include metadata). */
const INCLUDES: Record<string, Scope[]> = {
  'appointments:read': ['appointments:write'],
  'patients:read': ['patients:write'],
  'messages:metadata': ['messages:read'],
};

/** A value of the type that passes coercion (what the field does with it is not the point here). */
function sample(type: GraphQLInputType): unknown {
  const inner = getNullableType(type);
  if (isListType(inner)) return [sample(inner.ofType)];
  if (isEnumType(inner)) return inner.getValues()[0].value;
  if (isInputObjectType(inner)) {
    return Object.fromEntries(
      Object.values(inner.getFields())
        .filter((f) => isNonNullType(f.type))
        .map((f) => [f.name, sample(f.type)]),
    );
  }
  if (isScalarType(inner)) {
    return (
      {
        ID: '00000000-0000-4000-8000-000000000000',
        String: 'x',
        Int: 1,
        Boolean: true,
        DateTime: '2030-01-01T00:00:00.000Z',
        LocalDate: '2000-01-01',
      } as Record<string, unknown>
    )[inner.name];
  }
  throw new Error(`no sample for ${String(type)}`);
}

/** The smallest valid operation that selects one root field, with its required arguments as variables. */
function operationFor(coordinate: string, field: GraphQLField<unknown, unknown>) {
  const [root] = coordinate.split('.');
  const required = field.args.filter((a) => isNonNullType(a.type));
  const defs = required.map((a) => `$${a.name}: ${String(a.type)}`).join(', ');
  const args = required.map((a) => `${a.name}: $${a.name}`).join(', ');
  const selection = isObjectType(getNamedType(field.type)) ? ' { __typename }' : '';
  const query = `${root.toLowerCase()}${defs ? `(${defs})` : ''} { ${field.name}${args ? `(${args})` : ''}${selection} }`;
  return { query, variables: Object.fromEntries(required.map((a) => [a.name, sample(a.type)])) };
}

const describeRequirement = (r: Requirement) => (r.kind === 'scope' ? r.scope : r.kind);

const t = useTestServer();
let server: TestServer;
/** One integration token per scope set, cached. */
const tokens = new Map<string, Promise<string>>();
const sockets: Client[] = [];

function tokenWith(scopes: readonly Scope[]): Promise<string> {
  const key = [...scopes].sort().join(' ');
  let token = tokens.get(key);
  if (!token)
    tokens.set(
      key,
      (token = createIntegrationClient(server, [...scopes]).then((c) => integrationToken(server.url, c))),
    );
  return token;
}

beforeAll(async () => {
  ({ server } = t);
});
afterAll(async () => {
  await Promise.all(sockets.map((s) => s.dispose()));
});

describe('Scope requirements in the schema', () => {
  it('should give every root field exactly one requirement: @public, @staffOnly or @requiresScope', () => {
    expect(roots.length).toBeGreaterThan(40);
    for (const { coordinate, requirement } of roots) expect(requirement, coordinate).toBeDefined();
    // Printed for the reader of a failing run: the whole table.
    const table = Object.fromEntries(roots.map((r) => [r.coordinate, describeRequirement(r.requirement)]));
    expect(table['Mutation.login']).toBe('public');
    expect(table['Query.schedule']).toBe('appointments:read');
    expect(table['Subscription.appointmentChanged']).toBe('appointments:read');
    expect(table['Query.me']).toBe('staff');
  });

  it('should refuse to start with a root field that says nothing about who may use it', () => {
    const sdl = loadTypeDefs().join('\n') + '\nextend type Query { forgotten: Int }';
    expect(() => new AccessRules(buildSdl(sdl))).toThrow(/Query\.forgotten says nothing about who may use it/);
  });

  it('should refuse to start with a scope that does not exist', () => {
    const sdl =
      loadTypeDefs().join('\n') + '\nextend type Query { typo: Int @requiresScope(scope: "appointment:read") }';
    expect(() => new AccessRules(buildSdl(sdl))).toThrow(/unknown scope "appointment:read"/);
  });

  it('should name only scopes an admin can grant', () => {
    const named = new Set(roots.flatMap((r) => (r.requirement.kind === 'scope' ? [r.requirement.scope] : [])));
    for (const scope of named) expect(ALL_SCOPES).toContain(scope);
  });
});

describe('Scope enforcement on every root field', () => {
  const queriesAndMutations = roots.filter((r) => !r.coordinate.startsWith('Subscription.'));
  const subscriptions = roots.filter((r) => r.coordinate.startsWith('Subscription.'));

  it.each(queriesAndMutations.filter((r) => r.requirement.kind === 'scope').map((r) => [r.coordinate, r] as const))(
    'should refuse %s over HTTP to a token without its scope: 403 FORBIDDEN naming the scope',
    async (coordinate, { field, requirement }) => {
      const scope = (requirement as { scope: Scope }).scope;
      const others = ALL_SCOPES.filter((s) => s !== scope && !(INCLUDES[scope] ?? []).includes(s));
      const { query, variables } = operationFor(coordinate, field);
      const res = await server.gql(query, variables, await tokenWith(others));
      expect(res.status).toBe(403);
      expect(res.data).toBeUndefined();
      expect(res.errors).toEqual([
        {
          message: `${coordinate} needs the scope ${scope}, which this token does not carry`,
          extensions: { code: 'FORBIDDEN', field: coordinate, scope },
        },
      ]);
      // ...and lets a token with that scope (only) past the check: whatever the field answers, it is not a scope error.
      const allowed = await server.gql(query, variables, await tokenWith([scope]));
      expect((allowed.errors ?? []).filter((e) => e.extensions?.code === 'FORBIDDEN')).toEqual([]);
      expect(allowed.status).not.toBe(403);
    },
  );

  it.each(queriesAndMutations.filter((r) => r.requirement.kind === 'staff').map((r) => [r.coordinate, r] as const))(
    'should refuse %s to an integration client, whatever its scopes: it is for signed-in staff',
    async (coordinate, { field }) => {
      const { query, variables } = operationFor(coordinate, field);
      const res = await server.gql(query, variables, await tokenWith(ALL_SCOPES));
      expect(res.status).toBe(403);
      expect(res.errors).toEqual([
        {
          message: `${coordinate} is for signed-in staff; integration clients cannot use it`,
          extensions: { code: 'FORBIDDEN', field: coordinate },
        },
      ]);
    },
  );

  it.each(queriesAndMutations.filter((r) => r.requirement.kind !== 'public').map((r) => [r.coordinate, r] as const))(
    'should refuse %s without a token: 401 UNAUTHENTICATED before it runs',
    async (coordinate, { field }) => {
      const { query, variables } = operationFor(coordinate, field);
      const res = await server.gql(query, variables);
      expect(res.status).toBe(401);
      expect(res.data).toBeUndefined();
      expect(res.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    },
  );

  it.each(subscriptions.map((r) => [r.coordinate, r] as const))(
    'should refuse %s over WebSocket and SSE to a token without what it needs',
    async (coordinate, { field, requirement }) => {
      const scope = requirement.kind === 'scope' ? requirement.scope : null;
      const token = await tokenWith(
        scope ? ALL_SCOPES.filter((s) => s !== scope && !(INCLUDES[scope] ?? []).includes(s)) : ALL_SCOPES,
      );
      const { query, variables } = operationFor(coordinate, field);
      const expected = scope
        ? {
            message: `${coordinate} needs the scope ${scope}, which this token does not carry`,
            extensions: { code: 'FORBIDDEN', field: coordinate, scope },
          }
        : {
            message: `${coordinate} is for signed-in staff; integration clients cannot use it`,
            extensions: { code: 'FORBIDDEN', field: coordinate },
          };

      const socket = wsClient(server.url, { token });
      sockets.push(socket);
      const sub = collect(socket, query, variables);
      await expect(sub.failed).rejects.toEqual([expected]);

      const stream = await openEventStream(server.url, token, query, variables);
      expect(stream.status).toBe(403);
      expect(stream.body).toEqual({ errors: [expected] });
    },
  );

  it('should let staff through every field their role may use, as before', async () => {
    const nurse = await server.login('sunrise-derm', 'nurse');
    const res = await server.gql(
      '{ me { email } threads { subject unreadCount } notifications { id } schedule(date: "2030-01-01") { id } }',
      {},
      nurse,
    );
    expect(res.errors).toBeUndefined();
  });
});

describe('Message bodies', () => {
  const THREAD =
    'query($id: ID!) { thread(id: $id) { id lastActivityAt participants { name } lastMessage { id createdAt sender { name } } } }';
  let threadId: string;
  beforeAll(async () => {
    threadId = (await server.db('threads').first('id')).id;
  });

  it('should give messages:metadata who wrote in which thread and when, and no text', async () => {
    const token = await tokenWith(['messages:metadata']);
    const res = await server.gql(THREAD, { id: threadId }, token);
    expect(res.errors).toBeUndefined();
    expect(res.data!.thread.lastMessage.sender.name).toBeTruthy();
  });

  it.each([
    ['a message body', 'query($id: ID!) { thread(id: $id) { lastMessage { body } } }', 'Message.body'],
    ['a thread subject', 'query($id: ID!) { thread(id: $id) { subject } }', 'Thread.subject'],
    ['a body in a subscription', 'subscription { messageAdded { message { body } } }', 'Message.body'],
  ])('should refuse %s without messages:read', async (_case, query, coordinate) => {
    const token = await tokenWith(['messages:metadata']);
    const errors = query.startsWith('subscription')
      ? (await openEventStream(server.url, token, query)).body.errors
      : (await server.gql(query, { id: threadId }, token)).errors;
    expect(errors).toEqual([
      expect.objectContaining({ extensions: { code: 'FORBIDDEN', field: coordinate, scope: 'messages:read' } }),
    ]);
  });

  it('should give the text with messages:read', async () => {
    const res = await server.gql(
      'query($id: ID!) { thread(id: $id) { subject lastMessage { body } } }',
      { id: threadId },
      await tokenWith(['messages:read']),
    );
    expect(res.errors).toBeUndefined();
    expect(res.data!.thread.lastMessage.body).toBeTruthy();
  });

  it("should keep a staff member's own unread count from integration clients", async () => {
    const res = await server.gql(
      'query($id: ID!) { thread(id: $id) { unreadCount } }',
      { id: threadId },
      await tokenWith(ALL_SCOPES),
    );
    expect(res.errors?.[0].extensions).toEqual({ code: 'FORBIDDEN', field: 'Thread.unreadCount' });
  });

  it('should refuse a scope reached through a fragment, not only through a field of the operation', async () => {
    const res = await server.gql(
      'query($id: ID!) { thread(id: $id) { ...T } } fragment T on Thread { lastMessage { ... on Message { body } } }',
      { id: threadId },
      await tokenWith(['messages:metadata']),
    );
    expect(res.errors?.[0].extensions).toMatchObject({ field: 'Message.body', scope: 'messages:read' });
  });
});

describe('What an integration client may do with its scopes', () => {
  it('should read patients with patients:read, and audit each read under the client', async () => {
    const client = await createIntegrationClient(server, ['patients:read']);
    const token = await integrationToken(server.url, client);
    const [patientId] = (await server.ids('sunrise-derm')).patients;
    const res = await server.gql('query($id: ID!) { patient(id: $id) { displayName } }', { id: patientId }, token);
    expect(res.errors).toBeUndefined();
    const audit = await server.db('patientAccessLog').where({ patientId, integrationClientId: client.id });
    expect(audit).toEqual([expect.objectContaining({ userId: null, action: 'VIEW' })]);
  });

  it("should refuse a patient's record behind an appointment to appointments:read alone", async () => {
    const res = await server.gql(
      '{ schedule(date: "2030-01-01") { id patient { displayName } } }',
      {},
      await tokenWith(['appointments:read']),
    );
    expect(res.errors?.[0].extensions).toMatchObject({ field: 'Patient.displayName', scope: 'patients:read' });
  });

  it('should book with appointments:write, and see what it booked (write includes read)', async () => {
    const { users, patients } = await server.ids('sunrise-derm');
    const res = await server.gql(
      'mutation($i: CreateAppointmentInput!) { createAppointment(input: $i) { id status provider { name } } }',
      {
        i: {
          providerId: users.lee,
          patientId: patients[0],
          startsAt: '2031-03-03T15:00:00Z',
          endsAt: '2031-03-03T15:30:00Z',
          reason: 'Booked by a partner',
        },
      },
      await tokenWith(['appointments:write']),
    );
    expect(res.errors).toBeUndefined();
    expect(res.data!.createAppointment).toMatchObject({ status: 'SCHEDULED', provider: { name: 'Dr. Maya Lee' } });
  });

  it("should see every staff member's new notifications with notifications:read, each with its recipient", async () => {
    const token = await tokenWith(['notifications:read']);
    const socket = wsClient(server.url, { token });
    sockets.push(socket);
    const before = liveStreams(server);
    const sub = collect(socket, 'subscription { notification { cursor notification { title recipient { name } } } }');
    const { users } = await server.ids('sunrise-derm');
    const nurse = await server.login('sunrise-derm', 'nurse');
    // Once the server counts the subscription live, an alert to the front desk reaches the client.
    await waitForStreams(server, (live) => live > before);
    await server.gql(
      'mutation($i: SendAlertInput!) { sendAlert(input: $i) { id } }',
      { i: { userId: users.frontdesk, kind: 'ALERT', title: 'Room 2 ready' } },
      nurse,
    );
    const [event] = await sub.waitFor(1);
    expect(event.data!.notification.notification).toEqual({ title: 'Room 2 ready', recipient: { name: 'Jordan Kim' } });
  });

  it('should not count an integration client as online staff', async () => {
    const socket = wsClient(server.url, { token: await tokenWith(['presence:read']) });
    sockets.push(socket);
    const before = liveStreams(server);
    const sub = collect(socket, 'subscription { presence { status } }');
    // Live: its connection was opened (and would have been announced) before the subscription ran.
    await waitForStreams(server, (live) => live > before);
    const res = await server.gql('{ onlineUsers { user { name } } }', {}, await tokenWith(['presence:read']));
    expect(res.data!.onlineUsers).toEqual([]);
    sub.stop();
  });
});
