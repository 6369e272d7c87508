import type { Viewer } from '../auth/tokens.js';
import type { EventTopic } from '../events/eventLog.js';
import type { FeedItem } from './feedItems.js';

/*
 * What a subscription field hands the delivery (context.ts, `Delivery`; ./groups.ts), or its own stream when no
 * transport gives a sink (./streams.ts): the events or signals it listens to and its own filter. Types only, below the
 * context: the context names them without importing the groups that make contexts (docs/architecture.md, "Layers").
 */

/** A durable subscription field's stream: its topics of the tenant's event log, where it resumes, its filter. */
export interface DurableStreamOptions {
  topics: readonly EventTopic[];
  /** Resume after this cursor: replay what was missed, then go live. */
  after?: string | null;
  /** Whether this subscriber receives an event (decided in memory, with the batch's shared loaders). */
  accept: (item: FeedItem, viewer: Viewer) => boolean | Promise<boolean>;
}

/** What a signal subscription field gives its group: its channel, its filter, and the root of each signal. */
export interface SignalSource<S, R> {
  /** The pub/sub channel of the tenant's signals of this kind. */
  channel: string;
  /**
   * Whether a caller receives this signal: this subscriber's own filter. Who is asking is read from `caller` or from
   * what the field's subscribe resolver captured; the group sees either (./identity.ts).
   */
  accept(root: R, caller: Viewer): boolean | Promise<boolean>;
  /** The root the selection runs on for one signal, shared by every group of it (with its shared loaders). */
  rootOf(signal: S): R;
}
