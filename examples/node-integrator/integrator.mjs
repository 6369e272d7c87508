// A small integrator: follows one clinic's appointment changes over WebSocket (graphql-ws) and, after a restart or a
// lost connection, resumes exactly after the last event it handled. Node 20+, two dependencies (graphql-ws, ws).
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

const CHANGES = `subscription Changes($after: String) {
  appointmentChanged(after: $after) {
    kind
    cursor
    occurredAt
    appointment { id status startsAt endsAt provider { name } }
  }
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

/** OAuth 2.0 client credentials: a token lives 15 minutes, so ask for one at every (re)connection. */
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
  return body.access_token;
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

const client = createClient({
  url: `${BASE.replace(/^http/, 'ws')}/graphql`,
  webSocketImpl: WebSocket,
  // The token goes in the connection parameters, fetched fresh for every connection.
  connectionParams: async () => ({ authorization: `Bearer ${await accessToken()}` }),
  // We reconnect ourselves (below), so that each new subscription starts after the latest cursor, not the first.
  retryAttempts: 0,
  lazy: true,
  on: { connected: () => log('connected') },
});

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, async () => {
    stopping = true;
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
