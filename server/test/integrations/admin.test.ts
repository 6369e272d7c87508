import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CREATE_CLIENT,
  createIntegrationClient,
  integrationToken,
  LIST_CLIENTS,
  REVOKE_CLIENT,
} from '../helpers/integrations.js';
import { errorCode, type TestServer } from '../helpers/testServer.js';
import { useTestServer } from '../helpers/setup.js';

const t = useTestServer();
let server: TestServer;
let admin: string;

beforeAll(async () => {
  ({ server } = t);
  admin = await server.login('sunrise-derm', 'admin');
});

describe('Creating integration clients', () => {
  it('should show the secret once and keep only its SHA-256', async () => {
    const res = await server.gql(
      CREATE_CLIENT,
      { i: { name: '  Lab interface (Quest)  ', scopes: ['patients:read', 'appointments:read', 'patients:read'] } },
      admin,
    );
    expect(res.errors).toBeUndefined();
    const { client, clientSecret } = res.data!.createIntegrationClient;
    expect(client).toMatchObject({
      name: 'Lab interface (Quest)',
      scopes: ['appointments:read', 'patients:read'],
      revokedAt: null,
      createdBy: { email: 'admin@sunrise.example' },
    });
    expect(clientSecret).toMatch(/^dcs_[\w-]{43}$/);
    const row = await server.db('integrationClients').where({ id: client.id }).first();
    expect(row.secretHash).toBe(createHash('sha256').update(clientSecret).digest('hex'));
    expect(JSON.stringify(row)).not.toContain(clientSecret.slice(4));
    // Nothing in the API gives the secret again.
    const listed = await server.gql(LIST_CLIENTS, {}, admin);
    expect(JSON.stringify(listed.data)).not.toContain(clientSecret);
  });

  it.each([
    [
      'an unknown scope',
      { name: 'x', scopes: ['appointments:read', 'everything'] },
      'scopes',
      /Unknown scope "everything"; the scopes are appointments:read, /,
    ],
    ['no scope', { name: 'x', scopes: [] }, 'scopes', /Grant at least one scope/],
    ['an empty name', { name: '   ', scopes: ['presence:read'] }, 'name', /name must be 1 to 120 characters long/],
    ['a name too long', { name: 'x'.repeat(121), scopes: ['presence:read'] }, 'name', /name must be 1 to 120/],
  ])(
    'should refuse %s with BAD_USER_INPUT naming the field, and create nothing',
    async (_case, input, field, message) => {
      const before = await server.db('integrationClients').count('* as n').first();
      const res = await server.gql(CREATE_CLIENT, { i: input }, admin);
      expect(res.errors?.[0]).toMatchObject({
        message: expect.stringMatching(message),
        extensions: { code: 'BAD_USER_INPUT', field },
      });
      expect(await server.db('integrationClients').count('* as n').first()).toEqual(before);
    },
  );

  it.each([
    ['a provider', 'lee'],
    ['a nurse', 'nurse'],
  ] as const)('should refuse %s: admins only', async (_case, key) => {
    const res = await server.gql(
      CREATE_CLIENT,
      { i: { name: 'x', scopes: ['presence:read'] } },
      await server.login('sunrise-derm', key),
    );
    expect(errorCode(res)).toBe('FORBIDDEN');
    expect(
      (await server.gql(LIST_CLIENTS, {}, await server.login('sunrise-derm', key))).errors?.[0].extensions?.code,
    ).toBe('FORBIDDEN');
  });

  it('should refuse an integration client managing clients, whatever its scopes', async () => {
    const client = await createIntegrationClient(server, [
      'appointments:write',
      'patients:write',
      'messages:read',
      'notifications:read',
      'presence:read',
      'staff:read',
    ]);
    const res = await server.gql(
      CREATE_CLIENT,
      { i: { name: 'x', scopes: ['presence:read'] } },
      await integrationToken(server.url, client),
    );
    expect(res.status).toBe(403);
    expect(res.errors?.[0].extensions).toEqual({ code: 'FORBIDDEN', field: 'Mutation.createIntegrationClient' });
  });
});

describe('Listing and revoking', () => {
  it('should list the active clients of the admin’s clinic only, and revoked ones on request', async () => {
    const mine = await createIntegrationClient(server, ['presence:read'], 'sunrise-derm', 'Reminder service');
    const theirs = await createIntegrationClient(server, ['presence:read'], 'lakeside-skin', 'Lakeside bridge');
    await server.gql(REVOKE_CLIENT, { id: mine.id }, admin);
    const active = (await server.gql(LIST_CLIENTS, { all: false }, admin)).data!.integrationClients as { id: string }[];
    const all = (await server.gql(LIST_CLIENTS, { all: true }, admin)).data!.integrationClients as {
      id: string;
      revokedAt: string | null;
    }[];
    expect(active.map((c) => c.id)).not.toContain(mine.id);
    expect(all.find((c) => c.id === mine.id)?.revokedAt).toBeTruthy();
    expect(all.map((c) => c.id)).not.toContain(theirs.id);
  });

  it("should answer another clinic's client, or none, with NOT_FOUND", async () => {
    const theirs = await createIntegrationClient(server, ['presence:read'], 'lakeside-skin');
    for (const id of [theirs.id, '00000000-0000-4000-8000-000000000000', 'not-an-id']) {
      expect(errorCode(await server.gql(REVOKE_CLIENT, { id }, admin))).toBe('NOT_FOUND');
    }
    expect(await integrationToken(server.url, theirs)).toBeTruthy();
  });

  it('should keep the first revocation time when revoked twice', async () => {
    const client = await createIntegrationClient(server, ['presence:read']);
    const first = (await server.gql(REVOKE_CLIENT, { id: client.id }, admin)).data!.revokeIntegrationClient.revokedAt;
    await new Promise((r) => setTimeout(r, 20));
    const second = (await server.gql(REVOKE_CLIENT, { id: client.id }, admin)).data!.revokeIntegrationClient.revokedAt;
    expect(second).toBe(first);
  });
});

describe('Tenant isolation for integration clients', () => {
  it("should give a client its own clinic's data only, the clinic coming from its token", async () => {
    const client = await createIntegrationClient(server, ['staff:read'], 'lakeside-skin');
    const res = await server.gql('{ staff { email } }', {}, await integrationToken(server.url, client));
    const emails = (res.data!.staff as { email: string }[]).map((s) => s.email);
    expect(emails.length).toBeGreaterThan(0);
    expect(emails.every((e) => e.endsWith('@lakeside.example'))).toBe(true);
  });
});
