import { decodeJwt } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createIntegrationClient,
  integrationToken,
  requestToken,
  REVOKE_CLIENT,
  type IntegrationCredentials,
} from '../helpers/integrations.js';
import { startTestServer, type TestServer } from '../helpers/testServer.js';
import { useTestServer } from '../helpers/setup.js';

const t = useTestServer();
let server: TestServer;
let client: IntegrationCredentials;
const GRANT = { grant_type: 'client_credentials' };

beforeAll(async () => {
  ({ server } = t);
  client = await createIntegrationClient(server, ['appointments:read', 'presence:read']);
});

/** RFC 6749 §5.2: a JSON error with `error` and `error_description`, never cached. */
function expectOAuthError(
  res: { status: number; body: Record<string, any>; headers: Headers },
  status: number,
  error: string,
) {
  expect({ status: res.status, error: res.body.error }).toEqual({ status, error });
  expect(typeof res.body.error_description).toBe('string');
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.headers.get('cache-control')).toBe('no-store');
}

describe('Token endpoint: issuing tokens (RFC 6749 §4.4)', () => {
  it('should issue a short-lived bearer token with every granted scope to a client authenticating with HTTP Basic', async () => {
    const res = await requestToken(server.url, GRANT, { basic: client });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('pragma')).toBe('no-cache');
    expect(res.body).toEqual({
      access_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: 900,
      scope: 'appointments:read presence:read',
    });
    // The token carries the client, its clinic and the scopes, so every request can be checked against them.
    const claims = decodeJwt(res.body.access_token);
    const { tenantId } = await server.ids('sunrise-derm');
    expect(claims).toMatchObject({
      sub: client.id,
      client_id: client.id,
      tid: tenantId,
      scope: 'appointments:read presence:read',
    });
    expect(claims.role).toBeUndefined();
  });

  it('should accept the credentials in the body instead (RFC 6749 §2.3.1)', async () => {
    const res = await requestToken(server.url, { ...GRANT, client_id: client.id, client_secret: client.secret });
    expect(res.status).toBe(200);
    expect(res.body.token_type).toBe('Bearer');
  });

  it('should narrow the token to the scopes asked for', async () => {
    const res = await requestToken(server.url, { ...GRANT, scope: 'presence:read' }, { basic: client });
    expect(res.body.scope).toBe('presence:read');
    expect(decodeJwt(res.body.access_token).scope).toBe('presence:read');
  });

  it('should treat an empty scope parameter as left out (RFC 6749 §3.1)', async () => {
    const res = await requestToken(server.url, { ...GRANT, scope: '' }, { basic: client });
    expect(res.body.scope).toBe('appointments:read presence:read');
  });

  it('should record when the client last obtained a token', async () => {
    await integrationToken(server.url, client);
    const row = await server.db('integrationClients').where({ id: client.id }).first();
    expect(row.lastUsedAt).toBeInstanceOf(Date);
  });

  it('should let the token call the API with its scopes', async () => {
    const token = await integrationToken(server.url, client);
    const res = await server.gql('{ onlineUsers { status } }', {}, token);
    expect(res.errors).toBeUndefined();
  });
});

describe('Token endpoint: refusing (RFC 6749 §5.2)', () => {
  it('should refuse a wrong secret with 401 invalid_client and a Basic challenge', async () => {
    const res = await requestToken(server.url, GRANT, { basic: { id: client.id, secret: 'dcs_not-the-secret' } });
    expectOAuthError(res, 401, 'invalid_client');
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm="derm-realtime"/);
  });

  it.each([
    ['an unknown client id', '00000000-0000-4000-8000-000000000000'],
    ['a client id that is not a UUID', 'lab-interface'],
  ])('should refuse %s like a wrong secret', async (_case, id) => {
    const res = await requestToken(server.url, GRANT, { basic: { id, secret: client.secret } });
    expectOAuthError(res, 401, 'invalid_client');
  });

  it('should refuse a revoked client with invalid_client, and its tokens from then on', async () => {
    const doomed = await createIntegrationClient(server, ['appointments:read']);
    const token = await integrationToken(server.url, doomed);
    expect(
      (await server.gql('{ appointment(id: "00000000-0000-4000-8000-000000000000") { id } }', {}, token)).errors,
    ).toBeUndefined();
    await server.gql(REVOKE_CLIENT, { id: doomed.id }, await server.login('sunrise-derm', 'admin'));
    expectOAuthError(await requestToken(server.url, GRANT, { basic: doomed }), 401, 'invalid_client');
    const refused = await server.gql('{ appointment(id: "00000000-0000-4000-8000-000000000000") { id } }', {}, token);
    expect(refused.status).toBe(401);
    expect(refused.errors?.[0]).toMatchObject({
      message: 'This integration client has been revoked',
      extensions: { code: 'UNAUTHENTICATED' },
    });
  });

  it('should refuse no credentials at all with invalid_client', async () => {
    expectOAuthError(await requestToken(server.url, GRANT), 401, 'invalid_client');
  });

  it('should refuse a client_id in the body without its secret', async () => {
    expectOAuthError(await requestToken(server.url, { ...GRANT, client_id: client.id }), 401, 'invalid_client');
  });

  it('should refuse an Authorization header that is not Basic', async () => {
    const res = await requestToken(server.url, GRANT, { headers: { authorization: `Bearer ${client.secret}` } });
    expectOAuthError(res, 401, 'invalid_client');
  });

  it('should refuse credentials in both the header and the body (one method per request)', async () => {
    const res = await requestToken(
      server.url,
      { ...GRANT, client_id: client.id, client_secret: client.secret },
      { basic: client },
    );
    expectOAuthError(res, 400, 'invalid_request');
  });

  it('should refuse an unknown grant type with unsupported_grant_type', async () => {
    expectOAuthError(
      await requestToken(server.url, { grant_type: 'password', username: 'a', password: 'b' }, { basic: client }),
      400,
      'unsupported_grant_type',
    );
  });

  it('should refuse a request without grant_type with invalid_request', async () => {
    expectOAuthError(await requestToken(server.url, {}, { basic: client }), 400, 'invalid_request');
  });

  it('should refuse a scope the client was not granted with invalid_scope', async () => {
    const res = await requestToken(
      server.url,
      { ...GRANT, scope: 'appointments:read patients:read' },
      { basic: client },
    );
    expectOAuthError(res, 400, 'invalid_scope');
    expect(res.body.error_description).toContain('patients:read');
  });

  it('should refuse an unknown scope with invalid_scope', async () => {
    const res = await requestToken(server.url, { ...GRANT, scope: 'everything' }, { basic: client });
    expectOAuthError(res, 400, 'invalid_scope');
    expect(res.body.error_description).toContain('everything');
  });

  it('should refuse a parameter sent twice (RFC 6749 §3.2)', async () => {
    const res = await fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=client_credentials&client_id=${client.id}&client_secret=${client.secret}&client_id=${client.id}`,
    });
    expectOAuthError(
      { status: res.status, body: (await res.json()) as Record<string, any>, headers: res.headers },
      400,
      'invalid_request',
    );
  });

  it.each([
    ['JSON', 'application/json', JSON.stringify({ grant_type: 'client_credentials' })],
    ['plain text', 'text/plain', 'grant_type=client_credentials'],
    ['no content type', '', 'grant_type=client_credentials'],
  ])('should refuse a body in %s with invalid_request: the parameters are form-encoded', async (_case, type, body) => {
    const basic = `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`;
    const res = await fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: { ...(type ? { 'content-type': type } : {}), authorization: basic },
      body,
    });
    expectOAuthError(
      { status: res.status, body: (await res.json()) as Record<string, any>, headers: res.headers },
      400,
      'invalid_request',
    );
  });

  it('should refuse a body larger than a token request needs', async () => {
    const res = await requestToken(server.url, { ...GRANT, padding: 'x'.repeat(20_000) }, { basic: client });
    expectOAuthError(res, 400, 'invalid_request');
  });

  it('should answer GET with 405 and Allow: POST', async () => {
    const res = await fetch(`${server.url}/oauth/token?grant_type=client_credentials`);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });
});

describe('Integration tokens at the API', () => {
  /** A token signed with the server's key (as if the key leaked or a bug minted it) with claims of our choosing. */
  async function signed(claims: Record<string, unknown>, subject: string): Promise<string> {
    const { SignJWT } = await import('jose');
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(subject)
      .setIssuer('derm-realtime')
      .setAudience('derm-realtime')
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(new TextEncoder().encode(server.config.jwtSecret));
  }

  it.each([
    [
      'a scope this server does not know',
      (tid: string) => ({ tid, client_id: client.id, scope: 'appointments:read root', name: 'x' }),
      () => client.id,
    ],
    [
      'both a client and a staff role',
      (tid: string) => ({ tid, client_id: client.id, scope: 'appointments:read', role: 'ADMIN', name: 'x' }),
      () => client.id,
    ],
    [
      'a client id other than its subject',
      (tid: string) => ({ tid, client_id: client.id, scope: 'appointments:read', name: 'x' }),
      () => '00000000-0000-4000-8000-000000000000',
    ],
    [
      'a staff token with scopes',
      (tid: string) => ({ tid, role: 'ADMIN', scope: 'appointments:read', name: 'x' }),
      () => client.id,
    ],
  ])('should refuse a token claiming %s', async (_case, claims, subject) => {
    const { tenantId } = await server.ids('sunrise-derm');
    const res = await server.gql(
      '{ schedule(date: "2026-11-26") { id } }',
      {},
      await signed(claims(tenantId), subject()),
    );
    expect(res.status).toBe(401);
    expect(res.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });

  it("should refuse a client's token made out for another clinic", async () => {
    const { tenantId } = await server.ids('lakeside-skin');
    const res = await server.gql(
      '{ schedule(date: "2026-11-26") { id } }',
      {},
      await signed({ tid: tenantId, client_id: client.id, scope: 'appointments:read', name: 'x' }, client.id),
    );
    expect(res.status).toBe(401);
  });

  it('should expire with the configured lifetime (OAUTH_TOKEN_TTL)', async () => {
    const short = await startTestServer({ oauthTokenTtlSeconds: 60 });
    try {
      const c = await createIntegrationClient(short, ['appointments:read']);
      const res = await requestToken(short.url, GRANT, { basic: c });
      expect(res.body.expires_in).toBe(60);
      const claims = decodeJwt(res.body.access_token);
      expect(claims.exp! - claims.iat!).toBe(60);
    } finally {
      await short.stop();
    }
  });
});
