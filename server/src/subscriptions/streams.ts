import { requireCaller } from '../auth/roles.js';
import type { Viewer } from '../auth/tokens.js';
import type { Context } from '../context.js';
import { deliveryFailed, isCursorExpired } from '../errors.js';
import { AsyncQueue } from './asyncQueue.js';
import { tenantChannel, type ChannelKind } from '../events/channels.js';
import { parseEventCursor } from '../events/eventLog.js';
import { assertResumable, readReplayPage, REPLAY_PAGE } from '../events/feed.js';
import { feedItems, type FeedItem } from './feedItems.js';
import type { DurableStreamOptions } from './sources.js';

/**
 * A subscription to a tenant's durable events, with resume.
 *
 * The listener is registered on the live tail first, and what it hears is held back while the log is replayed from
 * `after` (at the pace the client takes it). Then the held items are delivered, skipping any the replay already
 * delivered (sequence numbers grow in commit order, so "seq <= position" is exactly "already seen"). No gap at the
 * seam, and no duplicate.
 */
export async function durableStream(
  ctx: Context,
  options: DurableStreamOptions,
): Promise<AsyncIterableIterator<FeedItem>> {
  const viewer = requireCaller(ctx.viewer);
  const { feed } = ctx.services.realtime;
  const topics = new Set<string>(options.topics);
  // Only null means "from now": an empty string is not a cursor, and taking it for none would silently skip what the
  // client missed.
  let position = options.after != null ? parseEventCursor(viewer.tenantId, options.after) : null;

  let stop = () => {};
  // Counted once handed over, its listener on the live tail (what it hears follows the replay), so that a test or probe
  // that sees the count knows the stream hears new events.
  let counted = false;
  const queue = new AsyncQueue<FeedItem>(() => {
    stop();
    if (counted) ctx.services.realtime.streams.closed();
  });

  let replaying = true;
  const held: FeedItem[][] = [];
  let heldCount = 0;
  let chain = Promise.resolve();
  const deliver = async (items: FeedItem[]) => {
    for (const item of items) {
      if (queue.closed) return;
      if (position !== null && item.event.seq <= position) continue;
      position = item.event.seq;
      if (topics.has(item.event.topic) && (await options.accept(item, viewer))) queue.push(item);
    }
  };
  const fail = (err: unknown) => {
    // Pruning overtook the replay: the client is told, as it would have been had it come later.
    if (isCursorExpired(err)) return queue.fail(err);
    ctx.log.error({ err }, 'subscription delivery failed');
    queue.fail(deliveryFailed());
  };

  try {
    const live = await feed.listen(viewer.tenantId, (batch) => {
      const items = feedItems(ctx.db, viewer.tenantId, batch);
      if (!replaying) {
        chain = chain.then(() => deliver(items)).catch(fail);
        return;
      }
      // The replay waits for the client, so what is held meanwhile is bounded like the queue itself: a client that
      // stops reading during its replay is ended (and resumes from its last cursor), not held in memory for ever.
      const relevant = items.filter((item) => topics.has(item.event.topic));
      heldCount += relevant.length;
      if (heldCount > queue.maxBuffered) queue.failSlowConsumer();
      else if (relevant.length > 0) held.push(relevant);
    });
    stop = live.stop;
    if (position === null) {
      position = live.since;
    } else await assertResumable(ctx.db, viewer.tenantId, position, live.since);
  } catch (err) {
    await queue.return();
    throw err;
  }
  // The replay runs once the stream is handed over, a page at a time as the client takes it: replayed before, a
  // backlog beyond the queue's bound (a client back from a long absence) overflowed it as SLOW_CONSUMER every time.
  const replay = async () => {
    let page;
    do {
      await queue.whenRoomFor(REPLAY_PAGE);
      if (queue.closed) return;
      page = await readReplayPage(ctx.db, viewer.tenantId, position!, options.topics);
      await deliver(feedItems(ctx.db, viewer.tenantId, page));
    } while (page.length === REPLAY_PAGE && !queue.closed);
  };
  chain = (options.after != null ? replay() : Promise.resolve())
    .then(() => {
      replaying = false;
      for (const items of held.splice(0)) chain = chain.then(() => deliver(items)).catch(fail);
    })
    .catch(fail);
  if (!queue.closed) {
    counted = true;
    ctx.services.realtime.streams.opened();
  }
  return queue;
}

/**
 * A subscription to a tenant's ephemeral signals (typing, presence, viewing): straight from pub/sub, never stored.
 * A listener on the instance's channel hub, which holds one pub/sub subscription per tenant and kind.
 */
export async function signalStream<S, T = S>(
  ctx: Context,
  kind: ChannelKind,
  map: (signal: S, viewer: Viewer) => T | null | Promise<T | null>,
): Promise<AsyncIterableIterator<T>> {
  const viewer = requireCaller(ctx.viewer);
  const { hub, streams } = ctx.services.realtime;
  let unsubscribe: (() => void) | null = null;
  let counted = false;
  const queue = new AsyncQueue<T>(() => {
    if (counted) streams.closed();
    unsubscribe?.();
  });
  let chain = Promise.resolve();
  const stop = await hub.subscribe<S>(tenantChannel(viewer, kind), (signal) => {
    chain = chain
      .then(async () => {
        const value = await map(signal, viewer);
        if (value !== null) queue.push(value);
      })
      .catch((err) => ctx.log.error({ err }, 'signal delivery failed'));
  });
  if (queue.closed) stop();
  else {
    unsubscribe = stop;
    // Counted once the channel is listened to (with Redis, once SUBSCRIBE is acknowledged): signals sent after that
    // arrive.
    counted = true;
    streams.opened();
  }
  return queue;
}
