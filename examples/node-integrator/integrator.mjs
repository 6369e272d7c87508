// A small integrator: follows one clinic's appointment changes over WebSocket (graphql-ws) and, after a restart or a
// lost connection, resumes exactly after the last event it handled. Away longer than the server keeps its event log
// (CURSOR_EXPIRED), it reads again the appointments it mirrors (the 31 days from MIRROR_FROM, default now) and goes on
// after the cursor the server answered with. Its access token is renewed on the open connection a while before it
// expires (renewConnection), so the subscription runs on without reconnecting. Node 20+, two dependencies (graphql-ws,
// ws).
//
//   DERM_URL=http://localhost:4000 CLIENT_ID=... CLIENT_SECRET=... node integrator.mjs
//
// Prints one JSON line per appointment change on stdout; says what it does on stderr.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const BASE = process.env.DERM_URL ?? 'http://localhost:4000';
const CLIENT_ID = required('CLIENT_ID');
const CLIENT_SECRET = required('CLIENT_SECRET');
const CURSOR_FILE = process.env.CURSOR_FILE ?? 'cursor.txt';
const MIRROR_FROM = process.env.MIRROR_FROM ?? null;

const CHANGES = `subscription Changes($after: String) {
  appointmentChanged(after: $after) {
    kind
    cursor
    occurredAt
    appointment { id status startsAt endsAt provider { name } }
  }
}`;

const RENEW = `mutation Renew($token: String!) { renewConnection(token: $token) { expiresAt } }`;

const UPCOMING = `query Upcoming($from: DateTime!, $to: DateTime!) {
  appointments(from: $from, to: $to) { id status startsAt endsAt provider { name } }
}`;

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`Set ${name} (see docs/integrators.md, "Getting credentials").`);
    process.exit(2);
  }
  return value;
}

const log = (message) => console.error(`[integrator] ${message}`);

/**
 * OAuth 2.0 client credentials: a token lives 15 minutes (`expires_in`), so ask for one at every (re)connection, and
 * again before it expires to renew the connection.
 */
async function accessToken() {
  const res = await fetch(`${BASE}/oauth/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(CLIENT_SECRET)}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'appointments:read' }),
  });
  const body = await res.json();
  if (!res.ok)
    throw Object.assign(new Error(`token endpoint: ${body.error}: ${body.error_description}`), {
      fatal: body.error === 'invalid_client',
    });
  return { token: body.access_token, expiresIn: body.expires_in };
}

/** The cursor of the last event handled, kept across restarts. */
function readCursor() {
  try {
    return readFileSync(CURSOR_FILE, 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/** Written to a temporary file, then renamed over the old one: a crash never leaves half a cursor. */
function saveCursor(cursor) {
  writeFileSync(`${CURSOR_FILE}.tmp`, cursor);
  renameSync(`${CURSOR_FILE}.tmp`, CURSOR_FILE);
}

/** Your work goes here. It must be idempotent: after a crash between handling and saving, an event comes again. */
function handle(event) {
  const { kind, cursor, occurredAt, appointment } = event;
  console.log(
    JSON.stringify({
      kind,
      appointmentId: appointment.id,
      status: appointment.status,
      startsAt: appointment.startsAt,
      occurredAt,
      cursor,
    }),
  );
}

/**
 * What you mirror, read again in full: after CURSOR_EXPIRED the events since your cursor are gone from the server's
 * log, so a replay cannot bring you up to date. Idempotent like `handle`.
 */
async function reread({ token }) {
  const from = MIRROR_FROM ? new Date(MIRROR_FROM) : new Date();
  const to = new Date(from.getTime() + 31 * 86_400_000);
  const res = await fetch(`${BASE}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: UPCOMING, variables: { from: from.toISOString(), to: to.toISOString() } }),
  });
  const body = await res.json();
  if (body.errors) throw new Error(body.errors.map((e) => `${e.extensions?.code}: ${e.message}`).join('; '));
  for (const appointment of body.data.appointments) {
    console.log(
      JSON.stringify({
        kind: 'SNAPSHOT',
        appointmentId: appointment.id,
        status: appointment.status,
        startsAt: appointment.startsAt,
      }),
    );
  }
  return body.data.appointments.length;
}

/**
 * The CURSOR_EXPIRED error among what the server answered, if any (a result's errors, or what the stream ended with).
 */
function expiredError(err) {
  const errors = Array.isArray(err) ? err : (err?.errors ?? []);
  return errors.find((e) => e?.extensions?.code === 'CURSOR_EXPIRED') ?? null;
}

let renewTimer;
/** Renews the connection a while before its token expires: a minute, or a quarter of its life if that is shorter. */
function scheduleRenewal(expiresIn) {
  clearTimeout(renewTimer);
  renewTimer = setTimeout(renew, Math.max(1, expiresIn - Math.min(60, expiresIn / 4)) * 1000);
}

/**
 * Hands the open connection a new token: every subscription on it goes on, nothing is missed or repeated. If that
 * fails, nothing is lost either: the server closes the connection when the old token expires (4403 Token expired),
 * and the loop below reconnects and resumes after the last cursor.
 */
async function renew() {
  try {
    const { token, expiresIn } = await accessToken();
    await new Promise((resolve, reject) =>
      client.subscribe(
        { query: RENEW, variables: { token } },
        {
          next: (result) => (result.errors ? reject(new Error(result.errors[0].message)) : undefined),
          error: (err) => reject(err instanceof Error ? err : new Error(String(err?.reason ?? err))),
          complete: resolve,
        },
      ),
    );
    log(`connection renewed: its token is good for ${expiresIn} s more`);
    scheduleRenewal(expiresIn);
  } catch (err) {
    log(`could not renew the connection (${err.message}); it will reconnect when its token expires`);
  }
}

const client = createClient({
  url: `${BASE.replace(/^http/, 'ws')}/graphql`,
  webSocketImpl: WebSocket,
  // The token goes in the connection parameters, fetched fresh for every connection, and renewed before it expires.
  connectionParams: async () => {
    const { token, expiresIn } = await accessToken();
    scheduleRenewal(expiresIn);
    return { authorization: `Bearer ${token}` };
  },
  // We reconnect ourselves (below), so that each new subscription starts after the latest cursor, not the first.
  retryAttempts: 0,
  lazy: true,
  on: { connected: () => log('connected'), closed: () => clearTimeout(renewTimer) },
});

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, async () => {
    stopping = true;
    clearTimeout(renewTimer);
    log(`${signal}: stopping (the cursor is saved after every event)`);
    await client.dispose();
    process.exit(0);
  });
}

let delayMs = 1000;
while (!stopping) {
  const after = readCursor();
  log(after ? `subscribing after cursor ${after}` : 'subscribing from now on (no cursor stored yet)');
  try {
    for await (const result of client.iterate({ query: CHANGES, variables: { after } })) {
      if (result.errors)
        throw Object.assign(new Error(result.errors.map((e) => `${e.extensions?.code}: ${e.message}`).join('; ')), {
          errors: result.errors,
        });
      handle(result.data.appointmentChanged);
      saveCursor(result.data.appointmentChanged.cursor);
      delayMs = 1000;
    }
    log('the server completed the subscription; subscribing again');
  } catch (err) {
    if (stopping) break;
    const expired = expiredError(err);
    if (expired) {
      // The server no longer keeps the events after our cursor (EVENT_RETENTION): read everything again, then go on
      // after the cursor it answered with (where its log stood), so nothing committed meanwhile is skipped.
      log('cursor expired: the server no longer keeps what followed it; reading the appointments again');
      try {
        log(`re-read ${await reread(await accessToken())} appointments; subscribing after the server's cursor`);
        saveCursor(expired.extensions.cursor);
      } catch (rereadErr) {
        log(`could not read the appointments again (${rereadErr.message}); retrying in ${delayMs / 1000} s`);
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        delayMs = Math.min(delayMs * 2, 30_000);
      }
      continue;
    }
    // Over our client's or our clinic's rate (docs/integrators.md, "Limits"): wait as long as the server says.
    const limited = (Array.isArray(err) ? err : (err?.errors ?? [])).find(
      (e) => e?.extensions?.code === 'TOO_MANY_REQUESTS',
    );
    if (limited) {
      const seconds = Number(limited.extensions.retryAfter) || delayMs / 1000;
      log(`too many requests (${limited.extensions.reason}); subscribing again in ${seconds} s`);
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
      continue;
    }
    // graphql-ws rejects with the socket's close event, or with the errors of the operation.
    const code = err?.code;
    const reason = err?.reason ?? err?.message ?? String(err);
    if (err?.fatal || (code === 4403 && reason === 'Client revoked')) {
      log(`giving up: ${reason}. Ask the clinic's admin for new credentials.`);
      process.exit(1);
    }
    if (code === 4403 && reason === 'Token expired') {
      log('token expired: reconnecting with a new one');
      continue;
    }
    log(`disconnected (${code ?? 'error'}: ${reason}); retrying in ${delayMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    delayMs = Math.min(delayMs * 2, 30_000);
  }
}
