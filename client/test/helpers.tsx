import { ApolloProvider } from '@apollo/client/react';
import { render, waitFor } from '@testing-library/react';
import { print, type DocumentNode } from 'graphql';
import { StrictMode, type ReactNode } from 'react';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryRouter } from 'react-router';
import { inject } from 'vitest';
import './provided';
import WebSocket from 'ws';
import { LoginDocument } from '../src/__generated__/graphql';
import { createApolloSession, type ApolloSessionOptions } from '../src/apollo/createApolloSession';
import { ToastProvider } from '../src/components/notifications/Toasts';
import type { Session } from '../src/session/authStore';
import { SessionProvider } from '../src/session/SessionContext';
import { zonedInstant } from '../src/lib/time';

export const DEMO_PASSWORD = 'derm-demo-2026';

/** The API server of this project (client/test/server/globalSetup.ts), or another one. */
export function apiUrl(): string {
  return inject('apiUrl');
}

/** POSTs an operation over HTTP, as another client (a colleague's browser) would. */
export async function gql<T = any>(
  token: string | null,
  document: DocumentNode | string,
  variables: Record<string, unknown> = {},
  base = apiUrl(),
): Promise<T> {
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query: typeof document === 'string' ? document : print(document), variables }),
  });
  const body = (await res.json()) as { data?: T; errors?: { message: string }[] };
  if (body.errors?.length) throw new Error(`GraphQL error: ${body.errors.map((e) => e.message).join('; ')}`);
  return body.data as T;
}

export interface Frame {
  id?: string;
  type: string;
  payload?: { operationName?: string; variables?: Record<string, unknown> };
}

/** A `ws` WebSocket that records the graphql-transport-ws frames the client sends. */
export function recordingWebSocket() {
  const sent: Frame[] = [];
  class RecordingWebSocket extends WebSocket {
    override send(data: any, ...rest: any[]): void {
      try {
        sent.push(JSON.parse(String(data)) as Frame);
      } catch {
        // not JSON: not ours
      }
      (super.send as (...args: any[]) => void)(data, ...rest);
    }
  }
  /** Subscriptions started and not completed by the client, by operation name. */
  const open = (operationName?: string) => {
    const started = new Map<string, string | undefined>();
    for (const f of sent) {
      if (f.type === 'subscribe' && f.id) started.set(f.id, f.payload?.operationName);
      if (f.type === 'complete' && f.id) started.delete(f.id);
    }
    return [...started.values()].filter((name) => !operationName || name === operationName).length;
  };
  return { impl: RecordingWebSocket, sent, open };
}

export interface TestSession extends Session {
  sent: Frame[];
  /** Operation names sent over HTTP, in order. */
  http: string[];
  /** Subscriptions this client has open (subscribed, not completed), optionally of one operation. */
  openSubscriptions(operationName?: string): number;
  signedOut: boolean;
}

const EMAIL_DOMAIN = { 'sunrise-derm': 'sunrise.example', 'lakeside-skin': 'lakeside.example' } as const;
export type Clinic = keyof typeof EMAIL_DOMAIN;

export async function login(tenant: Clinic, key: string, base = apiUrl()) {
  const data = await gql(
    null,
    LoginDocument,
    { tenant, email: `${key}@${EMAIL_DOMAIN[tenant]}`, password: DEMO_PASSWORD },
    base,
  );
  return data.login as { token: string; expiresAt: string; user: Session['user'] };
}

/** Signs a demo user in and builds the real Apollo session the app would (ws for Node 20, which has no WebSocket). */
export async function openSession(
  tenant: Clinic,
  key: string,
  options: Partial<ApolloSessionOptions> & { base?: string } = {},
): Promise<TestSession> {
  const base = options.base ?? apiUrl();
  const { token, expiresAt, user } = await login(tenant, key, base);
  const recorder = recordingWebSocket();
  const http: string[] = [];
  const countingFetch: typeof fetch = (input, init) => {
    try {
      http.push((JSON.parse(String(init?.body)) as { operationName?: string }).operationName ?? '');
    } catch {
      http.push('');
    }
    return fetch(input, init);
  };
  const session: TestSession = {
    token,
    expiresAt,
    user,
    sent: recorder.sent,
    http,
    openSubscriptions: recorder.open,
    signedOut: false,
    apollo: createApolloSession({
      token,
      httpUrl: `${base}/graphql`,
      wsUrl: `${base.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: recorder.impl,
      fetch: countingFetch,
      onUnauthenticated: () => (session.signedOut = true),
      ...options,
    }),
  };
  return session;
}

/**
 * A session whose HTTP reads of one operation are answered late, as on a slow network: the server reads at once, and
 * the answer is held until `release()`. `reads` says, for each such read, whether it went out after `markLate()`: a
 * test that holds a list's answer while something arrives live checks that no later read could have brought it.
 */
export async function openSlowSession(tenant: Clinic, key: string, operationName: string) {
  const reads: { afterMark: boolean }[] = [];
  let marked = false;
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const session = await openSession(tenant, key, {
    fetch: async (input, init) => {
      const response = await fetch(input, init);
      if ((JSON.parse(String(init?.body)) as { operationName?: string }).operationName === operationName) {
        reads.push({ afterMark: marked });
        await held;
      }
      return response;
    },
  });
  return { session, reads, release, markLate: () => (marked = true) };
}

/** Renders inside the providers the app uses (session, Apollo, toasts, a router), under StrictMode by default. */
export function renderWithSession(
  ui: ReactNode,
  session: Session,
  { strict = true, route = '/' }: { strict?: boolean; route?: string } = {},
) {
  const tree = (
    <ApolloProvider client={session.apollo.client}>
      <SessionProvider session={session} signOut={() => {}}>
        <MemoryRouter initialEntries={[route]}>
          <ToastProvider>{ui}</ToastProvider>
        </MemoryRouter>
      </SessionProvider>
    </ApolloProvider>
  );
  return render(strict ? <StrictMode>{tree}</StrictMode> : tree);
}

/** Resolves when the session's socket is connected. */
export function connected(session: Session, timeout = 10_000): Promise<void> {
  return waitFor(
    () => {
      if (session.apollo.connection.getSnapshot().status !== 'connected')
        throw new Error(`still ${session.apollo.connection.getSnapshot().status}`);
    },
    { timeout },
  );
}

/** Staff and patient ids of a clinic, read through the API. */
export async function clinicIds(token: string, base = apiUrl()) {
  const data = await gql(
    token,
    '{ staff { id name role email } patients(first: 50) { edges { node { id displayName mrn } } } }',
    {},
    base,
  );
  const staff = data.staff as { id: string; name: string; role: string; email: string }[];
  const byKey = (key: string) => staff.find((s) => s.email.startsWith(`${key}@`))!;
  return {
    staff,
    byKey,
    patients: (data.patients.edges as { node: { id: string; displayName: string; mrn: string } }[]).map((e) => e.node),
  };
}

/**
 * A day of its own for a test (from 2031 on, far from the seeded days), so bookings never clash across tests: the
 * files run side by side against one database, so each day is claimed once for the whole run by creating a file
 * named after it, which only one process can do.
 */
export function freshDay(): string {
  const dir = inject('daysDir');
  for (let n = 0; ; n += 1) {
    const day = new Date(Date.UTC(2031, 0, 1) + n * 86_400_000).toISOString().slice(0, 10);
    try {
      closeSync(openSync(join(dir, day), 'wx'));
      return day;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

/**
 * Books half an hour with Dr. Patel of Sunrise (New York) on `date` at `time` clinic time, for the clinic's
 * `patient`-th patient, as a colleague's browser would; returns the appointment's id.
 */
export async function bookWithPatel(
  token: string,
  { date, time, patient, reason }: { date: string; time: string; patient: number; reason?: string },
  base = apiUrl(),
): Promise<string> {
  const ids = await clinicIds(token, base);
  const startsAt = zonedInstant(date, time, 'America/New_York');
  const input = {
    providerId: ids.byKey('patel').id,
    patientId: ids.patients[patient].id,
    startsAt: startsAt.toISOString(),
    endsAt: new Date(startsAt.getTime() + 1_800_000).toISOString(),
    ...(reason ? { reason } : {}),
  };
  const mutation = 'mutation($input: CreateAppointmentInput!) { createAppointment(input: $input) { id } }';
  return (await gql(token, mutation, { input }, base)).createAppointment.id as string;
}

/** A Storage of this test's own (the store reads and writes it as the browser's localStorage). */
export function memoryStorage(): Storage {
  const items = new Map<string, string>();
  return {
    get length() {
      return items.size;
    },
    clear: () => items.clear(),
    getItem: (key) => items.get(key) ?? null,
    key: (i) => [...items.keys()][i] ?? null,
    removeItem: (key) => void items.delete(key),
    setItem: (key, value) => void items.set(key, String(value)),
  };
}
