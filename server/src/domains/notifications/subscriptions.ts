import type { Resolvers, SubscriptionNotificationArgs } from '../../__generated__/resolvers-types.js';
import { durableField } from '../../subscriptions/fields.js';
import { mustLoad } from '../../loaders.js';

export const notificationSubscriptions: Resolvers = {
  Subscription: {
    notification: durableField(({ after }: SubscriptionNotificationArgs) => ({
      topics: ['notification'],
      after,
      // Staff get their own; an integration client holding notifications:read gets everyone's.
      accept: ({ event }, viewer) =>
        event.kind === 'CREATED' && (viewer.kind === 'integration' || event.userId === viewer.userId),
    })),
  },
  NotificationEvent: {
    notification: ({ event }, _args, ctx) => mustLoad(ctx.loaders.notification, event.entityId, 'notification'),
    occurredAt: ({ event }) => event.occurredAt,
    cursor: ({ cursor }) => cursor,
  },
};
