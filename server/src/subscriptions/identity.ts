import type { Viewer } from '../auth/tokens.js';

/** Who a subscriber is, to the resolvers that depend on it. */
export const identityOf = (viewer: Viewer): string =>
  viewer.kind === 'user' ? `u:${viewer.userId}` : `c:${viewer.clientId}`;

/** The caller, watched: reading who it is (`userId`, `clientId`) calls `onIdentity`. */
export function tracked(viewer: Viewer, onIdentity: () => void): Viewer {
  return new Proxy(viewer, {
    get(target, prop, receiver) {
      if (prop === 'userId' || prop === 'clientId') onIdentity();
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
}

/**
 * Whether anything of one subscription operation read who its subscriber is (docs/architecture.md, "Delivery
 * groups"). The operation's context holds the watched caller from the start, so a read is seen wherever it happens:
 * in the field's subscribe resolver (then the subscriber's group is that person's own), or later, in a filter that
 * captured the caller then (then the group it joined is told, and executes per person from then on).
 */
export class IdentityWatch {
  readonly watched: Viewer;
  read = false;
  private listener: (() => void) | null = null;

  constructor(readonly viewer: Viewer) {
    this.watched = tracked(viewer, () => {
      this.read = true;
      this.listener?.();
    });
  }

  /** Called on every read from now on. */
  onRead(listener: () => void): void {
    this.listener = listener;
  }
}
