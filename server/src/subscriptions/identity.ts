import type { Viewer } from '../auth/tokens.js';

/** Who a subscriber is, to the resolvers that depend on it. */
export const identityOf = (viewer: Viewer): string =>
  viewer.kind === 'user' ? `u:${viewer.userId}` : `c:${viewer.clientId}`;

/** Told whenever something reads who a watched caller is. */
export interface IdentityReader {
  identityRead(): void;
}

/**
 * The proxy handler of a watched caller. An object with one field rather than a closure: a subscription keeps its
 * watched caller for as long as it lives (docs/architecture.md, "Per-connection cost").
 */
class ReadWatch implements ProxyHandler<Viewer> {
  constructor(private readonly reader: IdentityReader) {}

  get(target: Viewer, prop: string | symbol, receiver: unknown): unknown {
    if (prop === 'userId' || prop === 'clientId') this.reader.identityRead();
    return Reflect.get(target, prop, receiver) as unknown;
  }
}

/** The caller, watched: reading who it is (`userId`, `clientId`) calls `reader.identityRead()`. */
export function tracked(viewer: Viewer, reader: IdentityReader): Viewer {
  return new Proxy(viewer, new ReadWatch(reader));
}

/**
 * Whether anything of one subscription operation read who its subscriber is (docs/architecture.md, "Delivery
 * groups"). The operation's context holds the watched caller from the start, so a read is seen wherever it happens:
 * in the field's subscribe resolver (then the subscriber's group is that person's own), or later, in a filter that
 * captured the caller then (then the group it joined is told, and executes per person from then on).
 */
export class IdentityWatch implements IdentityReader {
  readonly watched: Viewer;
  read = false;
  private reader: IdentityReader | null = null;

  constructor(readonly viewer: Viewer) {
    this.watched = tracked(viewer, this);
  }

  identityRead(): void {
    this.read = true;
    this.reader?.identityRead();
  }

  /** Tells `reader` of every read from now on. */
  onRead(reader: IdentityReader): void {
    this.reader = reader;
  }
}
