import { requirePermission, requireViewer } from '../../auth/roles.js';
import { commitChange } from '../../events/outbox.js';
import type { Resolvers } from '../../__generated__/resolvers-types.js';
import { badInput, notFound } from '../../errors.js';
import { isUuid, pageSize, requiredText } from '../../validation.js';
import { mustLoad } from '../../loaders.js';
import { patientsByIds } from '../patients/data.js';
import {
  createNotifications,
  listNotifications,
  lockNotification,
  markNotificationsRead,
  unreadNotificationCount,
} from './data.js';

export const notificationResolvers: Resolvers = {
  Query: {
    notifications: (_parent, { unreadOnly, first }, ctx) => {
      const viewer = requireViewer(ctx.viewer);
      return listNotifications(
        ctx.db,
        viewer.tenantId,
        viewer.userId,
        unreadOnly ?? false,
        pageSize(first, 'first', 50),
      );
    },
    unreadNotificationCount: (_parent, _args, ctx) => {
      const viewer = requireViewer(ctx.viewer);
      return unreadNotificationCount(ctx.db, viewer.tenantId, viewer.userId);
    },
  },
  Mutation: {
    sendAlert: async (_parent, { input }, ctx) => {
      const viewer = requirePermission(ctx.viewer, 'sendAlert');
      if (input.kind !== 'ALERT' && input.kind !== 'LAB_RESULT')
        throw badInput('kind must be ALERT or LAB_RESULT', 'kind');
      const title = requiredText(input.title, 'title', { max: 200 });
      const recipient = await ctx.loaders.user.load(input.userId);
      if (!recipient) throw badInput('userId does not name a user of your clinic', 'userId');
      if (input.patientId) {
        const [patient] = isUuid(input.patientId)
          ? await patientsByIds(ctx.db, viewer.tenantId, [input.patientId])
          : [];
        if (!patient) throw badInput('patientId does not name a patient of your clinic', 'patientId');
      }
      const [row] = await commitChange(ctx, viewer.tenantId, (trx, record) =>
        createNotifications(trx, record, viewer.tenantId, [
          {
            userId: recipient.id,
            kind: input.kind,
            priority: input.priority ?? 'NORMAL',
            title,
            patientId: input.patientId ?? null,
          },
        ]),
      );
      return row;
    },
    markNotificationRead: async (_parent, { id }, ctx) => {
      const viewer = requireViewer(ctx.viewer);
      return commitChange(ctx, viewer.tenantId, async (trx, record) => {
        const current = isUuid(id) ? await lockNotification(trx, viewer.tenantId, viewer.userId, id) : undefined;
        if (!current) throw notFound('Notification');
        if (current.readAt) return current;
        const [row] = await markNotificationsRead(trx, viewer.tenantId, viewer.userId, [current.id]);
        record([{ topic: 'notification', kind: 'READ', entityId: row.id, userId: row.userId }]);
        return row;
      });
    },
    markAllNotificationsRead: async (_parent, _args, ctx) => {
      const viewer = requireViewer(ctx.viewer);
      return commitChange(ctx, viewer.tenantId, async (trx, record) => {
        const rows = await markNotificationsRead(trx, viewer.tenantId, viewer.userId);
        record(
          rows.map((n) => ({
            topic: 'notification' as const,
            kind: 'READ' as const,
            entityId: n.id,
            userId: n.userId,
          })),
        );
        return rows.length;
      });
    },
  },
  Notification: {
    task: (n, _args, ctx) => (n.taskId ? ctx.loaders.task.load(n.taskId) : null),
    thread: (n, _args, ctx) => (n.threadId ? ctx.loaders.thread.load(n.threadId) : null),
    patient: (n, _args, ctx) => (n.patientId ? ctx.loaders.patient.load(n.patientId) : null),
    recipient: (n, _args, ctx) => mustLoad(ctx.loaders.user, n.userId, 'recipient'),
  },
};
