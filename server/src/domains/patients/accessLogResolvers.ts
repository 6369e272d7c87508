import { requirePermission } from '../../auth/roles.js';
import type { Resolvers } from '../../__generated__/resolvers-types.js';
import { mustLoad } from '../../loaders.js';
import { accessLogFilter, accessLogPageSize, accessLogPosition, cursorOfEntry, readAccessLog } from './accessLog.js';

/** The admins' view of the access audit (docs/architecture.md, "Access audit"). */
export const accessLogResolvers: Resolvers = {
  Query: {
    patientAccessLog: async (_parent, args, ctx) => {
      const viewer = requirePermission(ctx.viewer, 'readAccessAudit');
      const filter = accessLogFilter(args);
      const size = accessLogPageSize(args.first);
      const after = accessLogPosition(args.after);
      const tenant = await mustLoad(ctx.loaders.tenant, viewer.tenantId, 'tenant');
      const rows = await readAccessLog(ctx.db, viewer.tenantId, tenant.timeZone, filter, size + 1, after);
      const edges = rows.slice(0, size).map((node) => ({ node, cursor: cursorOfEntry(node) }));
      return {
        edges,
        pageInfo: {
          hasNextPage: rows.length > size,
          hasPreviousPage: after !== null,
          startCursor: edges[0]?.cursor ?? null,
          endCursor: edges.at(-1)?.cursor ?? null,
        },
      };
    },
  },
  PatientAccess: {
    id: (entry) => String(entry.id),
    patient: (entry, _args, ctx) => mustLoad(ctx.loaders.patient, entry.patientId, 'patient'),
    user: (entry, _args, ctx) => (entry.userId ? ctx.loaders.user.load(entry.userId) : null),
    integrationClient: (entry, _args, ctx) =>
      entry.integrationClientId ? ctx.loaders.integrationClient.load(entry.integrationClientId) : null,
  },
};
