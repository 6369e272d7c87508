import type { Resolvers } from '../../__generated__/resolvers-types.js';
import type { PresenceSignal } from '../../events/channels.js';
import { signalField } from '../../subscriptions/signalField.js';

export const presenceSubscriptions: Resolvers = {
  Subscription: {
    // Every signed-in staff member may see who of their clinic is online; the tenant's channel is the wall. A signal
    // about someone who is not (or no longer) a user of the clinic is dropped: it must not fail everyone's stream. The
    // user is read once per signal on this instance, and the selection's `user` reuses that read.
    presence: signalField<PresenceSignal>(
      'presence',
      () => async (signal, _viewer, loaders) => (await loaders.user.load(signal.userId)) !== null,
    ),
  },
};
