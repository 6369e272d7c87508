import type { GraphQLResolveInfo } from 'graphql';
import { requireViewer } from '../../auth/roles.js';
import type { Viewer } from '../../auth/tokens.js';
import type { Context } from '../../context.js';
import type {
  Resolvers,
  SubscriptionMessageAddedArgs,
  SubscriptionReadReceiptArgs,
  SubscriptionTypingArgs,
} from '../../__generated__/resolvers-types.js';
import type { TypingSignal } from '../../events/channels.js';
import type { EventTopic } from '../../events/eventLog.js';
import type { FeedItem } from '../../subscriptions/feedItems.js';
import { mapStream, startWith, untilEnd } from '../../subscriptions/mapStream.js';
import { signalField } from '../../subscriptions/signalField.js';
import { durableStream } from '../../subscriptions/streams.js';
import { subscribeDurable } from '../../subscriptions/fields.js';
import { createTenantLoaders, mustLoad, type TenantLoaders } from '../../loaders.js';
import { unreadNotificationCount } from '../notifications/data.js';
import { requireThreadAccess } from './access.js';
import { totalUnreadCount } from './data.js';
import { enterThread } from './threadViewers.js';
import type { UnreadCountsModel } from './unreadCounts.js';

/**
 * Whether the subscriber takes part in the event's thread: read with the loaders the whole batch shares, so the
 * participants of a thread are read once per event and instance, whatever the number of subscribers. An integration
 * client granted messages (the schema checked the scope) follows every thread of the clinic.
 */
async function inThread({ event, loaders }: FeedItem, viewer: Viewer): Promise<boolean> {
  if (!event.threadId) return false;
  if (viewer.kind === 'integration') return true;
  const states = await loaders.readStates.load(event.threadId);
  return states.some((s) => s.userId === viewer.userId);
}

interface ThreadEventsOptions {
  threadId?: string | null;
  after?: string | null;
  /** Runs once access is granted, before the stream starts; what it returns runs when the stream ends. */
  whileOpen?: (threadId: string) => Promise<() => void>;
}

/**
 * The durable stream of a thread's events (its participants only, checked before subscribing: FORBIDDEN, or
 * NOT_FOUND for another clinic's thread), or of every thread the subscriber takes part in.
 */
async function threadEvents(
  ctx: Context,
  info: GraphQLResolveInfo,
  topic: EventTopic,
  { threadId, after, whileOpen }: ThreadEventsOptions,
) {
  if (threadId === null || threadId === undefined)
    return subscribeDurable(ctx, info, { topics: [topic], after, accept: inThread });
  const thread = await requireThreadAccess(ctx, threadId);
  const leave = whileOpen ? await whileOpen(thread.id) : () => {};
  try {
    const stream = await subscribeDurable(ctx, info, {
      topics: [topic],
      after,
      accept: ({ event }) => event.threadId === thread.id,
    });
    return untilEnd(stream, leave);
  } catch (err) {
    leave();
    throw err;
  }
}

/** Resolves each event with the loaders its batch shares (see `Context.useSharedLoaders`). */
function withSharedLoaders(item: FeedItem, _args: unknown, ctx: Context): FeedItem {
  ctx.useSharedLoaders(item.loaders);
  return item;
}

function countsMayChange(item: FeedItem, viewer: Viewer): boolean | Promise<boolean> {
  const { event } = item;
  if (viewer.kind !== 'user') return false;
  switch (event.topic) {
    case 'message':
      return event.data.senderId !== viewer.userId && inThread(item, viewer);
    case 'readReceipt':
    case 'notification':
      return event.userId === viewer.userId;
    default:
      return false;
  }
}

export const messagingSubscriptions: Resolvers = {
  Subscription: {
    messageAdded: {
      // A subscription to one thread is what "having the thread open" means: its user gets no NEW_MESSAGE notification.
      subscribe: (
        _parent: unknown,
        { threadId, after }: SubscriptionMessageAddedArgs,
        ctx: Context,
        info: GraphQLResolveInfo,
      ) =>
        threadEvents(ctx, info, 'message', {
          threadId,
          after,
          whileOpen: ctx.viewer?.kind === 'user' ? (id) => enterThread(ctx, id) : undefined,
        }),
      resolve: withSharedLoaders,
    },
    readReceipt: {
      subscribe: (
        _parent: unknown,
        { threadId, after }: SubscriptionReadReceiptArgs,
        ctx: Context,
        info: GraphQLResolveInfo,
      ) => threadEvents(ctx, info, 'readReceipt', { threadId, after }),
      resolve: withSharedLoaders,
    },
    typing: signalField<TypingSignal, SubscriptionTypingArgs>('typing', async ({ threadId }, ctx) => {
      const me = requireViewer(ctx.viewer);
      const thread = await requireThreadAccess(ctx, threadId);
      // `me` is the subscriber as its delivery group watches it: reading who it is splits the group per person.
      return (signal) => signal.threadId === thread.id && signal.userId !== me.userId;
    }),
    unreadCounts: {
      subscribe: async (_parent: unknown, _args: unknown, ctx: Context) => {
        const viewer = requireViewer(ctx.viewer);
        const stream = await durableStream(ctx, {
          topics: ['message', 'readReceipt', 'notification'],
          accept: countsMayChange,
        });
        const read = async () => {
          const [messages, notifications] = await Promise.all([
            totalUnreadCount(ctx.db, viewer.tenantId, viewer.userId),
            unreadNotificationCount(ctx.db, viewer.tenantId, viewer.userId),
          ]);
          return { messages, notifications };
        };
        let last: UnreadCountsModel | null = null;
        const changes = mapStream(stream, async (item) => {
          const { messages, notifications } = await read();
          const counts: UnreadCountsModel = { messages, notifications, threadId: item.event.threadId };
          // A message from someone else raises two events (the message, then its notification) and both are usually
          // committed before the first is counted: the second would repeat the same counts, so it is left out.
          const same = last !== null && last.messages === messages && last.notifications === notifications;
          if (same && (!counts.threadId || counts.threadId === last!.threadId)) return null;
          last = counts;
          return { counts, loaders: item.loaders };
        });
        // The counts as they are first, read once the stream is live: whatever was committed before is in them, and
        // every later change comes as an event. A client that read its counts before subscribing misses nothing that
        // happened in between.
        try {
          last = { ...(await read()), threadId: null };
        } catch (err) {
          await changes.return!();
          throw err;
        }
        return startWith({ counts: last, loaders: createTenantLoaders(ctx.db, viewer.tenantId) }, changes);
      },
      resolve: (
        { counts, loaders }: { counts: UnreadCountsModel; loaders: TenantLoaders },
        _args: unknown,
        ctx: Context,
      ) => {
        ctx.useSharedLoaders(loaders);
        return counts;
      },
    },
  },
  MessageEvent: {
    message: ({ event }, _args, ctx) => mustLoad(ctx.loaders.message, event.entityId, 'message'),
    occurredAt: ({ event }) => event.occurredAt,
    cursor: ({ cursor }) => cursor,
  },
  ReadReceiptEvent: {
    thread: ({ event }, _args, ctx) => mustLoad(ctx.loaders.thread, event.threadId!, 'thread'),
    user: ({ event }, _args, ctx) => mustLoad(ctx.loaders.user, event.userId!, 'reader'),
    lastReadMessage: ({ event }, _args, ctx) => mustLoad(ctx.loaders.message, event.entityId, 'message'),
    occurredAt: ({ event }) => event.occurredAt,
    cursor: ({ cursor }) => cursor,
  },
  TypingEvent: {
    user: (signal, _args, ctx) => mustLoad(ctx.loaders.user, signal.userId, 'typist'),
  },
  UnreadCounts: {
    thread: ({ threadId }, _args, ctx) => (threadId ? ctx.loaders.thread.load(threadId) : null),
  },
};
