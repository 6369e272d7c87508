import { requirePermission, requireViewer } from '../../auth/roles.js';
import { commitChange } from '../../events/outbox.js';
import type { Resolvers } from '../../__generated__/resolvers-types.js';
import { badInput, conflict, forbidden, notFound } from '../../errors.js';
import { isUuid, optionalText, requiredText } from '../../validation.js';
import { createNotifications } from '../notifications/data.js';
import { patientsByIds } from '../patients/data.js';
import { mustLoad } from '../../loaders.js';
import { completeTaskRow, insertTask, lockTask, tasksAssignedBy, tasksOfAssignee } from './data.js';

export const taskResolvers: Resolvers = {
  Query: {
    tasks: (_parent, { assigneeId, status }, ctx) => {
      const viewer = requireViewer(ctx.viewer);
      const assignee = assigneeId ?? viewer.userId;
      if (!isUuid(assignee)) return [];
      return tasksOfAssignee(ctx.db, viewer.tenantId, assignee, status ?? null);
    },
    tasksAssignedByMe: (_parent, { status }, ctx) => {
      const viewer = requireViewer(ctx.viewer);
      return tasksAssignedBy(ctx.db, viewer.tenantId, viewer.userId, status ?? null);
    },
  },
  Mutation: {
    assignTask: async (_parent, { input }, ctx) => {
      const viewer = requirePermission(ctx.viewer, 'assignTask');
      const title = requiredText(input.title, 'title', { max: 200 });
      const details = optionalText(input.details, 'details', 2000);
      const assignee = await ctx.loaders.user.load(input.assigneeId);
      if (!assignee) throw badInput('assigneeId does not name a user of your clinic', 'assigneeId');
      if (input.patientId) {
        const [patient] = isUuid(input.patientId)
          ? await patientsByIds(ctx.db, viewer.tenantId, [input.patientId])
          : [];
        if (!patient) throw badInput('patientId does not name a patient of your clinic', 'patientId');
      }
      const priority = input.priority ?? 'NORMAL';
      return commitChange(ctx, viewer.tenantId, async (trx, record) => {
        const task = await insertTask(trx, viewer.tenantId, {
          title,
          details,
          priority,
          dueAt: input.dueAt ?? null,
          patientId: input.patientId ?? null,
          assigneeId: assignee.id,
          createdBy: viewer.userId,
        });
        record([{ topic: 'task', kind: 'ASSIGNED', entityId: task.id, userId: assignee.id }]);
        await createNotifications(trx, record, viewer.tenantId, [
          {
            userId: assignee.id,
            kind: 'TASK_ASSIGNED',
            priority,
            title: `New task: ${title}`,
            taskId: task.id,
            patientId: task.patientId,
          },
        ]);
        return task;
      });
    },
    completeTask: async (_parent, { id }, ctx) => {
      const viewer = requireViewer(ctx.viewer);
      return commitChange(ctx, viewer.tenantId, async (trx, record) => {
        const task = isUuid(id) ? await lockTask(trx, viewer.tenantId, id) : undefined;
        if (!task) throw notFound('Task');
        if (viewer.role !== 'ADMIN' && viewer.userId !== task.assigneeId && viewer.userId !== task.createdBy) {
          throw forbidden('Only the assignee, whoever assigned the task, or an admin may complete it');
        }
        if (task.status === 'COMPLETED') throw conflict('The task is already completed', 'TASK_COMPLETED');
        const row = await completeTaskRow(trx, viewer.tenantId, task.id);
        record([{ topic: 'task', kind: 'COMPLETED', entityId: row.id, userId: row.assigneeId }]);
        return row;
      });
    },
  },
  Task: {
    assignee: (t, _args, ctx) => mustLoad(ctx.loaders.user, t.assigneeId, 'assignee'),
    createdBy: (t, _args, ctx) => mustLoad(ctx.loaders.user, t.createdBy, 'creator'),
    patient: (t, _args, ctx) => (t.patientId ? ctx.loaders.patient.load(t.patientId) : null),
  },
};
