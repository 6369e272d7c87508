import type { Viewer } from '../auth/tokens.js';
import type { Services } from '../context.js';
import type { TrackedConnection } from '../domains/identity/sessions.js';
import { forbidden } from '../errors.js';

/** How a transport ends one caller's connection when the server ends it. */
export interface SessionEnds {
  /** The token expired: the client gets a new one and reconnects (resuming from its cursors). */
  expired(): void;
  /** The integration client was revoked: no new token will be issued. */
  revoked(): void;
  /** The session was signed out (by its user, everywhere, or by an admin): sign in again. */
  signedOut(): void;
  /** The staff session went idle (`SESSION_IDLE_TIMEOUT`): the user unlocks with their password. */
  idle(): void;
  /** The operators disabled the caller's clinic (`npm run clinics -- disable`): nobody of it can sign in for now. */
  clinicDisabled(): void;
}

/** One authenticated connection's session, as a transport holds it. */
export interface WatchedSession {
  /** Who the connection runs as now. */
  readonly viewer: Viewer;
  /**
   * Runs the connection on a newer token of the same caller from now on: its expiry moves to the new token's, and its
   * subscriptions go on untouched. A token of anyone else (another user, clinic or integration client), or whose role
   * or scopes differ, is refused with FORBIDDEN and changes nothing.
   */
  renew(viewer: Viewer): void;
  /** Lets go of the timers and listeners, once the connection is gone. */
  stop(): void;
}

/** Whether `next` may take over a connection of `current`: the same caller, with the same rights. */
export function sameCaller(current: Viewer, next: Viewer): boolean {
  if (current.tenantId !== next.tenantId) return false;
  if (current.kind === 'user' && next.kind === 'user')
    return current.userId === next.userId && current.role === next.role;
  if (current.kind === 'integration' && next.kind === 'integration') {
    const scopes = new Set(current.scopes);
    return (
      current.clientId === next.clientId &&
      next.scopes.length === scopes.size &&
      next.scopes.every((s) => scopes.has(s))
    );
  }
  return false;
}

/**
 * What both transports keep for one authenticated connection (a WebSocket, an SSE stream): it ends when its token
 * does (on the instance's one deadline timer), when its session is signed out (on any instance) or goes idle (on the
 * instance's one idle timer), and an integration
 * client's also when the client is revoked (on any instance). A renewal moves the expiry to the new token's
 * (docs/architecture.md, "Sessions").
 */
export async function watchSession(
  services: Services,
  viewer: Viewer,
  ends: SessionEnds,
  /** An SSE stream's id, by which `renewStream` finds it on any instance. */
  streamId?: string,
): Promise<WatchedSession> {
  const expireAt = (v: Viewer) => services.deadlines.at(v.expiresAt * 1000, () => ends.expired());
  let cancelExpiry = expireAt(viewer);
  const renew = (next: Viewer) => {
    if (!sameCaller(tracked.viewer, next)) {
      throw forbidden('This token is not for the caller of this connection: reconnect with it instead');
    }
    cancelExpiry();
    cancelExpiry = expireAt(next);
    tracked.viewer = next;
  };
  const tracked: TrackedConnection = {
    viewer,
    signedOut: () => ends.signedOut(),
    idle: () => ends.idle(),
    clinicDisabled: () => ends.clinicDisabled(),
    streamId,
    renew,
  };
  let untrackIntegration = () => {};
  let untrackSession = () => {};
  try {
    untrackSession = await services.sessions.track(tracked);
    if (viewer.kind === 'integration') {
      untrackIntegration = await services.integrations.track(viewer, () => ends.revoked());
    }
  } catch (err) {
    cancelExpiry();
    untrackSession();
    throw err;
  }
  return {
    get viewer() {
      return tracked.viewer;
    },
    renew,
    stop() {
      cancelExpiry();
      untrackSession();
      untrackIntegration();
    },
  };
}
