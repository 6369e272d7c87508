import type { TestServer } from './testServer.js';
import { eventually } from './ws.js';

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

/**
 * Waits until the server holds `n` live subscription streams: a stream is counted once it hears new events, so a
 * mutation made after this reaches it.
 */
export function waitForStreams(server: TestServer, n: number, timeoutMs = 10_000): Promise<unknown> {
  return eventually(
    () => server.app.services.realtime.activeStreams === n,
    timeoutMs,
    `${n} live streams (have ${server.app.services.realtime.activeStreams})`,
  );
}

/** Reads one gauge from GET /metrics. */
export async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`no metric ${name}`);
  return Number(line.slice(name.length + 1));
}
