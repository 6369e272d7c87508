import { expect } from 'vitest';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import knexPkg from 'knex';
import { startApp, type App } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createDb, type Db } from '../../src/db/knex.js';
import { DEMO_CLINICS, demoEmail } from '../../src/db/seeds/demo.js';
import { ADMIN_DATABASE_URL, TEST_PASSWORD_HASH_COST, TEST_REDIS_URL } from './services.js';
import { currentTemplate, scratchDir, seedDemoDatabase, seededPgliteDir } from './templates.js';

export type Engine = 'pglite' | 'postgres';
export const ENGINE: Engine = process.env.TEST_DB === 'postgres' ? 'postgres' : 'pglite';

export interface GraphQLResponse<T = Record<string, any>> {
  status: number;
  data?: T | null;
  errors?: { message: string; path?: string[]; extensions?: { code?: string; [k: string]: unknown } }[];
  headers: Headers;
}

/**
 * A throwaway database on the engine under test, migrated and seeded with the demo clinics (a copy of the run's
 * template, see templates.ts); `drop()` removes it.
 */
export async function createTestDatabase(): Promise<{ db: Db; url?: string; drop(): Promise<void> }> {
  if (ENGINE === 'pglite') {
    const dir = scratchDir('derm-test-');
    const dataDir = path.join(dir, 'pglite');
    await seededPgliteDir(dataDir);
    const db = createDb({ embeddedDir: dataDir });
    return {
      db,
      async drop() {
        await db.destroy();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const name = `derm_test_${randomBytes(6).toString('hex')}`;
  const admin = knexPkg.knex({ client: 'pg', connection: ADMIN_DATABASE_URL, pool: { min: 0, max: 1 } });
  const template = currentTemplate('postgres');
  await admin.raw(template ? `create database ${name} template ${template}` : `create database ${name}`);
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  const db = createDb({ databaseUrl: url.toString() });
  if (!template) await seedDemoDatabase(db);
  return {
    db,
    url: url.toString(),
    async drop() {
      await db.destroy();
      await admin.raw(`drop database if exists ${name} with (force)`);
      await admin.destroy();
    },
  };
}

export type DemoClinicSlug = 'sunrise-derm' | 'lakeside-skin';
export type StaffKey = 'admin' | 'lee' | 'patel' | 'nurse' | 'frontdesk' | 'chen' | 'okafor';

export interface TestServer {
  app: App;
  config: Config;
  db: Db;
  url: string;
  /** POSTs a GraphQL operation to /graphql. */
  gql<T = Record<string, any>>(
    query: string,
    variables?: Record<string, unknown>,
    token?: string | null,
    headers?: Record<string, string>,
  ): Promise<GraphQLResponse<T>>;
  /** Signs in a demo user and returns the token. */
  login(tenant: DemoClinicSlug, key: StaffKey): Promise<string>;
  /** Ids of the demo users and patients of a clinic, read from the database. */
  ids(tenant: DemoClinicSlug): Promise<{ tenantId: string; users: Record<string, string>; patients: string[] }>;
  stop(): Promise<void>;
}

/** A real server on an ephemeral port, with both demo clinics loaded into a fresh database. */
export async function startTestServer(overrides: Partial<Config> = {}): Promise<TestServer> {
  const database = await createTestDatabase();
  const config: Config = {
    // Every test signs in from 127.0.0.1, far faster than a clinic behind one address would: the door's limit on
    // requests without a token is tested where it is set low (rate-limits.test.ts).
    ...loadConfig({ NODE_ENV: 'test', PORT: '0', HOST: '127.0.0.1', RATE_LIMIT_ANONYMOUS: '1000000' }),
    passwordHashCost: TEST_PASSWORD_HASH_COST,
    seedDemo: true,
    // The PostgreSQL runs use Redis pub/sub too; the embedded runs the in-process engine.
    redisUrl: ENGINE === 'postgres' ? TEST_REDIS_URL : undefined,
    // Test servers share one Redis: each sweeps only its own expiring entries.
    redisNamespace: `test-${randomBytes(4).toString('hex')}`,
    ...overrides,
  };
  const app = await startApp(config, { db: database.db });
  const url = app.url;

  const gql: TestServer['gql'] = async (query, variables, token, headers = {}) => {
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...headers,
      },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data?: any; errors?: GraphQLResponse['errors'] };
    return { status: res.status, data: body.data, errors: body.errors, headers: res.headers };
  };

  const tokens = new Map<string, string>();
  return {
    app,
    config,
    db: database.db,
    url,
    gql,
    async login(tenant, key) {
      const cacheKey = `${tenant}/${key}`;
      const cached = tokens.get(cacheKey);
      if (cached) return cached;
      // Signed by the server's own token service, as login would after checking the password: scrypt (50-100 ms a
      // sign-in) is for the tests of login itself, not for every test's set-up.
      const clinic = DEMO_CLINICS.find((c) => c.slug === tenant)!;
      const user = await database
        .db('users')
        .join('tenants', 'tenants.id', 'users.tenantId')
        .where({ 'tenants.slug': tenant, 'users.email': demoEmail(clinic, key) })
        .first('users.id', 'users.tenantId', 'users.role', 'users.name');
      if (!user) throw new Error(`no demo user ${cacheKey}`);
      const { token, viewer } = await app.services.tokens.sign({
        userId: user.id,
        tenantId: user.tenantId,
        role: user.role,
        name: user.name,
      });
      // A session of its own, active from now, as `login` makes it.
      await app.services.sessions.started(viewer);
      tokens.set(cacheKey, token);
      return token;
    },
    async ids(tenant) {
      const clinic = DEMO_CLINICS.find((c) => c.slug === tenant)!;
      const row = await database.db('tenants').where({ slug: tenant }).first('id');
      const users = await database.db('users').where({ tenantId: row.id }).select('id', 'email');
      const patients = await database.db('patients').where({ tenantId: row.id }).orderBy('mrn').pluck('id');
      const byKey: Record<string, string> = {};
      for (const s of clinic.staff)
        byKey[s.key] = users.find((u: { email: string }) => u.email === demoEmail(clinic, s.key))!.id;
      return { tenantId: row.id, users: byKey, patients };
    },
    async stop() {
      await app.stop();
      await database.drop();
    },
  };
}

/** The `extensions.code` of the first error, for terse assertions. */
export function errorCode(res: GraphQLResponse): string | undefined {
  return res.errors?.[0]?.extensions?.code;
}

/** The data of a response that must have succeeded; its errors, if any, make the test fail with them in view. */
export function dataOf<T = Record<string, any>>(res: GraphQLResponse<T>): T {
  expect(res.errors).toBeUndefined();
  return res.data!;
}
