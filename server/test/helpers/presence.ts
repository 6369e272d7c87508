import type { Client } from 'graphql-ws';
import { vi } from 'vitest';
import type { Collected } from './ws.js';

/** What the presence tests subscribe to, ask and set, and how they wait for what they expect. */
export const PRESENCE = 'subscription { presence { status lastSeenAt user { id name } } }';
export const ONLINE_USERS = '{ onlineUsers { status lastSeenAt user { id name } } }';
export const SET_STATUS =
  'mutation($status: PresenceStatus!) { setPresenceStatus(status: $status) { status lastSeenAt user { id } } }';

export interface PresenceEvent {
  status: string;
  lastSeenAt: string;
  user: { id: string; name: string };
}

/** The presence signals received so far about one user. */
export function signalsOf(seen: Collected, userId: string): PresenceEvent[] {
  return seen.results.map((r) => r.data?.presence as PresenceEvent).filter((p) => p?.user.id === userId);
}

/** Waits for the `nth` signal with this status about this user. */
export function signal(
  seen: Collected,
  userId: string,
  status: string,
  nth = 1,
  timeoutMs = 10_000,
): Promise<PresenceEvent> {
  return vi.waitUntil(() => signalsOf(seen, userId).filter((p) => p.status === status)[nth - 1], {
    timeout: timeoutMs,
    interval: 25,
  });
}

/** Resolves once the client's connection is acknowledged, by running a query over it. */
export function overSocket(client: Client, query = '{ me { id } }'): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let result: unknown;
    client.subscribe({ query }, { next: (r) => (result = r), error: reject, complete: () => resolve(result) });
  });
}
