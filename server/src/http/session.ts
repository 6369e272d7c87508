import type { Viewer } from '../auth/tokens.js';
import type { Services } from '../context.js';

/** How a transport ends one caller's connection when the server ends it. */
export interface SessionEnds {
  /** The token expired: the client gets a new one and reconnects (resuming from its cursors). */
  expired(): void;
  /** The integration client was revoked: no new token will be issued. */
  revoked(): void;
}

/**
 * What both transports keep for one authenticated connection (a WebSocket, an SSE stream): it ends when its token
 * does (on the instance's one deadline timer), and an integration client's also when the client is revoked (on any
 * instance). Returns how to let go of both once the connection is gone.
 */
export async function watchSession(services: Services, viewer: Viewer, ends: SessionEnds): Promise<() => void> {
  const cancelExpiry = services.deadlines.at(viewer.expiresAt * 1000, () => ends.expired());
  let untrack = () => {};
  if (viewer.kind === 'integration') {
    try {
      untrack = await services.integrations.track(viewer, () => ends.revoked());
    } catch (err) {
      cancelExpiry();
      throw err;
    }
  }
  return () => {
    cancelExpiry();
    untrack();
  };
}
