import type { TestServer } from './testServer.js';
import type { Client } from 'graphql-ws';
import { collect, type Collected } from './ws.js';

/** The durable subscriptions the real-time tests exercise, with everything a resume needs. */
export const APPOINTMENT_CHANGED = `subscription($providerId: ID, $after: String) {
  appointmentChanged(providerId: $providerId, after: $after) { kind cursor appointment { id status provider { id } } }
}`;
export const NOTIFICATION = `subscription($after: String) {
  notification(after: $after) { cursor notification { id kind title } }
}`;

export const CREATE_APPOINTMENT = 'mutation($i: CreateAppointmentInput!) { createAppointment(input: $i) { id } }';
export const CANCEL_APPOINTMENT = 'mutation($id: ID!, $r: String!) { cancelAppointment(id: $id, reason: $r) { id } }';
export const CHECK_IN_APPOINTMENT = 'mutation($id: ID!) { checkInAppointment(id: $id) { id } }';
export const SEND_ALERT = 'mutation($i: SendAlertInput!) { sendAlert(input: $i) { id } }';
export const ASSIGN_TASK = 'mutation($i: AssignTaskInput!) { assignTask(input: $i) { id } }';

let slots = 0;
/** A half-hour slot nobody else in this test file has used: bookings never clash unless a test wants them to. */
export function freeSlot(): { startsAt: string; endsAt: string } {
  const start = Date.UTC(2033, 0, 1) + slots++ * 30 * 60_000;
  return { startsAt: new Date(start).toISOString(), endsAt: new Date(start + 30 * 60_000).toISOString() };
}

/** Books a slot nobody else in the file has used, Dr. Lee with Sunrise's first patient, as `token`; its id. */
export async function bookFreeSlot(server: TestServer, token: string): Promise<string> {
  const { users, patients } = await server.ids('sunrise-derm');
  const res = await server.gql(
    CREATE_APPOINTMENT,
    { i: { providerId: users.lee, patientId: patients[0], ...freeSlot() } },
    token,
  );
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data!.createAppointment.id as string;
}

/** The live subscription streams of a server now (durable and signal). */
export function liveStreams(server: TestServer): number {
  return server.app.services.realtime.streams.count;
}

/**
 * Resolves once the server holds `n` live subscription streams (or its count passes `test`), told by the server each
 * time a stream goes live or ends (`realtime.streams`), as graphql-ws's own tests wait on server hooks rather than
 * poll. A stream counts once it hears new events: a mutation made after this reaches it.
 */
export function waitForStreams(
  server: TestServer,
  n: number | ((live: number) => boolean),
  timeoutMs = 10_000,
): Promise<number> {
  const streams = server.app.services.realtime.streams;
  const test = typeof n === 'number' ? (live: number) => live === n : n;
  if (test(streams.count)) return Promise.resolve(streams.count);
  return new Promise((resolve, reject) => {
    const onChange = (live: number) => {
      if (!test(live)) return;
      clearTimeout(timer);
      streams.off('change', onChange);
      resolve(live);
    };
    const timer = setTimeout(() => {
      streams.off('change', onChange);
      reject(
        new Error(
          `expected ${typeof n === 'number' ? n : 'other'} live streams within ${timeoutMs} ms, have ${streams.count}`,
        ),
      );
    }, timeoutMs);
    streams.on('change', onChange);
  });
}

/**
 * Resolves once `count` more streams have gone live on the server than when it was called: start waiting, then
 * subscribe, then await.
 */
export function streamsOpened(server: TestServer, count = 1, timeoutMs = 10_000): Promise<void> {
  const streams = server.app.services.realtime.streams;
  let opened = 0;
  return new Promise((resolve, reject) => {
    const onChange = (_live: number, delta: number) => {
      if (delta > 0 && ++opened === count) {
        clearTimeout(timer);
        streams.off('change', onChange);
        resolve();
      }
    };
    const timer = setTimeout(() => {
      streams.off('change', onChange);
      reject(new Error(`expected ${count} streams to go live within ${timeoutMs} ms, saw ${opened}`));
    }, timeoutMs);
    streams.on('change', onChange);
  });
}

/** Subscribes over a graphql-ws client and resolves once the server says the stream is live. */
export async function subscribeLive<T = Record<string, any>>(
  server: TestServer,
  client: Client,
  query: string,
  variables: Record<string, unknown> = {},
  timeoutMs = 10_000,
): Promise<Collected<T>> {
  const live = streamsOpened(server, 1, timeoutMs);
  const sub = collect<T>(client, query, variables);
  await Promise.race([live, sub.failed]);
  return sub;
}

/** Reads one gauge from GET /metrics. */
export async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`no metric ${name}`);
  return Number(line.slice(name.length + 1));
}
