import { randomUUID } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disableTenant, enableTenant } from '../../src/domains/clinics/data.js';
import { tenantChannel, type SessionSignal } from '../../src/events/channels.js';
import { clinicsCli, clinicsScript, createArgs } from '../helpers/clinics.js';
import { createIntegrationClient, integrationToken, liveSocket, requestToken } from '../helpers/integrations.js';
import { APPOINTMENT_CHANGED, waitForStreams } from '../helpers/realtime.js';
import { useTestServer } from '../helpers/setup.js';
import { openEventStream } from '../helpers/sse.js';
import { scratchDir, seededPgliteDir } from '../helpers/templates.js';
import { createTestDatabase, ENGINE } from '../helpers/testServer.js';

const LOGIN =
  'mutation($t: String!, $e: String!, $p: String!) { login(tenant: $t, email: $e, password: $p) { token } }';

describe("The operators' command (npm run clinics)", () => {
  // One database for these tests, which the command opens itself; no server runs on it (the embedded database has
  // one process at a time).
  let env: Record<string, string>;
  let cleanUp: () => Promise<void>;
  beforeAll(async () => {
    if (ENGINE === 'postgres') {
      const database = await createTestDatabase();
      // The command opens its own connections: this one is not needed.
      env = { DATABASE_URL: database.url! };
      cleanUp = database.drop;
    } else {
      const dataDir = scratchDir('derm-clinics-');
      await seededPgliteDir(path.join(dataDir, 'pglite'));
      env = { DATA_DIR: dataDir };
      cleanUp = async () => rmSync(dataDir, { recursive: true, force: true });
    }
  });
  afterAll(() => cleanUp?.());

  /** The clinics as the command lists them: what a refused command must leave as it was (clinics and staff). */
  async function clinics(): Promise<Array<{ slug: string; status: string; staff: number; timeZone: string }>> {
    const res = await clinicsCli(['list', '--json'], env);
    expect(res.code).toBe(0);
    return JSON.parse(res.stdout);
  }

  it('should create a clinic and its admin in one go, print a generated password once, and list it', async () => {
    const res = await clinicsCli(createArgs('harbor-derm', ['--time-zone', 'us/eastern']), env);
    expect(res.code).toBe(0);
    // The zone as Intl names it canonically.
    expect(res.stdout).toContain('created clinic harbor-derm (Harbor Dermatology), time zone America/New_York');
    expect(res.stdout).toContain('admin: Rita Alves <rita@harbor-derm.example>');
    expect(res.stdout).toMatch(/^password: [\w-]{32}$/m);
    expect(res.stdout).toContain('it is not shown again');

    // A password of the operator's choosing, piped in, is not printed.
    const chosen = await clinicsCli(createArgs('bay-skin', ['--password-stdin']), env, 'copper kettle lighthouse 42\n');
    expect(chosen.code).toBe(0);
    expect(chosen.stdout).not.toContain('password:');
    expect(chosen.stdout).not.toContain('copper kettle');

    const listed = await clinicsCli(['list'], env);
    expect(listed.stdout).toMatch(
      /^harbor-derm +Harbor Dermatology +America\/New_York +active +1 +\d{4}-\d{2}-\d{2}$/m,
    );
    expect(listed.stdout).toMatch(/^bay-skin +Harbor Dermatology +Europe\/Lisbon +active +1 /m);
    expect(await clinics()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ slug: 'sunrise-derm', status: 'active', staff: 5 }),
        expect.objectContaining({ slug: 'harbor-derm', status: 'active', staff: 1 }),
      ]),
    );
    // Four runs of the command, each opening the database (seconds each, embedded, on a loaded machine).
  }, 90_000);

  it('should disable and enable a clinic, and say so in the list', async () => {
    const disabled = await clinicsCli(['disable', 'lakeside-skin', '--json'], env);
    expect(disabled.code).toBe(0);
    // No REDIS_URL here: the servers notice at their next check.
    expect(JSON.parse(disabled.stdout)).toMatchObject({ slug: 'lakeside-skin', status: 'disabled', announced: false });
    expect((await clinicsCli(['list'], env)).stdout).toMatch(/^lakeside-skin +Lakeside Skin Clinic .* disabled +5 /m);
    // Said again, in words: the moment it was disabled, on the clinic's clock (Chicago), not the server's or UTC.
    const again = await clinicsCli(['disable', 'lakeside-skin'], env);
    const disabledAt = new Date(JSON.parse(disabled.stdout).disabledAt);
    const chicago = new Intl.DateTimeFormat('en-US', {
      timeZone: 'America/Chicago',
      hour: 'numeric',
      minute: '2-digit',
    });
    const clock = chicago.format(disabledAt).replace(/[\u202f\u2009]/g, ' ');
    expect(again.stdout).toMatch(
      /^disabled lakeside-skin \(Lakeside Skin Clinic\) since \w{3}, \w{3} \d{1,2}, \d{4}, /m,
    );
    expect(again.stdout).toContain(`${clock} C`); // CST or CDT
    expect(again.stdout).toContain('(America/Chicago)');
    const enabled = await clinicsCli(['enable', 'lakeside-skin'], env);
    expect(enabled.stdout).toContain('enabled lakeside-skin (Lakeside Skin Clinic): its staff can sign in again');
    expect(await clinics()).toContainEqual(expect.objectContaining({ slug: 'lakeside-skin', status: 'active' }));
  }, 90_000);

  let refusedBaseline: Awaited<ReturnType<typeof clinics>> | undefined;
  it.each([
    [
      'a slug already taken',
      createArgs('sunrise-derm'),
      undefined,
      'A clinic with the slug "sunrise-derm" already exists',
    ],
    [
      'an unknown time zone',
      createArgs('mars-derm', ['--time-zone', 'Mars/Olympus']),
      undefined,
      'timeZone "Mars/Olympus" is not an IANA time zone (such as America/New_York or Europe/Paris) (--time-zone)',
    ],
    [
      'an offset for a time zone',
      createArgs('offset-derm', ['--time-zone', '+05:00']),
      undefined,
      'timeZone must be an IANA time zone such as Europe/Paris (--time-zone)',
    ],
    [
      'a malformed slug',
      createArgs('Harbor_Derm!'),
      undefined,
      'slug "Harbor_Derm!" must be 1 to 63 lowercase letters',
    ],
    [
      'a malformed email',
      createArgs('mail-derm', ['--admin-email', 'rita@']),
      undefined,
      'adminEmail is not an email address (--admin-email)',
    ],
    [
      'a common password',
      createArgs('weak-derm', ['--password-stdin']),
      'password1234\n',
      'password is one of the most common passwords',
    ],
    ['a short password', createArgs('short-derm', ['--password-stdin']), 'kettle', 'password must be at least 12'],
    [
      "a password made of the clinic's slug",
      createArgs('harborview', ['--password-stdin']),
      'harborview-clinic-2026',
      "password must not contain the account's email name or the clinic's short name",
    ],
  ])('should refuse %s with exit code 2, say why, and write nothing', async (_case, args, stdin, message) => {
    // Refusals change nothing, so one listing serves them all (each opening of the database costs seconds embedded).
    const before = (refusedBaseline ??= await clinics());
    const res = await clinicsCli(args, env, stdin);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(message);
    expect(res.stderr).toContain('nothing was written');
    expect(res.stdout).toBe('');
    expect(await clinics()).toEqual(before);
  });

  it.each([
    ['no command', [], 'npm run clinics -- create <slug>'],
    ['an unknown command', ['delete', 'sunrise-derm'], 'Unknown command "delete"'],
    ['create without a slug', ['create'], "create needs the clinic's slug"],
    ['create without a time zone', ['create', 'x', '--name', 'X', '--admin-name', 'A'], '--time-zone is required'],
    [
      'create without the admin',
      ['create', 'x', '--name', 'X', '--time-zone', 'UTC', '--admin-name', 'A'],
      '--admin-email is required',
    ],
    ['disable without a slug', ['disable'], "disable needs the clinic's slug"],
    ['an unknown option', ['list', '--all'], "Unknown option '--all'"],
    ['a password for another command', ['enable', 'x', '--password-stdin'], '--password-stdin is for create'],
  ])('should refuse %s with exit code 2 and the usage, before opening any database', async (_case, args, message) => {
    const dataDir = path.join(tmpdir(), `derm-clinics-${randomUUID()}`);
    const res = await clinicsCli(args, { DATA_DIR: dataDir });
    expect(res.code).toBe(2);
    expect(res.stdout + res.stderr).toContain(message);
    expect(existsSync(dataDir)).toBe(false);
  });

  it('should refuse an unknown clinic with exit code 2', async () => {
    const res = await clinicsCli(['disable', 'nowhere-derm'], env);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('No clinic with the slug "nowhere-derm"');
  });

  it('should exit with code 2 as its own process, for bad input piped in as for missing arguments', async () => {
    const before = (refusedBaseline ??= await clinics());
    const weak = await clinicsScript(createArgs('pipe-derm', ['--password-stdin']), env, 'password1234\n');
    expect(weak).toMatchObject({ code: 2, stdout: '' });
    expect(weak.stderr).toContain('error: password is one of the most common passwords');
    const missing = await clinicsScript(['create', 'pipe-derm'], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('error: --name is required');
    expect(await clinics()).toEqual(before);
    // Two processes, one of which opens the database: generous for a loaded machine.
  }, 60_000);
});

describe('A disabled clinic', () => {
  const fixture = useTestServer();

  /** The signal `npm run clinics -- disable` sends after writing the row (through the server's own pub/sub here). */
  async function announceDisabled(tenantId: string): Promise<void> {
    const signal: SessionSignal = { kind: 'tenantDisabled' };
    await fixture.server.app.services.realtime.hub.publish(tenantChannel({ tenantId }, 'sessions'), signal);
  }

  it('should be checked at the door within the one read a token already costs', async () => {
    const { server } = fixture;
    const staff = await fixture.token('nurse');
    const integration = await integrationToken(
      server.url,
      await createIntegrationClient(server, ['appointments:read']),
    );
    for (const token of [staff, integration]) {
      const queries: string[] = [];
      // Reads only: an integration client's first call also writes its last activity (at most once a minute, not
      // awaited by the request: the connection dashboard's `lastUsedAt`).
      const onQuery = (q: { sql: string }) => {
        if (/^select/i.test(q.sql)) queries.push(q.sql);
      };
      server.db.on('query', onQuery);
      try {
        const res = await server.gql('{ __typename }', {}, token);
        expect(res.status).toBe(200);
      } finally {
        server.db.off('query', onQuery);
      }
      // The user (or client) and its clinic, joined.
      expect(queries).toHaveLength(1);
      expect(queries[0]).toMatch(/join "?tenants\b/);
    }
  });

  it('should close its connections within seconds even when no signal comes (a disable straight in the database)', async () => {
    const { server } = fixture;
    const live = await liveSocket(server, await fixture.token('nurse', 'lakeside-skin'));
    await waitForStreams(server, 1);
    const disabledAt = Date.now();
    await disableTenant(server.db, 'lakeside-skin');
    const closed = await live.whenClosed(10_000);
    expect(closed).toMatchObject({ code: 4403, reason: 'Clinic disabled' });
    // The periodic check runs every 5 s.
    expect(closed.at - disabledAt).toBeLessThan(7000);
    await live.socket.dispose();
    await enableTenant(server.db, 'lakeside-skin');
  });

  it('should end its WebSockets and event streams at once, refuse its tokens on every transport, and refuse sign-in with a reason', async () => {
    const { server } = fixture;
    const client = await createIntegrationClient(server, ['appointments:read']);
    const integration = await integrationToken(server.url, client);
    const admin = await fixture.token('admin');
    const socket = await liveSocket(server, await fixture.token('frontdesk'));
    const integrationSocket = await liveSocket(server, integration);
    const stream = await openEventStream(server.url, await fixture.token('lee'), APPOINTMENT_CHANGED);
    const otherClinic = await liveSocket(server, await fixture.token('frontdesk', 'lakeside-skin'));
    await waitForStreams(server, 4);

    // The signal before the row, so that what closes them can only be the signal (the periodic check reads the row).
    await announceDisabled(fixture.sunrise.tenantId);
    for (const live of [socket, integrationSocket]) {
      expect(await live.whenClosed(5000)).toMatchObject({ code: 4403, reason: 'Clinic disabled' });
    }
    await stream.ended;
    expect(stream.results().at(-1).errors[0]).toMatchObject({
      message: expect.stringContaining('This clinic has been disabled'),
      extensions: { code: 'UNAUTHENTICATED', reason: 'CLINIC_DISABLED' },
    });
    await waitForStreams(server, 1);
    expect(otherClinic.closed()).toBeUndefined();
    await disableTenant(server.db, 'sunrise-derm');

    // HTTP, a new WebSocket, a new event stream.
    for (const token of [admin, integration]) {
      const res = await server.gql('{ __typename }', {}, token);
      expect(res.status).toBe(401);
      expect(res.errors![0]).toMatchObject({ extensions: { code: 'UNAUTHENTICATED', reason: 'CLINIC_DISABLED' } });
    }
    const again = await liveSocket(server, admin);
    expect(await again.whenClosed(5000)).toMatchObject({ code: 4403 });
    const refusedStream = await openEventStream(server.url, admin, APPOINTMENT_CHANGED);
    expect(refusedStream.status).toBe(401);
    expect(refusedStream.body.errors[0].extensions).toMatchObject({ reason: 'CLINIC_DISABLED' });

    // Signing in: staff with the right password are told why; anyone else gets the usual refusal.
    const login = (password: string) =>
      server.gql(LOGIN, { t: 'sunrise-derm', e: 'admin@sunrise.example', p: password });
    const refused = await login('derm-demo-2026');
    expect(refused.errors![0]).toMatchObject({
      message: 'This clinic has been disabled: ask the operators of this service to enable it',
      extensions: { code: 'UNAUTHENTICATED', reason: 'CLINIC_DISABLED' },
    });
    expect((await login('not the password')).errors![0].message).toBe('Unknown clinic, email or password');
    const token = await requestToken(server.url, { grant_type: 'client_credentials' }, { basic: client });
    expect(token).toMatchObject({ status: 400, body: { error: 'unauthorized_client' } });

    // Enabled again: sign-in works, and what the disable ended stays ended.
    await enableTenant(server.db, 'sunrise-derm');
    expect((await login('derm-demo-2026')).data!.login.token).toEqual(expect.any(String));
    expect((await requestToken(server.url, { grant_type: 'client_credentials' }, { basic: client })).status).toBe(200);
    for (const old of [admin, integration]) {
      const res = await server.gql('{ __typename }', {}, old);
      expect(res.errors![0]).toMatchObject({ extensions: { code: 'UNAUTHENTICATED', reason: 'SIGNED_OUT' } });
    }
    await Promise.all([socket, integrationSocket, otherClinic, again].map((s) => s.socket.dispose()));
    stream.close();
  });
});
