import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEMO_PASSWORD } from '../src/db/seeds/demo.js';
import { createIntegrationClient, requestToken } from './helpers/integrations.js';
import { NOTIFICATION, subscribeLive } from './helpers/realtime.js';
import { useSockets, useTestServer } from './helpers/setup.js';
import {
  errorCode,
  startTestServer,
  type GraphQLResponse,
  type StaffKey,
  type TestServer,
} from './helpers/testServer.js';

// Low thresholds so a run takes seconds: the 2nd failure makes the next attempt wait 1 s, the 3rd locks.
const THROTTLE = { slowAfter: 2, lockAfter: 3, lockSeconds: 30, failureWindowSeconds: 3600, sourceLockAfter: 1000 };
const t = useTestServer({ throttle: THROTTLE });
const sockets = useSockets(t);
let server: TestServer;
beforeAll(() => {
  ({ server } = t);
});
// Locks that lapse in 2 s, behind one trusted proxy whose X-Forwarded-For names the client; an address is locked
// after 5 failures.
const SHORT = { ...THROTTLE, lockSeconds: 2, sourceLockAfter: 5 };
let short: TestServer;
beforeAll(async () => {
  short = await startTestServer({ throttle: SHORT, trustProxyHops: 1 });
});
afterAll(() => short?.stop());
const from = (ip: string) => ({ 'x-forwarded-for': ip });

const LOGIN =
  'mutation($t: String!, $e: String!, $p: String!) { login(tenant: $t, email: $e, password: $p) { token } }';
const UNLOCK = 'mutation($id: ID!) { unlockAccount(userId: $id) { id name } }';

const login = (email: string, password: string, headers?: Record<string, string>, target = server) =>
  target.gql(
    LOGIN,
    { t: email.endsWith('@lakeside.example') ? 'lakeside-skin' : 'sunrise-derm', e: email, p: password },
    null,
    headers,
  );

const reasonOf = (res: GraphQLResponse) => res.errors?.[0]?.extensions?.reason;

/** What a person sees of an answer: its status, code, reason and message (not how long is left to wait). */
const answer = (res: GraphQLResponse) => ({
  status: res.status,
  code: errorCode(res) ?? 'OK',
  reason: reasonOf(res),
  message: res.errors?.[0]?.message,
});

/**
 * A patient guesser: wrong passwords one after the other, each retried until it is no longer slowed (refusals are not
 * counted, so retrying early costs nothing), until the account is locked. Resolves with the code of every answer that
 * was not a SLOWED refusal.
 */
async function guessUntilLocked(email: string, headers?: Record<string, string>, target = server): Promise<string[]> {
  const seen: string[] = [];
  for (let i = 0; i < 40 && seen.at(-1) !== 'LOCKED'; i++) {
    const res = await vi.waitFor(
      async () => {
        const res = await login(email, `wrong guess ${i}`, headers, target);
        expect(reasonOf(res)).not.toBe('SLOWED');
        return res;
      },
      { timeout: 10_000, interval: 200 },
    );
    seen.push(reasonOf(res) === 'LOCKED' ? 'LOCKED' : errorCode(res)!);
  }
  return seen;
}

describe('Guessing passwords', () => {
  it('should check at most LOGIN_LOCK_AFTER of 40 quick wrong passwords, refusing the others with 429 and Retry-After', async () => {
    const answers = [];
    for (let i = 0; i < 40; i++) answers.push(await login('okafor@lakeside.example', `guess-${i}`));

    // Two checked, then slowed; on a slow machine the 1 s wait may lapse during the run, and the third check locks.
    expect(answers.slice(0, 3).map(reasonOf)).toEqual([undefined, undefined, 'SLOWED']);
    const checked = answers.filter((r) => errorCode(r) === 'UNAUTHENTICATED');
    expect(checked.length).toBeLessThanOrEqual(THROTTLE.lockAfter);
    const refused = answers.filter((r) => errorCode(r) === 'TOO_MANY_REQUESTS');
    expect(refused).toHaveLength(40 - checked.length);
    for (const res of refused) {
      expect(res.status).toBe(429);
      expect(['SLOWED', 'LOCKED']).toContain(reasonOf(res));
      expect(res.headers.get('retry-after')).toBe(String(res.errors![0].extensions!.retryAfter));
    }
    expect(answers[2].headers.get('retry-after')).toBe('1');
  });

  it('should check at most LOGIN_LOCK_AFTER of 30 wrong passwords sent at once', async () => {
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => login('chen@lakeside.example', `parallel guess ${i}`)),
    );
    const checked = answers.filter((r) => errorCode(r) === 'UNAUTHENTICATED');
    // Attempts are counted before they are checked: those beyond the lock are refused, however many run at once.
    expect(checked.length).toBeGreaterThanOrEqual(1);
    expect(checked.length).toBeLessThanOrEqual(THROTTLE.lockAfter);
    for (const res of answers.filter((r) => !checked.includes(r))) {
      expect(res.status).toBe(429);
      expect(['SLOWED', 'LOCKED', 'BUSY']).toContain(reasonOf(res));
    }
    expect((await login('chen@lakeside.example', DEMO_PASSWORD)).status).toBe(429);
  });

  it('should refuse the right password while slowed, and take it once the wait is over', async () => {
    for (const i of [1, 2])
      expect(errorCode(await login('patel@sunrise.example', `guess-${i}`))).toBe('UNAUTHENTICATED');
    const right = await login('patel@sunrise.example', DEMO_PASSWORD);
    expect(answer(right)).toEqual({
      status: 429,
      code: 'TOO_MANY_REQUESTS',
      reason: 'SLOWED',
      message: 'Too many failed attempts: wait before trying again',
    });
    await vi.waitFor(
      async () => expect((await login('patel@sunrise.example', DEMO_PASSWORD)).data?.login.token).toBeTruthy(),
      { timeout: 5000, interval: 200 },
    );
  });

  it('should lock an account after LOGIN_LOCK_AFTER failures, answering its right password like a wrong one, until the lock lapses', async () => {
    const email = 'lee@sunrise.example';
    const me = from('198.51.100.1');
    expect(await guessUntilLocked(email, me, short)).toEqual([
      'UNAUTHENTICATED',
      'UNAUTHENTICATED',
      'UNAUTHENTICATED',
      'LOCKED',
    ]);
    const right = await login(email, DEMO_PASSWORD, me, short);
    const wrong = await login(email, 'still guessing', me, short);
    expect(answer(right)).toEqual({
      status: 429,
      code: 'TOO_MANY_REQUESTS',
      reason: 'LOCKED',
      message: 'Too many failed attempts: sign-in is locked for a while',
    });
    expect(answer(wrong)).toEqual(answer(right));
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(right.headers.get('retry-after'))).toBeLessThanOrEqual(SHORT.lockSeconds);
    // LOGIN_LOCK_DURATION later, the right password works again.
    await vi.waitFor(
      async () => expect((await login(email, DEMO_PASSWORD, me, short)).data?.login.token).toBeTruthy(),
      {
        timeout: (SHORT.lockSeconds + 3) * 1000,
        interval: 250,
      },
    );
  });

  it('should answer an email that does not exist exactly as one that does, through slow-down and lock', async () => {
    const [ghost, real] = await Promise.all([
      guessUntilLocked('nobody-here@sunrise.example'),
      guessUntilLocked('nurse@sunrise.example'),
    ]);
    expect(ghost).toEqual(real);
    expect(answer(await login('nobody-here@sunrise.example', DEMO_PASSWORD))).toEqual(
      answer(await login('nurse@sunrise.example', DEMO_PASSWORD)),
    );
  });
});

describe('Unlocking', () => {
  it("should tell the clinic's admins over the notification subscription, and let the right password in after an admin unlocks", async () => {
    const admin = await server.login('sunrise-derm', 'admin');
    const notes = await subscribeLive(server, sockets.open(admin), NOTIFICATION);
    const { users } = await server.ids('sunrise-derm');

    expect((await guessUntilLocked('frontdesk@sunrise.example')).at(-1)).toBe('LOCKED');
    const [event] = await notes.waitFor(1);
    expect(event.data!.notification.notification).toMatchObject({
      kind: 'ACCOUNT_LOCKED',
      title: 'Sign-in locked for Jordan Kim after repeated failed passwords',
    });
    expect(reasonOf(await login('frontdesk@sunrise.example', DEMO_PASSWORD))).toBe('LOCKED');

    const unlocked = await server.gql(UNLOCK, { id: users.frontdesk }, admin);
    expect(unlocked.data).toEqual({ unlockAccount: { id: users.frontdesk, name: 'Jordan Kim' } });
    expect((await login('frontdesk@sunrise.example', DEMO_PASSWORD)).data?.login.token).toBeTruthy();
  });

  it('should answer unlockAccount for anyone not of the clinic NOT_FOUND, and from a non-admin FORBIDDEN', async () => {
    const admin = await server.login('sunrise-derm', 'admin');
    const { users } = await server.ids('lakeside-skin');
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-an-id', users.chen]) {
      const res = await server.gql(UNLOCK, { id }, admin);
      expect(res.data).toBeNull();
      expect(errorCode(res)).toBe('NOT_FOUND');
    }
    const sunrise = await server.ids('sunrise-derm');
    expect(
      errorCode(await server.gql(UNLOCK, { id: sunrise.users.lee }, await server.login('sunrise-derm', 'lee'))),
    ).toBe('FORBIDDEN');
    expect(errorCode(await server.gql(UNLOCK, { id: sunrise.users.lee }))).toBe('UNAUTHENTICATED');
  });
});

describe('changePassword', () => {
  it("should count wrong current passwords against the account's sign-ins", async () => {
    const token = await server.login('sunrise-derm', 'patel');
    const CHANGE =
      'mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { token } }';
    const tries = [];
    for (let i = 0; i < 4; i++)
      tries.push(await server.gql(CHANGE, { c: `not it ${i}`, n: 'a brand new passphrase' }, token));
    expect(tries.map((r) => reasonOf(r))).toEqual(['WRONG_PASSWORD', 'WRONG_PASSWORD', 'SLOWED', 'SLOWED']);
    expect(tries[2].status).toBe(429);
    // The same count: signing in is slowed too.
    expect(reasonOf(await login('patel@sunrise.example', DEMO_PASSWORD))).toBe('SLOWED');
  });
});

/** A Lakeside demo user signed in, with a TOTP factor set up and on: their token and the factor's secret. */
async function withSecondFactor(key: StaffKey): Promise<{ token: string; secret: string }> {
  const token = await server.login('lakeside-skin', key);
  const { secret } = (await server.gql('mutation { startTotpEnrolment { secret } }', {}, token)).data!
    .startTotpEnrolment;
  const confirmed = await server.gql(
    'mutation($c: String!) { confirmTotpEnrolment(code: $c) { status { enabled } } }',
    { c: await generate({ secret }) },
    token,
  );
  expect(confirmed.data?.confirmTotpEnrolment.status.enabled).toBe(true);
  return { token, secret };
}

/** A code no authenticator shows now: its digits are the current code's, each shifted by 5. */
const wrongCode = async (secret: string) =>
  (await generate({ secret })).replace(/\d/g, (d) => String((Number(d) + 5) % 10));

describe('Second factor', () => {
  it('should count wrong codes after the right password as failures, and a step without a code not at all', async () => {
    const { secret } = await withSecondFactor('nurse');

    const LOGIN_CODE =
      'mutation($e: String!, $p: String!, $c: String) { login(tenant: "lakeside-skin", email: $e, password: $p, code: $c) { token } }';
    const signIn = (c?: string) => server.gql(LOGIN_CODE, { e: 'nurse@lakeside.example', p: DEMO_PASSWORD, c }, null);
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await signIn());
    const wrong = await wrongCode(secret);
    for (let i = 0; i < 3; i++) answers.push(await signIn(wrong));
    expect(answers.map((r) => reasonOf(r) ?? errorCode(r))).toEqual([
      'CODE_NEEDED',
      'CODE_NEEDED',
      'CODE_NEEDED',
      'CODE_WRONG',
      'CODE_WRONG',
      'SLOWED',
    ]);
  });
});

describe('Second factor of a signed-in user', () => {
  it('should count wrong codes to turn the factor off with the account’s sign-ins: a stolen session guesses no faster', async () => {
    const { token, secret } = await withSecondFactor('frontdesk');
    const DISABLE = 'mutation($c: String!) { disableSecondFactor(code: $c) { enabled } }';
    const wrong = await wrongCode(secret);
    const answers = [];
    // A malformed code is not a guess: not counted.
    answers.push(await server.gql(DISABLE, { c: '12' }, token));
    for (let i = 0; i < 3; i++) answers.push(await server.gql(DISABLE, { c: wrong }, token));
    expect(answers.map((r) => [r.status, errorCode(r), reasonOf(r)])).toEqual([
      [200, 'BAD_USER_INPUT', 'CODE_MALFORMED'],
      [200, 'SECOND_FACTOR_INVALID', 'CODE_WRONG'],
      [200, 'SECOND_FACTOR_INVALID', 'CODE_WRONG'],
      [429, 'TOO_MANY_REQUESTS', 'SLOWED'],
    ]);
    // The same count as sign-in: the account's sign-in is slowed too, and the factor is still on.
    const signIn = await login('frontdesk@lakeside.example', DEMO_PASSWORD);
    expect(reasonOf(signIn)).toBe('SLOWED');
    expect((await server.gql('{ secondFactor { enabled } }', {}, token)).data?.secondFactor.enabled).toBe(true);
  });
});

describe('POST /oauth/token', () => {
  it('should slow down wrong client secrets with 429 slow_down and Retry-After, right secret included', async () => {
    const client = await createIntegrationClient(server, ['appointments:read']);
    const ask = (secret: string) =>
      requestToken(server.url, { grant_type: 'client_credentials' }, { basic: { id: client.id, secret } });
    expect((await ask('dcs_wrong-1')).status).toBe(401);
    expect((await ask('dcs_wrong-2')).status).toBe(401);
    const right = await ask(client.secret);
    expect(right.status).toBe(429);
    expect(right.headers.get('retry-after')).toBe('1');
    expect(right.body).toMatchObject({ error: 'slow_down' });
    await vi.waitFor(async () => expect((await ask(client.secret)).status).toBe(200), { timeout: 5000, interval: 200 });
  });
});

describe('Source addresses', () => {
  it('should lock an address spraying guesses over many emails, and no other address', async () => {
    const sprayed = [];
    for (const name of ['ann', 'bob', 'cy', 'dee', 'eve', 'fay'])
      sprayed.push(await login(`${name}@sunrise.example`, 'x', from('203.0.113.7'), short));
    expect(sprayed.map((r) => reasonOf(r) ?? errorCode(r))).toEqual([
      ...Array(SHORT.sourceLockAfter).fill('UNAUTHENTICATED'),
      'LOCKED',
    ]);
    // From there, even a right password is refused; from elsewhere it works.
    expect(reasonOf(await login('patel@sunrise.example', DEMO_PASSWORD, from('203.0.113.7'), short))).toBe('LOCKED');
    expect(
      (await login('patel@sunrise.example', DEMO_PASSWORD, from('203.0.113.8'), short)).data?.login.token,
    ).toBeTruthy();
  });

  it('should count an IPv6 address as its /64', async () => {
    const answers = [];
    for (let i = 1; i <= SHORT.sourceLockAfter + 1; i++)
      answers.push(await login(`v6-${i}@sunrise.example`, 'x', from(`2001:db8:1:2::${i}`), short));
    expect(answers.at(-1)!.errors![0].extensions!.reason).toBe('LOCKED');
    expect(reasonOf(await login('nurse@sunrise.example', DEMO_PASSWORD, from('2001:db8:1:2:ffff::9'), short))).toBe(
      'LOCKED',
    );
    expect(
      (await login('nurse@sunrise.example', DEMO_PASSWORD, from('2001:db8:1:3::1'), short)).data?.login.token,
    ).toBeTruthy();
  });
});

/** Holds the users table locked (both engines), until `release`: a sign-in that reads it waits, holding its slot. */
async function holdUsersTable(server: TestServer): Promise<{ release(): Promise<void> }> {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let locked!: () => void;
  const lockTaken = new Promise<void>((r) => (locked = r));
  const holding = server.db.transaction(async (trx) => {
    await trx.raw('lock table users in access exclusive mode');
    locked();
    await held;
  });
  await lockTaken;
  return {
    release: async () => {
      release();
      await holding;
    },
  };
}

describe('Password hashing bound', () => {
  let bounded: TestServer;
  beforeAll(async () => {
    bounded = await startTestServer({ passwordHashConcurrency: 1, passwordHashQueue: 0 });
  });
  afterAll(() => bounded?.stop());

  it('should refuse sign-ins beyond PASSWORD_HASH_CONCURRENCY at once with 429 BUSY, and serve the one running', async () => {
    // Hold the users table: the first sign-in to take the one slot waits on it, holding the slot meanwhile.
    const table = await holdUsersTable(bounded);

    const settled: GraphQLResponse[] = [];
    const all = Array.from({ length: 8 }, () =>
      login('lee@sunrise.example', DEMO_PASSWORD, {}, bounded).then((res) => {
        settled.push(res);
        return res;
      }),
    );
    // Seven are refused while the eighth waits on the table: only a bound on checks at once can refuse them.
    await vi.waitFor(() => expect(settled).toHaveLength(7), { timeout: 10_000 });
    for (const res of settled) {
      expect(answer(res)).toEqual({
        status: 429,
        code: 'TOO_MANY_REQUESTS',
        reason: 'BUSY',
        message: 'The server is busy checking passwords: try again in a moment',
      });
      expect(res.headers.get('retry-after')).toBe('1');
    }
    await table.release();
    const answers = await Promise.all(all);
    expect(answers.filter((r) => r.data?.login.token)).toHaveLength(1);
    // With the slot free again, the next one is served.
    expect((await login('lee@sunrise.example', DEMO_PASSWORD, {}, bounded)).data?.login.token).toBeTruthy();
  });
});

describe('Password hashing queue', () => {
  let queued: TestServer;
  beforeAll(async () => {
    queued = await startTestServer({ passwordHashConcurrency: 1, passwordHashQueue: 2 });
  });
  afterAll(() => queued?.stop());

  it('should let PASSWORD_HASH_QUEUE sign-ins wait their turn, serve them in order once the slot frees, and refuse the rest', async () => {
    const table = await holdUsersTable(queued);

    const settled: GraphQLResponse[] = [];
    const all = Array.from({ length: 5 }, () =>
      login('lee@sunrise.example', DEMO_PASSWORD, {}, queued).then((res) => {
        settled.push(res);
        return res;
      }),
    );
    // One runs (waiting on the table), two wait in line, two are refused at once.
    await vi.waitFor(() => expect(settled).toHaveLength(2), { timeout: 10_000 });
    for (const res of settled) expect(answer(res)).toMatchObject({ status: 429, reason: 'BUSY' });
    await table.release();
    const answers = await Promise.all(all);
    expect(answers.filter((r) => r.data?.login.token)).toHaveLength(3);
  });
});
