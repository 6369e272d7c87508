import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { randomUUID } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bookFreeSlot, waitForStreams } from '../helpers/realtime.js';
import {
  createIntegrationClient,
  integrationToken,
  requestToken,
  REVOKE_CLIENT,
  integrationsCli,
  integrationsScript,
  liveSocket,
} from '../helpers/integrations.js';
import { scratchDir, seededPgliteDir } from '../helpers/templates.js';
import { createTestDatabase, ENGINE, startTestServer, type TestServer } from '../helpers/testServer.js';

describe('Revocation closes live connections', () => {
  let server: TestServer;
  let admin: string;
  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.login('sunrise-derm', 'admin');
  });
  afterAll(() => server?.stop());

  it("should close a revoked client's WebSocket within seconds with 4403 Client revoked, and refuse it from then on", async () => {
    const client = await createIntegrationClient(server, ['appointments:read']);
    const token = await integrationToken(server.url, client);
    const live = await liveSocket(server, token);
    await waitForStreams(server, 1);

    const revokedAt = Date.now();
    const res = await server.gql(REVOKE_CLIENT, { id: client.id }, admin);
    expect(res.data!.revokeIntegrationClient.revokedAt).toBeTruthy();
    const closed = await live.whenClosed(5000);
    expect(closed).toMatchObject({ code: 4403, reason: 'Client revoked' });
    expect(closed.at - revokedAt).toBeLessThan(2000);
    await waitForStreams(server, 0);

    // A new connection with the same (unexpired) token is refused, as are new requests.
    const again = await liveSocket(server, token);
    expect(await again.whenClosed(5000)).toMatchObject({ code: 4403 });
    expect((await server.gql('{ schedule(date: "2030-01-01") { id } }', {}, token)).status).toBe(401);
    await Promise.all([live.socket.dispose(), again.socket.dispose()]);
  });

  it('should leave the sockets of other clients and of staff open', async () => {
    const [doomed, kept] = await Promise.all([
      createIntegrationClient(server, ['appointments:read']),
      createIntegrationClient(server, ['appointments:read']),
    ]);
    const a = await liveSocket(server, await integrationToken(server.url, doomed));
    const b = await liveSocket(server, await integrationToken(server.url, kept));
    const frontDesk = await server.login('sunrise-derm', 'frontdesk');
    const staff = await liveSocket(server, frontDesk);
    await waitForStreams(server, 3);
    await server.gql(REVOKE_CLIENT, { id: doomed.id }, admin);
    await a.whenClosed(5000);
    // The others still stream: a booking made after the revocation reaches both, and neither socket closed.
    const booked = await bookFreeSlot(server, frontDesk);
    for (const { sub } of [b, staff])
      expect((await sub.waitFor(1))[0].data!.appointmentChanged.appointment.id).toBe(booked);
    expect([b.closed(), staff.closed()]).toEqual([undefined, undefined]);
    await Promise.all([a, b, staff].map((s) => s.socket.dispose()));
  });

  it('should close the socket within seconds even when no revocation signal comes (a revocation straight in the database)', async () => {
    const client = await createIntegrationClient(server, ['appointments:read']);
    const live = await liveSocket(server, await integrationToken(server.url, client));
    await waitForStreams(server, 1);
    // What an operator's script does without Redis: no signal reaches this server, its periodic check does.
    const revokedAt = Date.now();
    await server.db('integrationClients').where({ id: client.id }).update({ revokedAt: new Date() });
    const closed = await live.whenClosed(10_000);
    expect(closed).toMatchObject({ code: 4403, reason: 'Client revoked' });
    expect(closed.at - revokedAt).toBeLessThan(7000);
    await live.socket.dispose();
  });
});

describe("The operators' script (npm run integrations)", () => {
  it('should create, list and revoke clients, and print the secret once', async () => {
    // The embedded database has one process at a time: the script runs while no server holds it.
    const database = ENGINE === 'postgres' ? await createTestDatabase() : null;
    const dataDir = scratchDir('derm-cli-');
    // The embedded database a first server start would have made: a seeded copy of the run's template.
    if (!database) await seededPgliteDir(path.join(dataDir, 'pglite'));
    const env: Record<string, string> = database ? { DATABASE_URL: database.url! } : { DATA_DIR: dataDir };
    // The server an operator runs next to the script, in this process (as its own process it would only be slower):
    // it opens the same database as the script.
    let server: App | undefined;
    const startServer = async () => startApp(loadConfig({ NODE_ENV: 'test', PORT: '0', HOST: '127.0.0.1', ...env }));
    try {
      // A clinic that does not exist is named in the refusal, as the script started by an operator prints it.
      const none = await integrationsScript(['list', '--tenant', 'sunrise-dermatology'], env);
      expect(none.code).toBe(2);
      expect(none.stderr).toContain('No clinic with the slug "sunrise-dermatology"');
      expect(none.stderr).toContain('npm run integrations -- create');

      server = await startServer();
      if (!database) {
        // Two processes must not open the embedded database at once: the script refuses while its server runs.
        const busy = await integrationsCli(['list', '--tenant', 'sunrise-derm'], {
          ...env,
          PORT: new URL(server.url).port,
        });
        expect(busy.code).toBe(2);
        expect(busy.stderr).toContain('with the embedded database, which has one process at a time. Stop it first');
        await server.stop();
        server = undefined;
      }
      const created = await integrationsCli(
        [
          'create',
          '--tenant',
          'sunrise-derm',
          '--name',
          'Lab bridge',
          '--scopes',
          'appointments:read,patients:read',
          '--json',
        ],
        env,
      );
      expect(created.code).toBe(0);
      const client = JSON.parse(created.stdout) as { clientId: string; clientSecret: string; scopes: string[] };
      expect(client.scopes).toEqual(['appointments:read', 'patients:read']);
      expect(client.clientSecret).toMatch(/^dcs_[\w-]{43}$/);

      const listed = await integrationsCli(['list', '--tenant', 'sunrise-derm'], env);
      expect(listed.stdout).toContain(`${client.clientId}  Lab bridge  [appointments:read patients:read]`);
      expect(listed.stdout).not.toContain(client.clientSecret);

      if (!database) server = await startServer();
      const token = await requestToken(
        server!.url,
        { grant_type: 'client_credentials' },
        { basic: { id: client.clientId, secret: client.clientSecret } },
      );
      expect(token.status).toBe(200);
      if (!database) {
        await server!.stop();
        server = undefined;
      }

      const revoked = await integrationsCli(['revoke', '--tenant', 'sunrise-derm', client.clientId], env);
      expect(revoked.code).toBe(0);
      expect(revoked.stdout).toContain(`revoked ${client.clientId}`);
      const all = JSON.parse(
        (await integrationsCli(['list', '--tenant', 'sunrise-derm', '--all', '--json'], env)).stdout,
      );
      expect(all).toEqual([expect.objectContaining({ clientId: client.clientId, revokedAt: expect.any(String) })]);
    } finally {
      await server?.stop();
      await database?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
    // One operator's session: a script started as its own process, servers started and stopped, the database opened
    // six times. Generous for a loaded machine.
  }, 60_000);

  it.each([
    ['no command', [], 'npm run integrations -- create'],
    ['an unknown command', ['rotate', '--tenant', 'sunrise-derm'], 'Unknown command "rotate"'],
    ['create without scopes', ['create', '--tenant', 'sunrise-derm', '--name', 'x'], '--scopes is required'],
    ['an unknown option', ['list', '--tenant', 'sunrise-derm', '--everything'], "Unknown option '--everything'"],
  ])('should refuse %s with exit code 2 and the usage, before opening any database', async (_case, args, message) => {
    const dataDir = path.join(tmpdir(), `derm-cli-${randomUUID()}`);
    const res = await integrationsCli(args, { DATA_DIR: dataDir });
    expect(res.code).toBe(2);
    expect(res.stdout + res.stderr).toContain(message);
    expect(existsSync(dataDir)).toBe(false);
  });
});
