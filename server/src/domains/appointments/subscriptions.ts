import type { Resolvers, SubscriptionAppointmentChangedArgs } from '../../__generated__/resolvers-types.js';
import { badInput } from '../../errors.js';
import { durableField } from '../../subscriptions/fields.js';
import { mustLoad } from '../../loaders.js';
import { isUuid } from '../../validation.js';

/**
 * The filter of a schedule without a provider: one function for all its subscribers, where a closure would be kept
 * per subscription for its life (docs/architecture.md, "Per-connection cost").
 */
const everyChange = () => true;

export const appointmentSubscriptions: Resolvers = {
  Subscription: {
    appointmentChanged: durableField(({ providerId, after }: SubscriptionAppointmentChangedArgs) => {
      if (providerId && !isUuid(providerId)) throw badInput('providerId is not an id', 'providerId');
      return {
        topics: ['appointment'],
        after,
        // The provider filter narrows the view; the tenant's channel and log are the wall.
        accept: providerId
          ? ({ event }) => event.providerId === providerId || event.data.previousProviderId === providerId
          : everyChange,
      };
    }),
  },
  AppointmentEvent: {
    kind: ({ event }) => event.kind as 'CREATED' | 'UPDATED' | 'CANCELLED' | 'CHECKED_IN',
    appointment: ({ event }, _args, ctx) => mustLoad(ctx.loaders.appointment, event.entityId, 'appointment'),
    previousProviderId: ({ event }) =>
      typeof event.data.previousProviderId === 'string' ? event.data.previousProviderId : null,
    occurredAt: ({ event }) => event.occurredAt,
    cursor: ({ cursor }) => cursor,
  },
};
