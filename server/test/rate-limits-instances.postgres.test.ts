import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Role } from '../src/db/rows.js';
import { SHARED_JWT_SECRET, spawnServer, type ServerProcess } from './helpers/process.js';
import { startRedis, type OwnRedis } from './helpers/redisServer.js';
import { TEST_REDIS_URL } from './helpers/services.js';
import { createTestDatabase } from './helpers/testServer.js';
import { signToken } from './helpers/tokens.js';

const SCHEDULE = '{ schedule { id } }';

type Database = Awaited<ReturnType<typeof createTestDatabase>>;

async function post(url: string, token: string) {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: SCHEDULE }),
  });
  const body = (await res.json()) as { data?: any; errors?: Array<{ extensions?: Record<string, unknown> }> };
  return { status: res.status, retryAfter: res.headers.get('retry-after'), ...body };
}

/** A token per staff member of a clinic, signed as the servers sign theirs (each staff member a caller of its own). */
async function staffTokens(database: Database, slug: string): Promise<string[]> {
  const tenant = await database.db('tenants').where({ slug }).first('id');
  const users: Array<{ id: string; role: Role; name: string }> = await database
    .db('users')
    .where({ tenantId: tenant.id })
    .orderBy('email')
    .select('id', 'role', 'name');
  return Promise.all(
    users.map((u) => signToken(SHARED_JWT_SECRET, { userId: u.id, tenantId: tenant.id, role: u.role, name: u.name })),
  );
}

// Rates are shared through Redis; the embedded project is one process by design.
describe('Operations per clinic across instances', () => {
  let database: Database;
  let a: ServerProcess;
  let b: ServerProcess;

  beforeAll(async () => {
    database = await createTestDatabase();
    const env = {
      DATABASE_URL: database.url!,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_NAMESPACE: `test-${randomBytes(4).toString('hex')}`,
      RATE_LIMIT_WINDOW: '60',
      RATE_LIMIT_CALLER: '10',
      RATE_LIMIT_CLINIC: '10',
    };
    [a, b] = await Promise.all([spawnServer(env), spawnServer(env)]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await database?.drop();
  });

  it('should hold a clinic to its rate over both instances together, and serve the other clinic on both', async () => {
    const sunrise = await staffTokens(database, 'sunrise-derm');
    const lakeside = await staffTokens(database, 'lakeside-skin');
    // Three requests from each of Sunrise's five staff members, spread over both instances: 15, against 10 for the
    // clinic. Counted per instance, each would have allowed 10 and all 15 would have been served.
    const flood = await Promise.all(
      sunrise.flatMap((token, i) => [0, 1, 2].map((j) => post((i + j) % 2 ? a.url : b.url, token))),
    );
    const others = await Promise.all(
      lakeside.flatMap((token, i) => [0, 1].map((j) => post((i + j) % 2 ? a.url : b.url, token))),
    );

    expect(flood.filter((r) => r.status === 200)).toHaveLength(10);
    const refused = flood.filter((r) => r.status === 429);
    expect(refused).toHaveLength(5);
    for (const r of refused) {
      expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'TOO_MANY_REQUESTS', reason: 'CLINIC_RATE' });
      expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(Number(r.retryAfter)).toBeLessThanOrEqual(60);
    }
    // One log line for the flood, on whichever instance refused first: not one per refused request.
    expect((a.output() + b.output()).split('over its rate')).toHaveLength(2);
    expect(others).toHaveLength(10);
    expect(others.every((r) => r.status === 200 && Array.isArray(r.data?.schedule))).toBe(true);
  });
});

describe('Rates while Redis is down', () => {
  let redis: OwnRedis;
  let database: Database;
  let server: ServerProcess;

  beforeAll(async () => {
    [redis, database] = await Promise.all([startRedis(), createTestDatabase()]);
    server = await spawnServer({
      NODE_ENV: 'production',
      DATABASE_URL: database.url!,
      REDIS_URL: redis.url,
      REDIS_NAMESPACE: `test-${randomBytes(4).toString('hex')}`,
      RATE_LIMIT_WINDOW: '60',
      RATE_LIMIT_CALLER: '3',
      RATE_LIMIT_CLINIC: '100',
    });
  });
  afterAll(async () => {
    await server?.stop('SIGKILL');
    await Promise.all([redis?.stop(), database?.drop()]);
  });

  it('should go on serving, counting on the instance meanwhile, log it once, and count in Redis again when it is back', async () => {
    const [first, second, third] = await staffTokens(database, 'sunrise-derm');
    expect((await post(server.url, first)).status).toBe(200);

    await redis.kill();
    // Not refused for the outage: served, then held to the rate by this instance's own count.
    const during = [];
    for (let i = 0; i < 4; i++) during.push(await post(server.url, second));
    expect(during.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    expect(during[3].errors?.[0]?.extensions).toMatchObject({ code: 'TOO_MANY_REQUESTS', reason: 'CALLER_RATE' });
    expect(server.child.exitCode).toBeNull();
    expect(server.output().split('rate limits: Redis unreachable, each instance counts on its own')).toHaveLength(2);

    await redis.restart();
    // Back: counted in Redis again (an empty one here), so a caller the instance had not counted is served.
    await vi.waitFor(
      async () => {
        expect((await post(server.url, third)).status).toBe(200);
        expect(server.output()).toContain('rate limits: Redis reachable again');
      },
      { timeout: 10_000, interval: 200 },
    );
    expect(server.child.exitCode).toBeNull();
    expect(server.output()).not.toContain('unhandled promise rejection');
  });
});
