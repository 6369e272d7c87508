import type { Resolvers } from '../../__generated__/resolvers-types.js';
import type { PresenceSignal } from '../../events/channels.js';
import { signalField } from '../../events/signalField.js';

export const presenceSubscriptions: Resolvers = {
  Subscription: {
    // Every signed-in staff member may see who of their clinic is online; the tenant's channel is the wall.
    presence: signalField<PresenceSignal>('presence', () => () => true),
  },
};
