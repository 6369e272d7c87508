import { SignJWT } from 'jose';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { DEMO_PASSWORD } from '../src/db/seeds/demo.js';
import { createIntegrationClient, integrationToken } from './helpers/integrations.js';
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

  it('accepts a token until it expires and refuses it from then on, however often it was used', async () => {
    const ids = await server.ids('sunrise-derm');
    const expiresAt = Math.floor(Date.now() / 1000) + 3;
    const token = await claims({ tenantId: ids.tenantId, userId: ids.users.admin })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt()
      .setExpirationTime(expiresAt)
      .sign(new TextEncoder().encode(server.config.jwtSecret));
    for (let i = 0; i < 2; i++) {
      const res = await server.gql(ME, {}, token);
      expect(res.errors).toBeUndefined();
      expect(res.data).toMatchObject({ me: { id: ids.users.admin } });
    }
    await vi.waitFor(
      async () => {
        const res = await server.gql(ME, {}, token);
        expect(errorCode(res)).toBe('UNAUTHENTICATED');
        expect(res.errors![0].message).toMatch(/expired/);
      },
      { timeout: 10_000, interval: 100 },
    );
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt * 1000);
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

  it.each([
    ['eleven characters', 'eleven-char', 'PASSWORD_TOO_SHORT'],
    ['129 characters', 'x'.repeat(129), 'PASSWORD_TOO_LONG'],
    ['a common password', 'qwerty123456', 'PASSWORD_TOO_COMMON'],
    ['a common password in capitals', 'QWERTY123456', 'PASSWORD_TOO_COMMON'],
    ['a common word with digits and a sign appended', 'sunshine2026!!', 'PASSWORD_TOO_COMMON'],
    ["the email's name part", 'robin.hale-is-here', 'PASSWORD_CONTEXTUAL'],
    ["the clinic's short name", 'my-sunrise-derm-pass', 'PASSWORD_CONTEXTUAL'],
  ])('refuses a password of %s, says which rule, and creates nobody', async (_case, password, reason) => {
    const admin = await server.login('sunrise-derm', 'admin');
    const email = 'robin.hale@sunrise.example';
    const res = await server.gql(CREATE_USER, { i: { ...input, email, password } }, admin);
    expect(res.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'password', reason });
    expect(await server.db('users').where({ email }).first()).toBeUndefined();
  });

  it('refuses an email already used in the clinic with CONFLICT', async () => {
    const admin = await server.login('sunrise-derm', 'admin');
    const res = await server.gql(CREATE_USER, { i: { ...input, email: 'lee@sunrise.example' } }, admin);
    expect(errorCode(res)).toBe('CONFLICT');
  });
});

describe('changePassword', () => {
  const CHANGE =
    'mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { token user { id } } }';
  const signIn = async (email: string, password: string) =>
    server.gql(LOGIN, { t: 'sunrise-derm', e: email, p: password });

  it('changes it, signs out every other session of the user, and carries this client on in a new session', async () => {
    const email = 'nurse@sunrise.example';
    const first = (await signIn(email, DEMO_PASSWORD)).data!.login.token as string;
    const other = (await signIn(email, DEMO_PASSWORD)).data!.login.token as string;
    const next = 'violet-harbour-lantern-42';

    // A wrong current password, a weak new one, the same one again: refused, and nothing changes.
    const refusals: Array<[string, string, string, string]> = [
      ['not-my-password', next, 'currentPassword', 'WRONG_PASSWORD'],
      [DEMO_PASSWORD, 'password', 'newPassword', 'PASSWORD_TOO_SHORT'],
      [DEMO_PASSWORD, '1qaz2wsx3edc', 'newPassword', 'PASSWORD_TOO_COMMON'],
      [DEMO_PASSWORD, DEMO_PASSWORD, 'newPassword', 'PASSWORD_UNCHANGED'],
    ];
    for (const [current, proposed, field, reason] of refusals) {
      const res = await server.gql(CHANGE, { c: current, n: proposed }, first);
      expect(res.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field, reason });
    }
    expect(errorCode(await server.gql(ME, {}, first))).toBeUndefined();
    expect(errorCode(await signIn(email, DEMO_PASSWORD))).toBeUndefined();

    const changed = await server.gql(CHANGE, { c: DEMO_PASSWORD, n: next }, first);
    expect(changed.errors).toBeUndefined();
    const carriedOn = changed.data!.changePassword.token as string;
    expect(errorCode(await server.gql(ME, {}, carriedOn))).toBeUndefined();
    // Both earlier sessions are over; the old password no longer signs in, the new one does.
    expect((await server.gql(ME, {}, first)).status).toBe(401);
    expect((await server.gql(ME, {}, other)).status).toBe(401);
    expect(errorCode(await signIn(email, DEMO_PASSWORD))).toBe('UNAUTHENTICATED');
    expect(errorCode(await signIn(email, next))).toBeUndefined();
  });

  it('is for staff: an integration token is FORBIDDEN', async () => {
    const client = await createIntegrationClient(server, ['appointments:read']);
    const token = await integrationToken(server.url, client);
    const res = await server.gql(CHANGE, { c: DEMO_PASSWORD, n: 'violet-harbour-lantern-42' }, token);
    expect(errorCode(res)).toBe('FORBIDDEN');
  });
});
