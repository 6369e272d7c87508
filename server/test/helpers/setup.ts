import type { Client } from 'graphql-ws';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { Config } from '../../src/config.js';
import { waitForStreams } from './realtime.js';
import { startTestServer, type DemoClinicSlug, type StaffKey, type TestServer } from './testServer.js';
import { wsClient, type WsOptions } from './ws.js';

export type ClinicIds = Awaited<ReturnType<TestServer['ids']>>;

/** What most server test files share: one real server for the file, the demo clinics' ids, staff tokens. */
export interface ServerFixture {
  readonly server: TestServer;
  /** Sunrise Dermatology (New York): its tenant, staff and patient ids. */
  readonly sunrise: ClinicIds;
  /** Lakeside Skin Clinic (Chicago). */
  readonly lakeside: ClinicIds;
  /** A demo user's token, Sunrise unless said otherwise. */
  token(key: StaffKey, tenant?: DemoClinicSlug): Promise<string>;
}

/**
 * Starts a real server on an ephemeral port before the file's tests (a fresh copy of the seeded database) and stops
 * it after them. The fixture's fields are there once `beforeAll` has run.
 */
export function useTestServer(overrides: Partial<Config> = {}): ServerFixture {
  let server: TestServer | undefined;
  let sunrise: ClinicIds | undefined;
  let lakeside: ClinicIds | undefined;
  beforeAll(async () => {
    server = await startTestServer(overrides);
    [sunrise, lakeside] = await Promise.all([server.ids('sunrise-derm'), server.ids('lakeside-skin')]);
  });
  afterAll(() => server?.stop());
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined)
      throw new Error('the test server is not started yet: use the fixture inside tests or hooks');
    return value;
  };
  return {
    get server() {
      return ready(server);
    },
    get sunrise() {
      return ready(sunrise);
    },
    get lakeside() {
      return ready(lakeside);
    },
    token: (key, tenant = 'sunrise-derm') => ready(server).login(tenant, key),
  };
}

/**
 * graphql-ws clients a test opens on the fixture's server, all closed after each test, which then waits for the
 * server to have ended every stream they held: nothing leaks into the next test.
 */
export function useSockets(fixture: Pick<ServerFixture, 'server'>) {
  const clients: Client[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.dispose()));
    await waitForStreams(fixture.server, 0);
  });
  return {
    /** A client connected with this token (or none), closed after the test. */
    open(token: string | null, options: Omit<WsOptions, 'token'> = {}): Client {
      const client = wsClient(fixture.server.url, { ...options, token });
      clients.push(client);
      return client;
    },
  };
}
