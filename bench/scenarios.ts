/**
 * What the fan-out benchmark's subscribers listen to and which mutations make its events (bench/fanout.ts): the
 * clinics, their sign-ins, and the two kinds of case.
 *
 * - clinics: N subscribers of `appointmentChanged` spread evenly over C clinics; event i books or moves an
 *   appointment in clinic i mod C, so it reaches that clinic's N/C subscribers. Clinics beyond the two of the demo
 *   seed are created here, in the benchmark's throwaway database.
 * - mixed: in one clinic at once, the web app's schedule, an integrator's minimal selection over an integration
 *   client's token, per-provider schedules, threads kept open (`messageAdded(threadId)`) and each user's
 *   notifications; events rotate over bookings, messages and alerts.
 *
 * Subscribers that receive the same events with the same bytes form an audience (support.ts, `AudienceShare`).
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Kind, parse, print, visit, type DefinitionNode, type FragmentDefinitionNode } from 'graphql';
import pg from 'pg';
import { hashPassword } from '../server/src/auth/passwords.js';
import { DEMO_CLINICS, DEMO_PASSWORD, demoEmail } from '../server/src/db/seeds/demo.js';
import { ROOT } from './support.js';

/** What a schedule view shows of a change: the selection of the `clinics` cases (figures stay comparable over time). */
const SCHEDULE_SUBSCRIPTION = `subscription AppointmentChanged {
  appointmentChanged {
    kind
    cursor
    occurredAt
    previousProviderId
    appointment {
      id
      status
      startsAt
      endsAt
      room
      reason
      updatedAt
      provider { id name }
      patient { id displayName }
    }
  }
}`;

/** An integrator's minimal selection: the one examples/node-integrator/integrator.mjs follows the schedule with. */
function integratorSubscription(): string {
  const example = readFileSync(path.join(ROOT, 'examples/node-integrator/integrator.mjs'), 'utf8');
  const document = /const CHANGES = `([^`]+)`/.exec(example)?.[1];
  if (!document) throw new Error('examples/node-integrator/integrator.mjs has no CHANGES document any more');
  return document;
}

export interface Audience {
  name: string;
  count: number;
  query: string;
  variables?: Record<string, unknown>;
  /** Used round-robin by its sockets. */
  tokens: string[];
  /** The subscription's root field, by which its frames are checked. */
  field: string;
}

export interface BenchEvent {
  /** The audiences it reaches: all their subscribers, and no other. */
  audiences: string[];
  send(): Promise<void>;
}

export interface Scenario {
  audiences: Audience[];
  /** The run's next event (warm-up ones included). */
  next(): BenchEvent;
}

export type CaseSpec = { kind: 'clinics'; clinics: number } | { kind: 'mixed' };

/** Where the scenario's server and database are. */
export interface Environment {
  url: string;
  databaseUrl: string;
  /** The server's, for the integrations command (it loads the server's configuration). */
  jwtSecret: string;
}

export const caseName = (spec: CaseSpec) =>
  spec.kind === 'mixed' ? 'mixed' : `${spec.clinics} clinic${spec.clinics === 1 ? '' : 's'}`;

// ---------------------------------------------------------------------------------------------------------------------
// GraphQL over HTTP

export async function graphql<T>(
  url: string,
  query: string,
  variables: Record<string, unknown>,
  token?: string,
): Promise<T> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T; errors?: unknown[] };
  if (!body.data || body.errors)
    throw new Error(`GraphQL request failed (${res.status}): ${JSON.stringify(body.errors ?? body)}`);
  return body.data;
}

// ---------------------------------------------------------------------------------------------------------------------
// Clinics

type ClinicSpec = (typeof DEMO_CLINICS)[number];

/** A clinic beyond the demo ones, shaped like them: the same five roles, patients named as the first clinic's. */
function benchClinic(ordinal: number): ClinicSpec {
  const slug = `bench-clinic-${String(ordinal).padStart(2, '0')}`;
  return {
    slug,
    name: `Bench Clinic ${ordinal}`,
    timeZone: 'America/Denver',
    domain: `${slug}.example`,
    staff: [
      { key: 'admin', name: `Admin ${ordinal}`, role: 'ADMIN' },
      { key: 'provider1', name: `Dr. First ${ordinal}`, role: 'PROVIDER' },
      { key: 'provider2', name: `Dr. Second ${ordinal}`, role: 'PROVIDER' },
      { key: 'nurse', name: `Nurse ${ordinal}`, role: 'NURSE' },
      { key: 'frontdesk', name: `Front Desk ${ordinal}`, role: 'FRONT_DESK' },
    ],
    patients: DEMO_CLINICS[0].patients,
  };
}

function clinicSpecs(count: number): ClinicSpec[] {
  const extra = Array.from({ length: Math.max(0, count - DEMO_CLINICS.length) }, (_, i) =>
    benchClinic(DEMO_CLINICS.length + i + 1),
  );
  return [...DEMO_CLINICS, ...extra].slice(0, count);
}

/**
 * Inserts the clinics the demo seed lacks, as its `seedClinic` does (staff with the demo password hashed by the
 * server's own function, patients; no schedule, thread or task: the events make their own). That function is not
 * exported, and the seed's only export runs it for the demo clinics alone, so the rows are written here.
 * Idempotent: sizes and runs share the database.
 */
async function createClinics(databaseUrl: string, specs: ClinicSpec[]): Promise<void> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const existing = new Set((await db.query<{ slug: string }>('select slug from tenants')).rows.map((r) => r.slug));
    const missing = specs.filter((spec) => !existing.has(spec.slug));
    if (missing.length === 0) return;
    const passwordHash = await hashPassword(DEMO_PASSWORD);
    await db.query('begin');
    for (const spec of missing) {
      const { rows } = await db.query<{ id: string }>(
        'insert into tenants (slug, name, time_zone) values ($1, $2, $3) returning id',
        [spec.slug, spec.name, spec.timeZone],
      );
      const tenantId = rows[0].id;
      for (const s of spec.staff)
        await db.query('insert into users (tenant_id, email, name, role, password_hash) values ($1, $2, $3, $4, $5)', [
          tenantId,
          demoEmail(spec, s.key),
          s.name,
          s.role,
          passwordHash,
        ]);
      for (const [i, [firstName, lastName, dateOfBirth]] of spec.patients.entries())
        await db.query(
          `insert into patients (tenant_id, mrn, first_name, last_name, date_of_birth, phone)
           values ($1, $2, $3, $4, $5, $6)`,
          [
            tenantId,
            `${spec.slug.slice(0, 3).toUpperCase()}-${1001 + i}`,
            firstName,
            lastName,
            dateOfBirth,
            `555-01${String(10 + i).padStart(2, '0')}`,
          ],
        );
    }
    await db.query('commit');
  } catch (err) {
    await db.query('rollback').catch(() => {});
    throw err;
  } finally {
    await db.end();
  }
}

interface StaffSession {
  key: string;
  id: string;
  role: string;
  token: string;
}

interface ClinicSession {
  slug: string;
  staff: StaffSession[];
  patientIds: string[];
}

async function signIn(url: string, spec: ClinicSpec): Promise<ClinicSession> {
  const login =
    'mutation Login($t: String!, $e: String!, $p: String!) { login(tenant: $t, email: $e, password: $p) { token user { id role } } }';
  const staff: StaffSession[] = [];
  for (const { key } of spec.staff) {
    const { token, user } = (
      await graphql<{ login: { token: string; user: { id: string; role: string } } }>(url, login, {
        t: spec.slug,
        e: demoEmail(spec, key),
        p: DEMO_PASSWORD,
      })
    ).login;
    staff.push({ key, id: user.id, role: user.role, token });
  }
  const clinic = { slug: spec.slug, staff, patientIds: [] as string[] };
  const { patients } = await graphql<{ patients: { edges: { node: { id: string } }[] } }>(
    url,
    '{ patients(first: 12) { edges { node { id } } } }',
    {},
    member(clinic, 'FRONT_DESK').token,
  );
  if (patients.edges.length === 0) throw new Error(`clinic ${spec.slug} has no patients`);
  clinic.patientIds = patients.edges.map((e) => e.node.id);
  return clinic;
}

/** The first staff member of a role, or of a key (`nurse`). */
function member(clinic: Pick<ClinicSession, 'slug' | 'staff'>, roleOrKey: string): StaffSession {
  const found = clinic.staff.find((s) => s.role === roleOrKey || s.key === roleOrKey);
  if (!found) throw new Error(`clinic ${clinic.slug} has no ${roleOrKey}`);
  return found;
}

const providers = (clinic: ClinicSession) => clinic.staff.filter((s) => s.role === 'PROVIDER');

// ---------------------------------------------------------------------------------------------------------------------
// Events

/** Appointments are booked into consecutive 30-minute slots from a far-future date, one per booking of the run. */
const SLOT_BASE = Date.UTC(2031, 0, 6, 0, 0);
let slots = 0;
/** Per clinic, the appointment its last booking made: its next appointment event moves it; then it books again. */
const booked = new Map<string, { id: string; providerId: string }>();

/**
 * A booking by the front desk (with `providerId`), or the move of the clinic's last booking to another room:
 * alternately, so the schedule neither fills up nor sees the same kind of change only.
 */
function appointmentChange(url: string, clinic: ClinicSession, providerId: string) {
  const frontDesk = member(clinic, 'FRONT_DESK').token;
  const last = booked.get(clinic.slug);
  if (last) {
    booked.delete(clinic.slug);
    return {
      providerId: last.providerId,
      send: () =>
        graphql(
          url,
          'mutation Move($id: ID!, $input: UpdateAppointmentInput!) { updateAppointment(id: $id, input: $input) { id } }',
          { id: last.id, input: { room: 'Room 10', reason: 'Mole check, moved' } },
          frontDesk,
        ).then(() => {}),
    };
  }
  const slot = slots++;
  const startsAt = new Date(SLOT_BASE + slot * 30 * 60_000);
  return {
    providerId,
    send: async () => {
      const data = await graphql<{ createAppointment: { id: string } }>(
        url,
        'mutation Book($input: CreateAppointmentInput!) { createAppointment(input: $input) { id } }',
        {
          input: {
            providerId,
            patientId: clinic.patientIds[slot % clinic.patientIds.length],
            startsAt: startsAt.toISOString(),
            endsAt: new Date(startsAt.getTime() + 20 * 60_000).toISOString(),
            room: `Room ${(slot % 9) + 1}`,
            reason: 'Mole check',
          },
        },
        frontDesk,
      );
      booked.set(clinic.slug, { id: data.createAppointment.id, providerId });
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// Splitting subscribers

/** `total` split in proportion to `weights` (largest remainders), so that the parts add up to `total` exactly. */
export function apportion(total: number, weights: number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  const exact = weights.map((w) => (total * w) / sum);
  const parts = exact.map(Math.floor);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0]);
  // The remainder is counted once: counted in the loop's test, it would shrink as the parts grow.
  const remainder = total - parts.reduce((a, b) => a + b, 0);
  for (let k = 0; k < remainder; k++) parts[order[k][1]] += 1;
  return parts;
}

// ---------------------------------------------------------------------------------------------------------------------
// The clinics case

async function clinicsScenario(env: Environment, n: number, clinics: number): Promise<Scenario> {
  const specs = clinicSpecs(clinics);
  await createClinics(env.databaseUrl, specs);
  const sessions: ClinicSession[] = [];
  for (const spec of specs) sessions.push(await signIn(env.url, spec));
  const counts = apportion(
    n,
    sessions.map(() => 1),
  );
  let index = 0;
  return {
    audiences: sessions.map((clinic, i) => ({
      name: `clinic:${clinic.slug}`,
      count: counts[i],
      query: SCHEDULE_SUBSCRIPTION,
      tokens: clinic.staff.map((s) => s.token),
      field: 'appointmentChanged',
    })),
    next() {
      const clinic = sessions[index++ % sessions.length];
      const change = appointmentChange(env.url, clinic, providers(clinic)[0].id);
      return { audiences: [`clinic:${clinic.slug}`], send: change.send };
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// The mixed case

/** A subscription of the web app, with the fragments it spreads, read from its documents (client/src/**\/*.graphql). */
function webAppDocument(operationName: string): string {
  const definitions: DefinitionNode[] = [];
  const dir = path.join(ROOT, 'client/src');
  for (const file of readdirSync(dir, { recursive: true, encoding: 'utf8' }))
    if (file.endsWith('.graphql')) definitions.push(...parse(readFileSync(path.join(dir, file), 'utf8')).definitions);
  const fragments = new Map(
    definitions
      .filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION)
      .map((d) => [d.name.value, d]),
  );
  const operation = definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION && d.name?.value === operationName);
  if (!operation) throw new Error(`the web app has no operation ${operationName} under client/src`);
  const used: DefinitionNode[] = [operation];
  const spreadsOf = (node: DefinitionNode) => {
    visit(node, {
      FragmentSpread(spread) {
        const fragment = fragments.get(spread.name.value);
        if (!fragment) throw new Error(`${operationName} spreads unknown fragment ${spread.name.value}`);
        if (used.includes(fragment)) return;
        used.push(fragment);
        spreadsOf(fragment);
      },
    });
  };
  spreadsOf(operation);
  return used.map((d) => print(d)).join('\n\n');
}

const INTEGRATION_SCOPES = 'appointments:read';
/** Created once per run of the benchmark (its database outlives each server). */
let integrationClient: { clientId: string; clientSecret: string } | undefined;

/** An integration client of the clinic, made as operators do (`npm run integrations -- create … --json`). */
async function createIntegrationClient(env: Environment, slug: string) {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(ROOT, 'server/src/domains/integrations/cli.ts'),
      'create',
      '--tenant',
      slug,
      '--name',
      'fan-out benchmark',
      '--scopes',
      INTEGRATION_SCOPES,
      '--json',
    ],
    {
      cwd: ROOT,
      env: { ...process.env, NODE_ENV: 'production', DATABASE_URL: env.databaseUrl, JWT_SECRET: env.jwtSecret },
    },
  );
  return JSON.parse(stdout) as { clientId: string; clientSecret: string };
}

/** `POST /oauth/token` with the client credentials grant (docs/integrators.md). */
async function integrationToken(env: Environment, slug: string): Promise<string> {
  integrationClient ??= await createIntegrationClient(env, slug);
  const { clientId, clientSecret } = integrationClient;
  const res = await fetch(`${env.url}/oauth/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
    },
    body: 'grant_type=client_credentials',
  });
  const body = (await res.json()) as { access_token?: string };
  if (!res.ok || !body.access_token)
    throw new Error(`POST /oauth/token answered ${res.status}: ${JSON.stringify(body)}`);
  return body.access_token;
}

const BENCH_THREAD = 'Fan-out benchmark thread';

/**
 * Two threads of three participants, one of them in both: the demo one (first provider, nurse, front desk) and one
 * the admin starts with the second provider and the nurse (once: found again by its subject).
 */
async function mixedThreads(url: string, clinic: ClinicSession) {
  const [first, second] = providers(clinic);
  const [nurse, frontDesk, admin] = ['NURSE', 'FRONT_DESK', 'ADMIN'].map((role) => member(clinic, role));
  const threadsOf = async (user: StaffSession) =>
    (await graphql<{ threads: { id: string; subject: string }[] }>(url, '{ threads { id subject } }', {}, user.token))
      .threads;
  const demo = (await threadsOf(first)).find((t) => t.subject !== BENCH_THREAD);
  if (!demo) throw new Error(`clinic ${clinic.slug} has no demo thread`);
  let bench = (await threadsOf(admin)).find((t) => t.subject === BENCH_THREAD);
  bench ??= (
    await graphql<{ createThread: { id: string; subject: string } }>(
      url,
      'mutation Start($input: CreateThreadInput!) { createThread(input: $input) { id subject } }',
      { input: { subject: BENCH_THREAD, participantIds: [second.id, nurse.id] } },
      admin.token,
    )
  ).createThread;
  return [
    { id: demo.id, participants: [first, nurse, frontDesk] },
    { id: bench.id, participants: [admin, second, nurse] },
  ];
}

/** Share of the mixed case's subscribers per kind of stream, split evenly over that kind's audiences. */
const MIX = { schedule: 40, integrator: 10, provider: 10, thread: 20, notification: 20 } as const;
/** Audiences per kind: two providers, two threads of three participants, the clinic's five staff. */
const MIX_AUDIENCES = { schedule: 1, integrator: 1, provider: 2, thread: 6, notification: 5 } as const;

/** The fewest subscribers that give each audience of the mixed case at least one. */
export function mixedMinimum(): number {
  let n = 1;
  const kinds = Object.keys(MIX) as (keyof typeof MIX)[];
  const weights = () => kinds.flatMap((k) => Array(MIX_AUDIENCES[k]).fill(MIX[k] / MIX_AUDIENCES[k]) as number[]);
  while (apportion(n, weights()).some((c) => c === 0)) n++;
  return n;
}

/**
 * Every participant of both threads keeps them open, so a message raises no NEW_MESSAGE notification (nobody is
 * "not viewing"): each event reaches exactly the audiences named here, and a stray frame fails the run.
 */
async function mixedScenario(env: Environment, n: number): Promise<Scenario> {
  const [spec] = clinicSpecs(1);
  const clinic = await signIn(env.url, spec);
  const threads = await mixedThreads(env.url, clinic);
  const integrator = await integrationToken(env, spec.slug);
  const everyone = clinic.staff.map((s) => s.token);
  const schedule = webAppDocument('AppointmentChanged');
  const messages = webAppDocument('MessageAdded');
  const notifications = webAppDocument('NotificationAdded');

  const kinds: { kind: keyof typeof MIX; audiences: Omit<Audience, 'count'>[] }[] = [
    {
      kind: 'schedule',
      audiences: [{ name: 'schedule', query: schedule, tokens: everyone, field: 'appointmentChanged' }],
    },
    {
      kind: 'integrator',
      audiences: [
        { name: 'integrator', query: integratorSubscription(), tokens: [integrator], field: 'appointmentChanged' },
      ],
    },
    {
      kind: 'provider',
      audiences: providers(clinic).map((p) => ({
        name: `provider:${p.key}`,
        query: schedule,
        variables: { providerId: p.id },
        tokens: everyone,
        field: 'appointmentChanged',
      })),
    },
    {
      kind: 'thread',
      audiences: threads.flatMap((thread, t) =>
        thread.participants.map((p) => ({
          name: `thread${t + 1}:${p.key}`,
          query: messages,
          variables: { threadId: thread.id },
          tokens: [p.token],
          field: 'messageAdded',
        })),
      ),
    },
    {
      kind: 'notification',
      audiences: clinic.staff.map((s) => ({
        name: `notifications:${s.key}`,
        query: notifications,
        tokens: [s.token],
        field: 'notification',
      })),
    },
  ];
  const weights = kinds.flatMap(({ kind, audiences }) => audiences.map(() => MIX[kind] / audiences.length));
  const counts = apportion(n, weights);
  const audiences = kinds.flatMap((k) => k.audiences).map((a, i) => ({ ...a, count: counts[i] }));

  const [first, second] = providers(clinic);
  const admin = member(clinic, 'ADMIN');
  let index = 0;
  let bookings = 0;
  let messagesSent = 0;
  let alerts = 0;
  const appointment = (): BenchEvent => {
    // Each provider in turn: a booking, then its move.
    const provider = Math.floor(bookings++ / 2) % 2 === 0 ? first : second;
    const change = appointmentChange(env.url, clinic, provider.id);
    const key = clinic.staff.find((s) => s.id === change.providerId)!.key;
    return { audiences: ['schedule', 'integrator', `provider:${key}`], send: change.send };
  };
  const message = (): BenchEvent => {
    const k = messagesSent++;
    const t = k % threads.length;
    const thread = threads[t];
    const sender = thread.participants[Math.floor(k / threads.length) % thread.participants.length];
    return {
      audiences: thread.participants.map((p) => `thread${t + 1}:${p.key}`),
      send: () =>
        graphql(
          env.url,
          'mutation Send($threadId: ID!, $body: String!) { sendMessage(threadId: $threadId, body: $body) { id } }',
          { threadId: thread.id, body: `Benchmark message ${k + 1}` },
          sender.token,
        ).then(() => {}),
    };
  };
  const alert = (): BenchEvent => {
    const recipient = clinic.staff[alerts++ % clinic.staff.length];
    return {
      audiences: [`notifications:${recipient.key}`],
      send: () =>
        graphql(
          env.url,
          'mutation Alert($input: SendAlertInput!) { sendAlert(input: $input) { id } }',
          { input: { userId: recipient.id, kind: 'ALERT', title: `Benchmark alert ${alerts}` } },
          admin.token,
        ).then(() => {}),
    };
  };
  const rotation = [appointment, message, alert];
  return { audiences, next: () => rotation[index++ % rotation.length]() };
}

export function prepareScenario(spec: CaseSpec, env: Environment, n: number): Promise<Scenario> {
  return spec.kind === 'mixed' ? mixedScenario(env, n) : clinicsScenario(env, n, spec.clinics);
}
