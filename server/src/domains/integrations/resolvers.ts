import { requirePermission } from '../../auth/roles.js';
import type { Resolvers } from '../../__generated__/resolvers-types.js';
import { notFound } from '../../errors.js';
import { createIntegrationClient } from './clients.js';
import { integrationClientsOfTenant, revokeIntegrationClientRow } from './data.js';

export const integrationResolvers: Resolvers = {
  Query: {
    integrationClients: (_parent, { includeRevoked }, ctx) => {
      const viewer = requirePermission(ctx.viewer, 'manageIntegrations');
      return integrationClientsOfTenant(ctx.db, viewer.tenantId, includeRevoked ?? false);
    },
  },
  Mutation: {
    createIntegrationClient: async (_parent, { input }, ctx) => {
      const viewer = requirePermission(ctx.viewer, 'manageIntegrations');
      const { client, secret } = await createIntegrationClient(ctx.db, viewer.tenantId, {
        ...input,
        createdBy: viewer.userId,
      });
      ctx.log.info({ clientId: client.id, scopes: client.scopes }, 'integration client created');
      return { client, clientSecret: secret };
    },
    revokeIntegrationClient: async (_parent, { id }, ctx) => {
      const viewer = requirePermission(ctx.viewer, 'manageIntegrations');
      const client = await revokeIntegrationClientRow(ctx.db, viewer.tenantId, id);
      if (!client) throw notFound('Integration client');
      // Every instance closes the client's connections now; the periodic re-check would within seconds anyway.
      await ctx.services.integrations.announceRevocation(viewer.tenantId, client.id);
      ctx.log.info({ clientId: client.id }, 'integration client revoked');
      return client;
    },
  },
  IntegrationClient: {
    createdBy: (client, _args, ctx) => (client.createdBy ? ctx.loaders.user.load(client.createdBy) : null),
  },
};
