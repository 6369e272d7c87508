import type { Viewer } from '../auth/tokens.js';

type Scope = Pick<Viewer, 'tenantId'>;

/**
 * The one place the keys of the expiring sets (and of presence statuses) are made, like channel names in
 * `events/channels.ts`: the tenant is the first part of every key and comes from a verified viewer (or from a key the
 * sweep handed back), so no argument can name another clinic's set. Ids are checked by the callers before they get
 * here.
 */
export const EphemeralKey = {
  /** Members `userId`: the staff with at least one open connection (renewed with their connections). */
  online: (scope: Scope) => `tenant:${scope.tenantId}:online`,
  /** Members `socketId`: one user's open WebSocket connections, on any instance. Per user, so that a join or a
   *  leave reads only that user's connections, not the whole clinic's. */
  connections: (scope: Scope, userId: string) => `tenant:${scope.tenantId}:connections:${userId}`,
  /**
   * Who has the patient's chart open: members `userId|subscriptionId` (a live patientViewersChanged(patientId)
   * subscription, held by its instance) and `userId` (a `viewPatient` announcement, deprecated, renewed by its client).
   * A user is a viewer while any of their members is live.
   */
  viewing: (scope: Scope, patientId: string) => `tenant:${scope.tenantId}:viewing:${patientId}`,
  /** Members `userId|subscriptionId`: who has the thread open (a live messageAdded(threadId) subscription). */
  threadViewers: (scope: Scope, threadId: string) => `tenant:${scope.tenantId}:thread-viewers:${threadId}`,
  /** A hash of userId → AWAY or BUSY (no entry: ONLINE). Not an expiring set: cleared when the user goes offline. */
  presenceStatus: (scope: Scope) => `tenant:${scope.tenantId}:presence-status`,
} as const;

/** What an expiring set's key names, for the members the sweep reports; null for keys of other features. */
export type ParsedKey =
  | { kind: 'online'; tenantId: string }
  | { kind: 'connections'; tenantId: string; userId: string }
  | { kind: 'viewing'; tenantId: string; patientId: string };

const ONLINE = /^tenant:([^:]+):online$/;
const CONNECTIONS = /^tenant:([^:]+):connections:([^:]+)$/;
const VIEWING = /^tenant:([^:]+):viewing:([^:]+)$/;

export function parseEphemeralKey(key: string): ParsedKey | null {
  let match = ONLINE.exec(key);
  if (match) return { kind: 'online', tenantId: match[1] };
  match = CONNECTIONS.exec(key);
  if (match) return { kind: 'connections', tenantId: match[1], userId: match[2] };
  match = VIEWING.exec(key);
  if (match) return { kind: 'viewing', tenantId: match[1], patientId: match[2] };
  return null;
}
