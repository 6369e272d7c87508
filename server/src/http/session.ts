import type { Viewer } from '../auth/tokens.js';
import type { Services } from '../context.js';
import type { TrackedConnection } from '../domains/identity/sessions.js';
import { forbidden } from '../errors.js';
import type { Release } from '../auth/callerLimits.js';
import type { BoardEntry, BoardTransport } from '../realtime/connectionBoard.js';
import type { Due } from '../realtime/deadlines.js';

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
  /**
   * A live subscription of the connection, whose place among its caller's (`release`) is given back when it ends:
   * counted on the connection dashboard until then. Returns the release to call instead.
   */
  holding(release: Release): Release;
  /**
   * Lets go of the timers and listeners, once the connection is gone; `closeCode`, a WebSocket's, is counted on the
   * dashboard unless it is a normal one.
   */
  stop(closeCode?: number): void;
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
 * instance's one idle timer), and an integration client's also when the client is revoked (on any instance). A renewal
 * moves the expiry to the new token's (docs/architecture.md, "Sessions").
 */
export async function watchSession(
  services: Services,
  viewer: Viewer,
  ends: SessionEnds,
  transport: BoardTransport,
  ids: {
    /** An SSE stream's id, by which `renewStream` finds it on any instance. */
    streamId?: string;
    /** The connection's own id, unique over all instances, if it has one (a WebSocket's): the dashboard shows it. */
    connectionId?: string;
  } = {},
): Promise<WatchedSession> {
  const board = services.board.opened(viewer, transport, ids.connectionId);
  const session = new ConnectionSession(services, viewer, ends, ids.streamId, board);
  try {
    await services.sessions.track(session);
    if (viewer.kind === 'integration') {
      session.untrackIntegration = await services.integrations.track(viewer, () => ends.revoked());
    }
  } catch (err) {
    session.stop();
    throw err;
  }
  return session;
}

/** A subscription's place, counted on the connection board too while it is held (`ConnectionSession.holding`). */
class BoardHeld implements Release {
  private held = true;

  constructor(
    private readonly board: BoardEntry,
    private readonly place: Release,
  ) {}

  release(): void {
    if (!this.held) return;
    this.held = false;
    this.board.unsubscribed();
    this.place.release();
  }
}

/**
 * One connection's session: a class, so that thousands of idle connections share its methods instead of each
 * holding closures of its own (docs/architecture.md, "Per-connection cost").
 */
class ConnectionSession implements WatchedSession, TrackedConnection, Due {
  /** The token's expiry among the instance's deadlines (realtime/deadlines.ts). */
  private expiry: number;
  untrackIntegration: () => void = noop;

  constructor(
    private readonly services: Services,
    public viewer: Viewer,
    private readonly ends: SessionEnds,
    readonly streamId: string | undefined,
    private readonly board: BoardEntry,
  ) {
    this.expiry = services.deadlines.at(viewer.expiresAt * 1000, this);
  }

  renew(next: Viewer): void {
    if (!sameCaller(this.viewer, next)) {
      throw forbidden('This token is not for the caller of this connection: reconnect with it instead');
    }
    this.services.deadlines.cancel(this.expiry, this);
    this.viewer = next;
    this.expiry = this.services.deadlines.at(next.expiresAt * 1000, this);
  }

  signedOut(): void {
    this.ends.signedOut();
  }

  idle(): void {
    this.ends.idle();
  }

  clinicDisabled(): void {
    this.ends.clinicDisabled();
  }

  holding(release: Release): Release {
    this.board.subscribed();
    return new BoardHeld(this.board, release);
  }

  /** The token expired (realtime/deadlines.ts). */
  due(): void {
    this.ends.expired();
  }

  stop(closeCode?: number): void {
    this.services.deadlines.cancel(this.expiry, this);
    this.services.sessions.untrack(this);
    this.untrackIntegration();
    this.board.closed(closeCode);
  }
}

const noop = () => {};
