import { randomUUID } from 'node:crypto';
import { generate } from 'otplib';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { createIntegrationClient, integrationToken } from './helpers/integrations.js';
import { dataOf, errorCode, type GraphQLResponse, type TestServer } from './helpers/testServer.js';
import { useTestServer } from './helpers/setup.js';

const t = useTestServer();
let server: TestServer;
let admin: string;
beforeAll(async () => {
  ({ server } = t);
  admin = await server.login('sunrise-derm', 'admin');
});

const LOGIN = `mutation($t: String!, $e: String!, $p: String!, $c: String) {
  login(tenant: $t, email: $e, password: $p, code: $c) { token recoveryCodes user { id } }
}`;
const STATUS = '{ secondFactor { enabled enabledAt recoveryCodesLeft requiredByClinic } }';
const START = 'mutation { startTotpEnrolment { secret otpauthUri } }';
const CONFIRM = `mutation($c: String!) {
  confirmTotpEnrolment(code: $c) { recoveryCodes status { enabled recoveryCodesLeft } }
}`;
const DISABLE = 'mutation($c: String!) { disableSecondFactor(code: $c) { enabled recoveryCodesLeft } }';
const RESET = 'mutation($u: ID!) { resetSecondFactor(userId: $u) }';
const REQUIRE = 'mutation($r: Boolean!) { requireSecondFactor(required: $r) { slug secondFactorRequired } }';
const CREATE_USER = 'mutation($i: CreateUserInput!) { createUser(input: $i) { id } }';

const PERIOD = 30;

/**
 * The code an authenticator app shows `steps` time steps from now. Tests that use codes first wait until the current
 * step has a few seconds left (`awayFromStepEnd`), so a code computed here is checked in the step it was meant for.
 */
const codeAt = (secret: string, steps = 0) =>
  generate({ secret, epoch: Math.floor(Date.now() / 1000) + steps * PERIOD });

async function awayFromStepEnd(): Promise<void> {
  await vi.waitFor(
    () => {
      const intoStep = (Date.now() / 1000) % PERIOD;
      if (intoStep > PERIOD - 8) throw new Error(`${intoStep.toFixed(1)} s into the step: wait for the next one`);
    },
    { timeout: 10_000, interval: 250 },
  );
}

interface Staff {
  id: string;
  tenant: 'sunrise-derm' | 'lakeside-skin';
  email: string;
  password: string;
  token: string;
}

/** A staff member of their own for each test (demo users stay as they are), signed in with their password. */
async function newStaff(tenant: Staff['tenant'] = 'sunrise-derm', adminToken?: string): Promise<Staff> {
  const email = `staff-${randomUUID().slice(0, 8)}@${tenant}.example`;
  const password = 'violet-harbour-lantern-42';
  const by = adminToken ?? (await server.login(tenant, 'admin'));
  const { createUser } = dataOf(
    await server.gql(CREATE_USER, { i: { email, name: 'Robin Hale', role: 'NURSE', password } }, by),
  );
  const token = dataOf(await server.gql(LOGIN, { t: tenant, e: email, p: password })).login.token as string;
  return { id: createUser.id, tenant, email, password, token };
}

const signIn = (s: Staff, code?: string | null): Promise<GraphQLResponse> =>
  server.gql(LOGIN, { t: s.tenant, e: s.email, p: s.password, c: code });

/** Enrols and confirms a TOTP factor with the current code; answers the secret and the recovery codes. */
async function enrolled(s: Staff): Promise<{ secret: string; recoveryCodes: string[] }> {
  const { secret } = dataOf(await server.gql(START, {}, s.token)).startTotpEnrolment;
  const confirmed = dataOf(await server.gql(CONFIRM, { c: await codeAt(secret) }, s.token));
  return { secret, recoveryCodes: confirmed.confirmTotpEnrolment.recoveryCodes };
}

const reasonOf = (res: GraphQLResponse) => res.errors?.[0]?.extensions?.reason;

describe('enrolment', () => {
  it('starts with a secret and an otpauth URI, and turns on only once a code of it is confirmed', async () => {
    await awayFromStepEnd();
    const s = await newStaff();
    expect(dataOf(await server.gql(STATUS, {}, s.token)).secondFactor).toEqual({
      enabled: false,
      enabledAt: null,
      recoveryCodesLeft: 0,
      requiredByClinic: false,
    });
    const { secret, otpauthUri } = dataOf(await server.gql(START, {}, s.token)).startTotpEnrolment;
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    const uri = new URL(otpauthUri);
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.host).toBe('totp');
    expect(decodeURIComponent(uri.pathname)).toContain(s.email);
    expect(uri.searchParams.get('secret')).toBe(secret);
    expect(uri.searchParams.get('issuer')).toBe('Derm Realtime (Sunrise Dermatology)');

    // Not active yet: the password alone still signs in.
    expect(errorCode(await signIn(s))).toBeUndefined();

    // A wrong code is refused and leaves the factor off.
    const wrong = await server.gql(CONFIRM, { c: await codeAt(secret, 3) }, s.token);
    expect(errorCode(wrong)).toBe('SECOND_FACTOR_INVALID');
    expect(reasonOf(wrong)).toBe('CODE_WRONG');
    expect(dataOf(await server.gql(STATUS, {}, s.token)).secondFactor.enabled).toBe(false);

    const confirmed = dataOf(await server.gql(CONFIRM, { c: await codeAt(secret) }, s.token)).confirmTotpEnrolment;
    expect(confirmed.status).toEqual({ enabled: true, recoveryCodesLeft: 10 });
    expect(confirmed.recoveryCodes).toHaveLength(10);
    expect(new Set(confirmed.recoveryCodes).size).toBe(10);
    for (const code of confirmed.recoveryCodes)
      expect(code).toMatch(/^[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}$/);
    // Stored as hashes only: no code is readable in the database.
    const stored = await server.db('recoveryCodes').where({ userId: s.id }).pluck('codeHash');
    expect(stored).toHaveLength(10);
    for (const code of confirmed.recoveryCodes) expect(stored.join()).not.toContain(code.replace(/-/g, ''));

    const status = dataOf(await server.gql(STATUS, {}, s.token)).secondFactor;
    expect(status).toMatchObject({ enabled: true, recoveryCodesLeft: 10 });
    expect(new Date(status.enabledAt).getTime()).toBeGreaterThan(Date.now() - 60_000);
  });

  it('refuses to start another enrolment while a factor is on, and to confirm what was never started', async () => {
    await awayFromStepEnd();
    const s = await newStaff();
    const none = await server.gql(CONFIRM, { c: '123456' }, s.token);
    expect(errorCode(none)).toBe('CONFLICT');
    expect(reasonOf(none)).toBe('NO_ENROLMENT');
    await enrolled(s);
    const again = await server.gql(START, {}, s.token);
    expect(errorCode(again)).toBe('CONFLICT');
    expect(reasonOf(again)).toBe('SECOND_FACTOR_ENABLED');
  });

  it('a second start replaces the pending secret: a code of the first one no longer confirms', async () => {
    await awayFromStepEnd();
    const s = await newStaff();
    const first = dataOf(await server.gql(START, {}, s.token)).startTotpEnrolment.secret as string;
    const second = dataOf(await server.gql(START, {}, s.token)).startTotpEnrolment.secret as string;
    expect(second).not.toBe(first);
    expect(errorCode(await server.gql(CONFIRM, { c: await codeAt(first) }, s.token))).toBe('SECOND_FACTOR_INVALID');
    expect(errorCode(await server.gql(CONFIRM, { c: await codeAt(second) }, s.token))).toBeUndefined();
  });

  it('is for staff: an integration token is FORBIDDEN, no token UNAUTHENTICATED', async () => {
    expect(errorCode(await server.gql(START, {}))).toBe('UNAUTHENTICATED');
    expect(errorCode(await server.gql(STATUS, {}))).toBe('UNAUTHENTICATED');
    const client = await createIntegrationClient(server, ['staff:read']);
    const token = await integrationToken(server.url, client);
    for (const [query, variables] of [
      [START, {}],
      [STATUS, {}],
      [REQUIRE, { r: true }],
      [RESET, { u: randomUUID() }],
    ] as const)
      expect(errorCode(await server.gql(query, variables, token))).toBe('FORBIDDEN');
  });
});

describe('sign-in with a second factor', () => {
  it('asks for a code after the right password, and signs in with the current one', async () => {
    await awayFromStepEnd();
    const s = await newStaff();
    const { secret } = await enrolled(s);

    const asked = await signIn(s);
    expect(asked.data).toBeNull();
    expect(errorCode(asked)).toBe('SECOND_FACTOR_REQUIRED');
    expect(reasonOf(asked)).toBe('CODE_NEEDED');
    expect(asked.errors![0].extensions!.enrolment).toBeUndefined();

    // A wrong password is still the plain UNAUTHENTICATED: nothing says a factor exists.
    const wrongPassword = await server.gql(LOGIN, { t: s.tenant, e: s.email, p: 'not-the-password', c: null });
    expect(errorCode(wrongPassword)).toBe('UNAUTHENTICATED');

    // The confirmation spent the current step's code; the app's next code (one step of drift) signs in.
    const res = await signIn(s, await codeAt(secret, 1));
    expect(errorCode(res)).toBeUndefined();
    expect(res.data!.login.user.id).toBe(s.id);
    expect(res.data!.login.recoveryCodes).toBeNull();
    expect(errorCode(await server.gql(STATUS, {}, res.data!.login.token))).toBeUndefined();
  });

  it('refuses a wrong code, a code two steps off, and a code used already within its window', async () => {
    await awayFromStepEnd();
    const s = await newStaff();
    const { secret } = await enrolled(s);

    const wrong = await signIn(s, (Number(await codeAt(secret, 1)) ^ 1).toString().padStart(6, '0'));
    expect(errorCode(wrong)).toBe('SECOND_FACTOR_INVALID');
    expect(reasonOf(wrong)).toBe('CODE_WRONG');
    // Two steps ahead: checked well before the step ends, so it is still two steps ahead when the server looks.
    await awayFromStepEnd();
    expect(reasonOf(await signIn(s, await codeAt(secret, 2)))).toBe('CODE_WRONG');
    expect(reasonOf(await signIn(s, await codeAt(secret, -2)))).toBe('CODE_WRONG');

    const code = await codeAt(secret, 1);
    expect(errorCode(await signIn(s, code))).toBeUndefined();
    const replayed = await signIn(s, code);
    expect(errorCode(replayed)).toBe('SECOND_FACTOR_INVALID');
    expect(reasonOf(replayed)).toBe('CODE_ALREADY_USED');
    // An earlier step's code, still within the drift allowed, is refused too once a later one was accepted.
    expect(reasonOf(await signIn(s, await codeAt(secret, 0)))).toBe('CODE_ALREADY_USED');
  });

  it('two sign-ins racing with the same code: one gets in', async () => {
    await awayFromStepEnd();
    const s = await newStaff();
    const { secret } = await enrolled(s);
    const code = await codeAt(secret, 1);
    const results = await Promise.all([signIn(s, code), signIn(s, code), signIn(s, code)]);
    expect(results.map(errorCode).filter((c) => c === undefined)).toHaveLength(1);
    expect(results.map(errorCode).filter((c) => c === 'SECOND_FACTOR_INVALID')).toHaveLength(2);
  });

  it('takes each recovery code once, in any case and with or without dashes', async () => {
    await awayFromStepEnd();
    const s = await newStaff();
    const { recoveryCodes } = await enrolled(s);
    const [first, second] = recoveryCodes as [string, string];

    expect(errorCode(await signIn(s, first))).toBeUndefined();
    const reused = await signIn(s, first);
    expect(errorCode(reused)).toBe('SECOND_FACTOR_INVALID');
    expect(reasonOf(reused)).toBe('CODE_ALREADY_USED');

    expect(errorCode(await signIn(s, ` ${second.replace(/-/g, '').toUpperCase()} `))).toBeUndefined();
    expect(reasonOf(await signIn(s, second))).toBe('CODE_ALREADY_USED');
    // A well-formed code that is not one of this user's.
    expect(reasonOf(await signIn(s, 'abcd-efgh-jkmn-pqrs'))).toBe('CODE_WRONG');

    const status = dataOf(await server.gql(STATUS, {}, s.token)).secondFactor;
    expect(status.recoveryCodesLeft).toBe(8);
  });

  it.each([
    ['five digits', '12345'],
    ['seven digits', '1234567'],
    ['letters', 'abcdef'],
    ['an empty code', ''],
    ['a recovery code a character short', 'abcd-efgh-jkmn-pqr'],
    ['a recovery code with a letter Crockford leaves out', 'abcd-efgh-jkmn-pqru'],
  ])('answers %s with BAD_USER_INPUT (CODE_MALFORMED), and spends nothing', async (_case, code) => {
    await awayFromStepEnd();
    const s = await newStaff();
    await enrolled(s);
    const res = await signIn(s, code);
    expect(res.errors![0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'code',
      reason: 'CODE_MALFORMED',
    });
    const confirm = await server.gql(CONFIRM, { c: code }, s.token);
    expect(errorCode(confirm)).toBe('BAD_USER_INPUT');
    const disable = await server.gql(DISABLE, { c: code }, s.token);
    expect(errorCode(disable)).toBe('BAD_USER_INPUT');
    expect(dataOf(await server.gql(STATUS, {}, s.token)).secondFactor).toMatchObject({
      enabled: true,
      recoveryCodesLeft: 10,
    });
  });

  it('confirming takes the app code only, not a recovery-code shape', async () => {
    const s = await newStaff();
    await server.gql(START, {}, s.token);
    const res = await server.gql(CONFIRM, { c: 'abcd-efgh-jkmn-pqrs' }, s.token);
    expect(res.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'CODE_MALFORMED' });
  });

  it('the password alone still signs in an account without a second factor (a code sent is ignored)', async () => {
    const s = await newStaff();
    expect(errorCode(await signIn(s))).toBeUndefined();
    expect(errorCode(await signIn(s, '123456'))).toBeUndefined();
  });
});

describe('turning it off', () => {
  it('needs a current code (or a recovery code) of the signed-in user', async () => {
    await awayFromStepEnd();
    const s = await newStaff();
    const { secret, recoveryCodes } = await enrolled(s);
    expect(errorCode(await server.gql(DISABLE, { c: await codeAt(secret, 3) }, s.token))).toBe('SECOND_FACTOR_INVALID');
    expect(errorCode(await signIn(s))).toBe('SECOND_FACTOR_REQUIRED');

    const off = dataOf(await server.gql(DISABLE, { c: recoveryCodes[0] }, s.token)).disableSecondFactor;
    expect(off).toEqual({ enabled: false, recoveryCodesLeft: 0 });
    expect(errorCode(await signIn(s))).toBeUndefined();
    expect(await server.db('recoveryCodes').where({ userId: s.id }).count({ n: '*' }).first()).toEqual({ n: 0 });

    const again = await server.gql(DISABLE, { c: '123456' }, s.token);
    expect(errorCode(again)).toBe('CONFLICT');
    expect(reasonOf(again)).toBe('SECOND_FACTOR_NOT_ENABLED');
  });
});

describe('admin reset', () => {
  it("removes a staff member's factor: the password signs them in again, and they can enrol anew", async () => {
    await awayFromStepEnd();
    const s = await newStaff();
    await enrolled(s);
    expect(errorCode(await signIn(s))).toBe('SECOND_FACTOR_REQUIRED');
    expect(dataOf(await server.gql(RESET, { u: s.id }, admin)).resetSecondFactor).toBe(true);
    expect(errorCode(await signIn(s))).toBeUndefined();
    expect(errorCode(await server.gql(START, {}, s.token))).toBeUndefined();
  });

  it("is for admins; another clinic's user is NOT_FOUND and keeps their factor", async () => {
    await awayFromStepEnd();
    const s = await newStaff();
    await enrolled(s);
    const nurse = await server.login('sunrise-derm', 'nurse');
    expect(errorCode(await server.gql(RESET, { u: s.id }, nurse))).toBe('FORBIDDEN');
    const lakesideAdmin = await server.login('lakeside-skin', 'admin');
    expect(errorCode(await server.gql(RESET, { u: s.id }, lakesideAdmin))).toBe('NOT_FOUND');
    expect(errorCode(await server.gql(RESET, { u: randomUUID() }, admin))).toBe('NOT_FOUND');
    expect(errorCode(await server.gql(RESET, { u: 'not-a-uuid' }, admin))).toBe('NOT_FOUND');
    expect(errorCode(await signIn(s))).toBe('SECOND_FACTOR_REQUIRED');
  });
});

describe('a clinic that requires a second factor', () => {
  it('is set by an admin only, for their own clinic', async () => {
    for (const key of ['nurse', 'lee', 'frontdesk'] as const) {
      const res = await server.gql(REQUIRE, { r: true }, await server.login('sunrise-derm', key));
      expect(errorCode(res)).toBe('FORBIDDEN');
    }
    const rows = await server.db('tenants').select('slug', 'secondFactorRequired');
    expect(rows.length).toBeGreaterThanOrEqual(2);
    for (const row of rows) expect(row).toMatchObject({ secondFactorRequired: false });
  });

  it('has staff without a factor enrol at sign-in, and leaves the other clinic alone', async () => {
    await awayFromStepEnd();
    // A clinic of the tests' own making is not needed: Lakeside is required here and released at the end.
    const lakesideAdmin = await server.login('lakeside-skin', 'admin');
    const s = await newStaff('lakeside-skin', lakesideAdmin);
    const sunriseStaff = await newStaff();
    try {
      const set = dataOf(await server.gql(REQUIRE, { r: true }, lakesideAdmin)).requireSecondFactor;
      expect(set).toEqual({ slug: 'lakeside-skin', secondFactorRequired: true });
      expect(dataOf(await server.gql(STATUS, {}, s.token)).secondFactor.requiredByClinic).toBe(true);
      // Sunrise is untouched: its staff still sign in with the password.
      expect(errorCode(await signIn(sunriseStaff))).toBeUndefined();
      expect(dataOf(await server.gql(STATUS, {}, sunriseStaff.token)).secondFactor.requiredByClinic).toBe(false);

      // No factor yet: the answer carries a pending secret to enrol, the same one on each attempt.
      const asked = await signIn(s);
      expect(errorCode(asked)).toBe('SECOND_FACTOR_REQUIRED');
      expect(reasonOf(asked)).toBe('ENROLMENT_NEEDED');
      const enrolment = asked.errors![0].extensions!.enrolment as { secret: string; otpauthUri: string };
      expect(enrolment.otpauthUri).toContain(`secret=${enrolment.secret}`);
      expect((await signIn(s)).errors![0].extensions!.enrolment).toEqual(enrolment);

      // A wrong code enrols nothing; a right one enrols and signs in, with the recovery codes shown this once.
      expect(errorCode(await signIn(s, await codeAt(enrolment.secret, 3)))).toBe('SECOND_FACTOR_INVALID');
      const res = await signIn(s, await codeAt(enrolment.secret));
      expect(errorCode(res)).toBeUndefined();
      expect(res.data!.login.recoveryCodes).toHaveLength(10);

      // From now on it is an ordinary factor: a code is needed, and a recovery code works.
      const next = await signIn(s);
      expect(reasonOf(next)).toBe('CODE_NEEDED');
      const withRecovery = await signIn(s, res.data!.login.recoveryCodes[0]);
      expect(errorCode(withRecovery)).toBeUndefined();
      expect(withRecovery.data!.login.recoveryCodes).toBeNull();
    } finally {
      await server.gql(REQUIRE, { r: false }, lakesideAdmin);
    }
    expect(errorCode(await signIn(sunriseStaff))).toBeUndefined();
  });
});
