import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { requestToken, type IntegrationCredentials } from '../helpers/integrations.js';
import { freePort, spawnServer, type ServerProcess } from '../helpers/process.js';
import { metric } from '../helpers/realtime.js';
import { serverScript } from '../helpers/serverBuild.js';
import { createTestDatabase, ENGINE } from '../helpers/testServer.js';

/**
 * The examples of docs/integrators.md, run as an integrator runs them, against the real server process: so the
 * docs cannot rot. The server restarts in the middle, as a deploy would.
 */
const ROOT = path.resolve(import.meta.dirname, '../../..');
const DOCS = readFileSync(path.join(ROOT, 'docs/integrators.md'), 'utf8');
const run = promisify(execFile);

/** The command lines the docs show, character for character. */
const TOKEN_CURL =
  'curl -s -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials http://localhost:4000/oauth/token';
const INTEGRATOR =
  'DERM_URL=http://localhost:4000 CLIENT_ID=... CLIENT_SECRET=... node examples/node-integrator/integrator.mjs';
const SSE = 'TOKEN=$TOKEN sh examples/sse.sh';

interface Running {
  child: ChildProcess;
  lines: string[];
  log: () => string;
  stop(): Promise<void>;
}

/** Starts a command and collects its stdout lines (and everything for a failing test's message). */
function start(command: string, args: string[], env: Record<string, string>): Running {
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let all = '';
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    all += chunk.toString();
    partial += chunk.toString();
    const parts = partial.split('\n');
    partial = parts.pop()!;
    lines.push(...parts.filter(Boolean));
  });
  child.stderr!.on('data', (chunk: Buffer) => (all += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    lines,
    log: () => all,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

let database: Awaited<ReturnType<typeof createTestDatabase>> | null = null;
let dataDir: string;
let env: Record<string, string>;
let server: ServerProcess;
let base: string;
let frontDesk: string;
let credentials: IntegrationCredentials;
let ids: { providerId: string; patientId: string };
const running: Running[] = [];

async function gql(query: string, variables: Record<string, unknown> = {}, token?: string) {
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: any; errors?: unknown };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

let slot = 0;
async function book(): Promise<string> {
  const start = Date.UTC(2034, 0, 1) + slot++ * 30 * 60_000;
  const i = { ...ids, startsAt: new Date(start).toISOString(), endsAt: new Date(start + 30 * 60_000).toISOString() };
  return (await gql('mutation($i: CreateAppointmentInput!) { createAppointment(input: $i) { id } }', { i }, frontDesk))
    .createAppointment.id;
}

async function streams(): Promise<number> {
  return metric(base, 'derm_subscription_streams');
}

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'derm-examples-'));
  if (ENGINE === 'postgres') database = await createTestDatabase();
  const port = await freePort();
  env = { PORT: String(port), ...(database ? { DATABASE_URL: database.url! } : { DATA_DIR: dataDir }) };
  server = await spawnServer(env);
  base = server.url;
  const login = async (email: string) =>
    (await gql(`mutation { login(tenant: "sunrise-derm", email: "${email}", password: "derm-demo-2026") { token } }`))
      .login.token as string;
  const admin = await login('admin@sunrise.example');
  frontDesk = await login('frontdesk@sunrise.example');
  const created = await gql(
    'mutation { createIntegrationClient(input: { name: "Reminder service", scopes: ["appointments:read"] }) { clientSecret client { id } } }',
    {},
    admin,
  );
  credentials = { id: created.createIntegrationClient.client.id, secret: created.createIntegrationClient.clientSecret };
  const staff = await gql(
    '{ staff(role: PROVIDER) { id } patients(first: 1) { edges { node { id } } } }',
    {},
    frontDesk,
  );
  ids = { providerId: staff.staff[0].id, patientId: staff.patients.edges[0].node.id };
});

afterAll(async () => {
  await Promise.all(running.map((r) => r.stop()));
  await server?.stop();
  await database?.drop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('docs/integrators.md', () => {
  it('should show the very command lines these tests run', () => {
    for (const line of [TOKEN_CURL, INTEGRATOR, SSE]) expect(DOCS).toContain(line);
  });
});

describe('Getting a token with curl', () => {
  it('should answer the documented curl line with a bearer token', async () => {
    const command = TOKEN_CURL.replace('http://localhost:4000', base);
    const { stdout } = await run('sh', ['-c', command], {
      env: { ...process.env, CLIENT_ID: credentials.id, CLIENT_SECRET: credentials.secret },
    });
    expect(JSON.parse(stdout)).toMatchObject({ token_type: 'Bearer', expires_in: 900, scope: 'appointments:read' });
  });
});

describe('The Node integrator (examples/node-integrator)', () => {
  it('should print each change, store its cursor, and after a restart resume exactly after it, also across a server restart', async () => {
    const cursorFile = path.join(dataDir, 'cursor.txt');
    const integratorEnv = {
      DERM_URL: base,
      CLIENT_ID: credentials.id,
      CLIENT_SECRET: credentials.secret,
      CURSOR_FILE: cursorFile,
    };
    const launch = () => {
      const r = start(process.execPath, ['examples/node-integrator/integrator.mjs'], integratorEnv);
      running.push(r);
      return r;
    };
    const printed = (r: Running) =>
      r.lines.map((l) => JSON.parse(l) as { kind: string; appointmentId: string; cursor: string });

    // 1. It follows changes as they happen.
    let integrator = launch();
    await vi.waitFor(async () => expect(await streams(), `the integrator subscribed:\n${integrator.log()}`).toBe(1), {
      timeout: 20_000,
    });
    const first = [await book(), await book()];
    await vi.waitFor(() => expect(integrator.lines, `two changes printed:\n${integrator.log()}`).toHaveLength(2), {
      timeout: 10_000,
    });
    expect(printed(integrator).map((e) => [e.kind, e.appointmentId])).toEqual(first.map((id) => ['CREATED', id]));
    expect(readFileSync(cursorFile, 'utf8')).toBe(printed(integrator)[1].cursor);

    // 2. Stopped, it misses nothing: what happened meanwhile comes first after a restart, then live changes.
    await integrator.stop();
    await vi.waitFor(async () => expect(await streams(), 'the stream released').toBe(0), { timeout: 10_000 });
    const whileAway = [await book(), await book()];
    integrator = launch();
    await vi.waitFor(
      () => expect(integrator.lines, `the missed changes replayed:\n${integrator.log()}`).toHaveLength(2),
      { timeout: 20_000 },
    );
    await vi.waitFor(async () => expect(await streams(), 'subscribed again').toBe(1), { timeout: 10_000 });
    const live = await book();
    await vi.waitFor(() => expect(integrator.lines, `the live change printed:\n${integrator.log()}`).toHaveLength(3), {
      timeout: 10_000,
    });
    expect(printed(integrator).map((e) => e.appointmentId)).toEqual([...whileAway, live]);

    // 3. The server restarts (a deploy): the integrator reconnects with a new token and resumes after its cursor.
    await server.stop();
    server = await spawnServer(env);
    await vi.waitFor(
      async () => expect(await streams(), `reconnected after the server restart:\n${integrator.log()}`).toBe(1),
      { timeout: 30_000 },
    );
    const afterDeploy = await book();
    await vi.waitFor(
      () => expect(integrator.lines, `the change after the restart printed:\n${integrator.log()}`).toHaveLength(4),
      { timeout: 10_000 },
    );
    expect(printed(integrator)[3].appointmentId).toBe(afterDeploy);
    expect(integrator.log()).toContain('subscribing after cursor');
    await integrator.stop();
    // Three integrator runs and a server restart with the integrator's own reconnection backoff: generous on a loaded
    // machine.
  }, 90_000);

  it('should read again what it mirrors when its cursor has expired (CURSOR_EXPIRED), then go on after the server’s cursor', async () => {
    const cursorFile = path.join(dataDir, 'expiring-cursor.txt');
    const launch = () => {
      const r = start(process.execPath, ['examples/node-integrator/integrator.mjs'], {
        DERM_URL: base,
        CLIENT_ID: credentials.id,
        CLIENT_SECRET: credentials.secret,
        CURSOR_FILE: cursorFile,
        // The window it mirrors: where these tests book.
        MIRROR_FROM: new Date(Date.UTC(2034, 0, 1)).toISOString(),
      });
      running.push(r);
      return r;
    };
    const printed = (r: Running) => r.lines.map((l) => JSON.parse(l) as { kind: string; appointmentId: string });

    // The last test's integrator may still hold its stream for a moment after it stops: counted here, it would pass
    // for this one's, and a booking made before this one subscribes "from now on" is never sent to it.
    await vi.waitFor(async () => expect(await streams(), 'no stream left from before').toBe(0), { timeout: 10_000 });
    let integrator = launch();
    await vi.waitFor(async () => expect(await streams(), `subscribed:\n${integrator.log()}`).toBe(1), {
      timeout: 20_000,
    });
    await book();
    await vi.waitFor(() => expect(integrator.lines, `printed:\n${integrator.log()}`).toHaveLength(1), {
      timeout: 10_000,
    });
    await integrator.stop();
    await vi.waitFor(async () => expect(await streams(), 'the stream released').toBe(0), { timeout: 10_000 });

    // Away longer than the log keeps: a change it does not see, then the log pruned past it with the operators'
    // command (the embedded database has one process at a time: the server is stopped meanwhile).
    const missed = await book();
    await server.stop();
    const { stdout } = await run(
      process.execPath,
      [...serverScript('server/src/db/cli.ts'), 'prune', '--before', new Date().toISOString()],
      { cwd: ROOT, env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'silent', ...env } },
    );
    expect(stdout).toMatch(/pruned [1-9]\d* events/);
    server = await spawnServer(env);

    integrator = launch();
    await vi.waitFor(
      () =>
        expect(
          printed(integrator).find((e) => e.appointmentId === missed),
          `read again:\n${integrator.log()}`,
        ).toMatchObject({ kind: 'SNAPSHOT' }),
      { timeout: 20_000 },
    );
    expect(integrator.log()).toContain('cursor expired');
    await vi.waitFor(async () => expect(await streams(), `subscribed again:\n${integrator.log()}`).toBe(1), {
      timeout: 20_000,
    });
    const live = await book();
    await vi.waitFor(
      () =>
        expect(printed(integrator).at(-1), `live:\n${integrator.log()}`).toEqual(
          expect.objectContaining({ kind: 'CREATED', appointmentId: live }),
        ),
      { timeout: 10_000 },
    );
    expect(printed(integrator).filter((e) => e.kind !== 'SNAPSHOT')).toHaveLength(1);
    await integrator.stop();
  }, 90_000);

  it('should give up with exit code 1 and say why when the client is revoked', async () => {
    const admin = (
      await gql(
        'mutation { login(tenant: "sunrise-derm", email: "admin@sunrise.example", password: "derm-demo-2026") { token } }',
      )
    ).login.token;
    const created = await gql(
      'mutation { createIntegrationClient(input: { name: "Doomed", scopes: ["appointments:read"] }) { clientSecret client { id } } }',
      {},
      admin,
    );
    const integrator = start(process.execPath, ['examples/node-integrator/integrator.mjs'], {
      DERM_URL: base,
      CLIENT_ID: created.createIntegrationClient.client.id,
      CLIENT_SECRET: created.createIntegrationClient.clientSecret,
      CURSOR_FILE: path.join(dataDir, 'doomed-cursor.txt'),
    });
    running.push(integrator);
    await vi.waitFor(() => expect(integrator.log()).toContain('connected'), { timeout: 20_000 });
    await gql(
      'mutation($id: ID!) { revokeIntegrationClient(id: $id) { id } }',
      { id: created.createIntegrationClient.client.id },
      admin,
    );
    const code = await new Promise<number | null>((resolve) => integrator.child.once('exit', resolve));
    expect(code).toBe(1);
    expect(integrator.log()).toContain('giving up: Client revoked');
  });

  it('should wait as long as the server says when its client is over its rate (TOO_MANY_REQUESTS), then subscribe', async () => {
    // A server of its own, with a low rate per caller.
    const ownDir = mkdtempSync(path.join(tmpdir(), 'derm-examples-rate-'));
    const ownDatabase = ENGINE === 'postgres' ? await createTestDatabase() : null;
    const limited = await spawnServer({
      PORT: '0',
      ...(ownDatabase ? { DATABASE_URL: ownDatabase.url! } : { DATA_DIR: ownDir }),
      RATE_LIMIT_WINDOW: '6',
      RATE_LIMIT_CALLER: '20',
    });
    try {
      const post = async (query: string, token?: string) =>
        (await fetch(`${limited.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
          body: JSON.stringify({ query }),
        }).then((r) => r.json())) as { data?: any; errors?: Array<{ extensions?: { code?: string } }> };
      const admin = (
        await post(
          'mutation { login(tenant: "sunrise-derm", email: "admin@sunrise.example", password: "derm-demo-2026") { token } }',
        )
      ).data.login.token;
      const created = (
        await post(
          'mutation { createIntegrationClient(input: { name: "Eager", scopes: ["appointments:read"] }) { clientSecret client { id } } }',
          admin,
        )
      ).data.createIntegrationClient;
      const client = { id: created.client.id, secret: created.clientSecret };
      // Another process of the same client has used up its rate for this window.
      const token = (await requestToken(limited.url, { grant_type: 'client_credentials' }, { basic: client })).body
        .access_token as string;
      // Until the server refuses (sent one at a time: which of a parallel batch is refused is not the last sent).
      let refused: string | undefined;
      for (let i = 0; i < 40 && !refused; i++) {
        const answer = await post('{ schedule { id } }', token);
        if (answer.errors?.[0]?.extensions?.code === 'TOO_MANY_REQUESTS') refused = answer.errors[0].extensions.code;
      }
      expect(refused).toBe('TOO_MANY_REQUESTS');

      const integrator = start(process.execPath, ['examples/node-integrator/integrator.mjs'], {
        DERM_URL: limited.url,
        CLIENT_ID: client.id,
        CLIENT_SECRET: client.secret,
        CURSOR_FILE: path.join(ownDir, 'eager-cursor.txt'),
      });
      running.push(integrator);
      await vi.waitFor(
        () => expect(integrator.log()).toMatch(/too many requests \(CALLER_RATE\); subscribing again in [1-6] s/),
        { timeout: 20_000 },
      );
      await vi.waitFor(
        async () =>
          expect(await metric(limited.url, 'derm_subscription_streams'), `subscribed:\n${integrator.log()}`).toBe(1),
        { timeout: 20_000 },
      );
      await integrator.stop();
    } finally {
      await limited.stop();
      await ownDatabase?.drop();
      rmSync(ownDir, { recursive: true, force: true });
    }
  }, 90_000);
});

describe('GraphQL over SSE with curl (examples/sse.sh)', () => {
  it('should stream changes as `event: next` blocks, and replay after a cursor', async () => {
    const token = (await requestToken(base, { grant_type: 'client_credentials' }, { basic: credentials })).body
      .access_token as string;
    const before = await streams();
    const curl = start('sh', ['examples/sse.sh'], { TOKEN: token, DERM_URL: base });
    running.push(curl);
    await vi.waitFor(async () => expect(await streams(), `curl subscribed:\n${curl.log()}`).toBe(before + 1), {
      timeout: 10_000,
    });
    const [a, b] = [await book(), await book()];
    const data = () =>
      curl.lines.filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)).data.appointmentChanged);
    await vi.waitFor(() => expect(data(), `two events:\n${curl.log()}`).toHaveLength(2), { timeout: 10_000 });
    expect(curl.lines.filter((l) => l.startsWith('event: '))).toEqual(['event: next', 'event: next']);
    expect(data().map((e) => e.appointment.id)).toEqual([a, b]);
    await curl.stop();

    const resumed = start('sh', ['examples/sse.sh'], { TOKEN: token, DERM_URL: base, AFTER: data()[0].cursor });
    running.push(resumed);
    await vi.waitFor(
      () =>
        expect(
          resumed.lines.filter((l) => l.startsWith('data: ')).length,
          `replayed:\n${resumed.log()}`,
        ).toBeGreaterThan(0),
      { timeout: 10_000 },
    );
    const replayed = resumed.lines
      .filter((l) => l.startsWith('data: '))
      .map((l) => JSON.parse(l.slice(6)).data.appointmentChanged.appointment.id);
    expect(replayed).toEqual([b]);
    await resumed.stop();
  });
});
