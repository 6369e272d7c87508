import type { Viewer } from '../auth/tokens.js';

/** What travels on a tenant's channels. Durable events only wake readers up; the records stay in SQL. */
export const ChannelKind = {
  /** Wake-up: "the event log of this tenant has new rows up to seq N". */
  events: 'events',
  /** Someone started or stopped typing in a thread. */
  typing: 'typing',
  /** Someone came online, went offline or changed status. */
  presence: 'presence',
  /** The viewers of a patient's chart changed. */
  viewing: 'viewing',
  /** An integration client was revoked: every instance closes its connections. */
  integrations: 'integrations',
  /**
   * A session, or every earlier session of a user, was signed out, or the clinic was disabled: every instance closes
   * the matching connections.
   */
  sessions: 'sessions',
  /**
   * The connection dashboard: an instance serving an admin who watches asks, and every instance with connections of
   * the clinic answers with its snapshot (realtime/connectionBoard.ts). Only while someone watches.
   */
  dashboard: 'dashboard',
} as const;
export type ChannelKind = keyof typeof ChannelKind;

/**
 * The one place channel names are made. The tenant is the first part of every name, and callers pass a verified
 * viewer (or, on the publishing side, the tenant a committed change belongs to): nobody can name another tenant's
 * channel from a query argument.
 */
export function tenantChannel(scope: Pick<Viewer, 'tenantId'>, kind: ChannelKind): string {
  return `tenant:${scope.tenantId}:${ChannelKind[kind]}`;
}

export interface EventsWakeUp {
  tenantId: string;
  /** The newest committed sequence number. */
  seq: number;
}

export interface TypingSignal {
  threadId: string;
  userId: string;
  isTyping: boolean;
  /** When a `true` signal lapses unless renewed. */
  expiresAt: string | null;
}

export interface PresenceSignal {
  userId: string;
  status: 'ONLINE' | 'AWAY' | 'BUSY' | 'OFFLINE';
  lastSeenAt: string;
}

export interface ViewingSignal {
  patientId: string;
  /** The users viewing the chart now. */
  userIds: string[];
}

export interface IntegrationRevokedSignal {
  clientId: string;
}

/**
 * What was signed out: one session (by id), or every session of a user that started before `before` (epoch ms), or
 * every connection of the clinic, which the operators disabled (`npm run clinics -- disable`); or an SSE stream to run
 * on a newer token of its caller (`viewer`, verified by the instance that took the renewal).
 */
export type SessionSignal =
  | { kind: 'session'; sessionId: string }
  | { kind: 'user'; userId: string; before: number }
  | { kind: 'tenantDisabled' }
  | { kind: 'renewStream'; streamId: string; viewer: Viewer };
