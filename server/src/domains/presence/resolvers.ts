import { requireCaller, requireViewer } from '../../auth/roles.js';
import type { Resolvers } from '../../__generated__/resolvers-types.js';
import { badInput, conflict } from '../../errors.js';
import { mustLoad } from '../../loaders.js';

export const presenceResolvers: Resolvers = {
  Query: {
    onlineUsers: async (_parent, _args, ctx) => {
      const viewer = requireCaller(ctx.viewer);
      const online = await ctx.services.presence.online(viewer.tenantId);
      const users = await ctx.loaders.user.loadMany(online.map((p) => p.userId));
      return online
        .map((presence, i) => ({ presence, user: users[i] }))
        .flatMap(({ presence, user }) => (user && !(user instanceof Error) ? [{ presence, name: user.name }] : []))
        .sort((a, b) => a.name.localeCompare(b.name) || a.presence.userId.localeCompare(b.presence.userId))
        .map(({ presence }) => presence);
    },
  },
  Mutation: {
    setPresenceStatus: async (_parent, { status }, ctx) => {
      const viewer = requireViewer(ctx.viewer);
      if (status === 'OFFLINE')
        throw badInput('OFFLINE cannot be set: a user is offline once all their connections are closed', 'status');
      if (!(await ctx.services.presence.isOnline(viewer))) {
        throw conflict('A status belongs to an open connection: connect over WebSocket first', 'NOT_CONNECTED');
      }
      return ctx.services.presence.setStatus(viewer, status);
    },
  },
  Presence: {
    user: ({ userId }, _args, ctx) => mustLoad(ctx.loaders.user, userId, 'user'),
  },
};
