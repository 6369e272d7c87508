import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEMO_PASSWORD } from '../src/db/seeds/demo.js';
import { instanceClients } from './helpers/instances.js';
import { spawnServer, type ServerProcess } from './helpers/process.js';
import { NOTIFICATION } from './helpers/realtime.js';
import { startRedis, type OwnRedis } from './helpers/redisServer.js';
import { TEST_REDIS_URL } from './helpers/services.js';
import { createTestDatabase } from './helpers/testServer.js';

const LOGIN = 'mutation($e: String!, $p: String!) { login(tenant: "sunrise-derm", email: $e, password: $p) { token } }';
// The 2nd failure makes the next attempt wait 1 s; the 3rd locks for 10 minutes.
const THROTTLE_ENV = { LOGIN_SLOW_AFTER: '2', LOGIN_LOCK_AFTER: '3', LOGIN_LOCK_DURATION: '10m' };

async function post(instance: ServerProcess, query: string, variables: Record<string, unknown> = {}, token?: string) {
  const res = await fetch(`${instance.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: any; errors?: Array<{ extensions?: Record<string, unknown> }> };
  return {
    status: res.status,
    ...body,
    reason: body.errors?.[0]?.extensions?.reason,
    code: body.errors?.[0]?.extensions?.code,
  };
}

const signIn = (instance: ServerProcess, email: string, password: string) =>
  post(instance, LOGIN, { e: email, p: password });

/** Wrong passwords, alternating between the instances, each retried while slowed, until one answers LOCKED. */
async function guessAcross(instances: ServerProcess[], email: string): Promise<Array<string | unknown>> {
  const seen: unknown[] = [];
  for (let i = 0; i < 20 && seen.at(-1) !== 'LOCKED'; i++) {
    const res = await vi.waitFor(
      async () => {
        const res = await signIn(instances[i % instances.length], email, `wrong ${i}`);
        expect(res.reason).not.toBe('SLOWED');
        return res;
      },
      { timeout: 10_000, interval: 200 },
    );
    seen.push(res.reason ?? res.code);
  }
  return seen;
}

// Instances share the counts through Redis; the embedded project is one process by design.
describe('Guessing across instances', () => {
  let a: ServerProcess;
  let b: ServerProcess;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const database = await createTestDatabase();
    drop = database.drop;
    const env = {
      DATABASE_URL: database.url!,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_NAMESPACE: `test-throttle-${Date.now()}`,
      ...THROTTLE_ENV,
    };
    [a, b] = await Promise.all([spawnServer(env), spawnServer(env)]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await drop?.();
  });

  it('should count failures on both instances, lock on both, tell the admin on the other, and unlock on both', async () => {
    const clients = instanceClients();
    const admin = await clients.login(b, 'admin');
    try {
      const notes = await clients.subscribedOver(b, clients.connect(b, admin), NOTIFICATION);
      // Guesses alternate A, B, A: the third, on A, is the account's third failure only if B's was counted.
      expect(await guessAcross([a, b], 'lee@sunrise.example')).toEqual([
        'UNAUTHENTICATED',
        'UNAUTHENTICATED',
        'UNAUTHENTICATED',
        'LOCKED',
      ]);
      for (const instance of [a, b]) {
        const right = await signIn(instance, 'lee@sunrise.example', DEMO_PASSWORD);
        expect(right).toMatchObject({ status: 429, code: 'TOO_MANY_REQUESTS', reason: 'LOCKED' });
      }
      // Locked on A; the admin's subscription is on B.
      const [event] = await notes.waitFor(1, 10_000);
      expect(event.data!.notification.notification).toMatchObject({
        kind: 'ACCOUNT_LOCKED',
        title: 'Sign-in locked for Dr. Maya Lee after repeated failed passwords',
      });

      const lee = (await post(b, '{ staff(role: PROVIDER) { id email } }', {}, admin)).data.staff.find(
        (u: { email: string }) => u.email === 'lee@sunrise.example',
      ).id;
      expect(
        (await post(b, 'mutation($id: ID!) { unlockAccount(userId: $id) { id } }', { id: lee }, admin)).data,
      ).toEqual({ unlockAccount: { id: lee } });
      expect((await signIn(a, 'lee@sunrise.example', DEMO_PASSWORD)).data.login.token).toBeTruthy();
    } finally {
      await clients.dispose();
    }
  });
});

describe('Guessing while Redis is down', () => {
  let redis: OwnRedis;
  let server: ServerProcess;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const database = await createTestDatabase();
    drop = database.drop;
    redis = await startRedis();
    server = await spawnServer({ DATABASE_URL: database.url!, REDIS_URL: redis.url, ...THROTTLE_ENV });
  });
  afterAll(async () => {
    await server?.stop();
    await redis?.stop();
    await drop?.();
  });

  it("should still sign in, and still slow a guesser down with this instance's own counts, without ending the process", async () => {
    await redis.kill();
    await vi.waitFor(
      async () => expect((await (await fetch(`${server.url}/readyz`)).json()).redis).toBe('unreachable'),
      {
        timeout: 10_000,
      },
    );
    expect((await signIn(server, 'patel@sunrise.example', DEMO_PASSWORD)).data.login.token).toBeTruthy();
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await signIn(server, 'patel@sunrise.example', `wrong ${i}`));
    expect(answers.map((r) => r.reason ?? r.code)).toEqual(['UNAUTHENTICATED', 'UNAUTHENTICATED', 'SLOWED']);
    expect(server.child.exitCode).toBeNull();
    // main.ts's net for unhandled rejections was never needed.
    expect(server.output()).not.toContain('unhandled promise rejection');
  });
});
