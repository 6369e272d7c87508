import { SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PASSWORD } from '../src/db/seeds/demo.js';
import { errorCode, type TestServer } from './helpers/testServer.js';
import { useTestServer } from './helpers/setup.js';

const t = useTestServer();
let server: TestServer;
beforeAll(async () => {
  ({ server } = t);
});

const LOGIN =
  'mutation($t: String!, $e: String!, $p: String!) { login(tenant: $t, email: $e, password: $p) { token expiresAt user { name role tenant { slug } } } }';
const ME = '{ me { id name role email tenant { slug name } } }';

function claims(ids: { tenantId: string; userId: string }) {
  return new SignJWT({ tid: ids.tenantId, role: 'ADMIN', name: 'Mallory' })
    .setSubject(ids.userId)
    .setIssuer('derm-realtime')
    .setAudience('derm-realtime')
    .setIssuedAt();
}

describe('login', () => {
  it('returns a token and the user for the right clinic, email and password', async () => {
    const res = await server.gql(LOGIN, { t: 'sunrise-derm', e: 'lee@sunrise.example', p: DEMO_PASSWORD });
    expect(res.errors).toBeUndefined();
    expect(res.data!.login.user).toEqual({ name: 'Dr. Maya Lee', role: 'PROVIDER', tenant: { slug: 'sunrise-derm' } });
    expect(new Date(res.data!.login.expiresAt).getTime()).toBeGreaterThan(Date.now());
    const me = await server.gql(ME, {}, res.data!.login.token);
    expect(me.data!.me).toMatchObject({
      name: 'Dr. Maya Lee',
      email: 'lee@sunrise.example',
      tenant: { slug: 'sunrise-derm' },
    });
  });

  it('accepts the email in any case and the clinic slug with surrounding spaces', async () => {
    const res = await server.gql(LOGIN, { t: ' Sunrise-Derm ', e: 'LEE@sunrise.example', p: DEMO_PASSWORD });
    expect(res.data!.login.user.name).toBe('Dr. Maya Lee');
  });

  it.each([
    ['a wrong password', 'sunrise-derm', 'lee@sunrise.example', 'not-the-password'],
    ['an unknown email', 'sunrise-derm', 'nobody@sunrise.example', DEMO_PASSWORD],
    ['an unknown clinic', 'no-such-clinic', 'lee@sunrise.example', DEMO_PASSWORD],
    ["another clinic's user", 'lakeside-skin', 'lee@sunrise.example', DEMO_PASSWORD],
  ])('refuses %s with the same UNAUTHENTICATED answer', async (_case, t, e, p) => {
    const res = await server.gql(LOGIN, { t, e, p });
    expect(res.data).toBeNull();
    expect(errorCode(res)).toBe('UNAUTHENTICATED');
    expect(res.errors![0].message).toBe('Unknown clinic, email or password');
  });
});

describe('bearer tokens', () => {
  it('asks for a token when none is sent', async () => {
    const res = await server.gql(ME);
    expect(errorCode(res)).toBe('UNAUTHENTICATED');
    // Refused before it runs (the schema's access rules): no `data` at all, and 401 (GraphQL over HTTP).
    expect(res.data).toBeUndefined();
    expect(res.status).toBe(401);
  });

  it.each([
    ['a malformed token', 'not-a-jwt'],
    ['a token with a broken payload', 'eyJhbGciOiJIUzI1NiJ9.!!!.abc'],
  ])('refuses %s with 401 UNAUTHENTICATED', async (_case, token) => {
    const res = await server.gql(ME, {}, token);
    expect(res.status).toBe(401);
    expect(errorCode(res)).toBe('UNAUTHENTICATED');
  });

  it('refuses an Authorization header that is not a bearer token', async () => {
    const res = await server.gql(ME, {}, null, { authorization: 'Basic dXNlcjpwYXNz' });
    expect(res.status).toBe(401);
    expect(errorCode(res)).toBe('UNAUTHENTICATED');
  });

  it('refuses an expired token and says so', async () => {
    const ids = await server.ids('sunrise-derm');
    const token = await claims({ tenantId: ids.tenantId, userId: ids.users.admin })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(new TextEncoder().encode(server.config.jwtSecret));
    const res = await server.gql(ME, {}, token);
    expect(errorCode(res)).toBe('UNAUTHENTICATED');
    expect(res.errors![0].message).toMatch(/expired/);
  });

  it('refuses a token signed with another key', async () => {
    const ids = await server.ids('sunrise-derm');
    const token = await claims({ tenantId: ids.tenantId, userId: ids.users.admin })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('another-secret-that-is-long-enough-to-use'));
    const res = await server.gql(ME, {}, token);
    expect(errorCode(res)).toBe('UNAUTHENTICATED');
  });

  it('refuses an unsigned token (alg: none)', async () => {
    const ids = await server.ids('sunrise-derm');
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const token = `${enc({ alg: 'none', typ: 'JWT' })}.${enc({
      sub: ids.users.admin,
      tid: ids.tenantId,
      role: 'ADMIN',
      name: 'Mallory',
      iss: 'derm-realtime',
      aud: 'derm-realtime',
      iat: now,
      exp: now + 3600,
    })}.`;
    const res = await server.gql(ME, {}, token);
    expect(errorCode(res)).toBe('UNAUTHENTICATED');
  });

  it('refuses a token signed with another algorithm even with the right key', async () => {
    const ids = await server.ids('sunrise-derm');
    const token = await claims({ tenantId: ids.tenantId, userId: ids.users.admin })
      .setProtectedHeader({ alg: 'HS512' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(server.config.jwtSecret.padEnd(64, 'x')));
    const res = await server.gql(ME, {}, token);
    expect(errorCode(res)).toBe('UNAUTHENTICATED');
  });
});

describe('roles', () => {
  const CREATE_USER = 'mutation($i: CreateUserInput!) { createUser(input: $i) { id email name role } }';
  const input = { email: 'New.Nurse@sunrise.example', name: 'Robin Hale', role: 'NURSE', password: 'a-long-password' };

  it('lets an admin create a staff account who can then sign in', async () => {
    const admin = await server.login('sunrise-derm', 'admin');
    const res = await server.gql(CREATE_USER, { i: input }, admin);
    expect(res.errors).toBeUndefined();
    expect(res.data!.createUser).toMatchObject({ email: 'new.nurse@sunrise.example', role: 'NURSE' });
    const login = await server.gql(LOGIN, { t: 'sunrise-derm', e: 'new.nurse@sunrise.example', p: 'a-long-password' });
    expect(login.data!.login.user.name).toBe('Robin Hale');
  });

  it('answers FORBIDDEN to a role that may not manage staff, and creates nobody', async () => {
    const frontDesk = await server.login('sunrise-derm', 'frontdesk');
    const res = await server.gql(CREATE_USER, { i: { ...input, email: 'sneaky@sunrise.example' } }, frontDesk);
    expect(errorCode(res)).toBe('FORBIDDEN');
    expect(await server.db('users').where({ email: 'sneaky@sunrise.example' }).first()).toBeUndefined();
  });

  it.each([
    ['a short password', { password: 'short' }, 'password'],
    ['an invalid email', { email: 'not-an-email' }, 'email'],
    ['an empty name', { name: '   ' }, 'name'],
  ])('refuses %s with BAD_USER_INPUT naming the field', async (_case, change, field) => {
    const admin = await server.login('sunrise-derm', 'admin');
    const res = await server.gql(CREATE_USER, { i: { ...input, email: 'x1@sunrise.example', ...change } }, admin);
    expect(errorCode(res)).toBe('BAD_USER_INPUT');
    expect(res.errors![0].extensions!.field).toBe(field);
  });

  it('refuses an email already used in the clinic with CONFLICT', async () => {
    const admin = await server.login('sunrise-derm', 'admin');
    const res = await server.gql(CREATE_USER, { i: { ...input, email: 'lee@sunrise.example' } }, admin);
    expect(errorCode(res)).toBe('CONFLICT');
  });
});
