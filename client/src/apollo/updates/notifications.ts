import type { ApolloCache, Reference } from '@apollo/client';
import { NavCountsDocument } from '../../__generated__/graphql';
import { rememberArrival } from './liveArrivals';
import { storeFieldArgs } from './storeFieldArgs';

export interface AddedNotification {
  __typename?: 'Notification';
  id: string;
  kind: string;
  readAt: string | null;
  task: { id: string; status?: string; assignee?: { id: string } } | null;
}

/**
 * A new notification joins the cached notification lists (newest first, once), and a task assigned to the viewer
 * joins their cached open-task lists. The unread count is the server's (the unreadCounts subscription). Both are
 * remembered for a while, for the lists read before them that are still on their way (`keepLiveArrivals`).
 */
export function addNotification(cache: ApolloCache, notification: AddedNotification, viewerId: string): void {
  const id = cache.identify({ __typename: 'Notification', id: notification.id });
  if (!id) return;
  rememberArrival(cache, 'notifications', id);
  const task = notification.task;
  const taskId = task ? cache.identify({ __typename: 'Task', id: task.id }) : undefined;
  if (taskId && notification.kind === 'TASK_ASSIGNED' && task?.assignee?.id === viewerId)
    rememberArrival(cache, 'tasks', taskId);
  cache.modify<Record<string, unknown>>({
    id: 'ROOT_QUERY',
    fields: {
      notifications(existing, { storeFieldName, toReference }) {
        const list = existing as readonly Reference[];
        if (list.some((ref) => ref.__ref === id)) return list;
        if (storeFieldArgs(storeFieldName).unreadOnly && notification.readAt) return list;
        return [toReference(id)!, ...list];
      },
      tasks(existing, { storeFieldName, toReference }) {
        const list = existing as readonly Reference[];
        if (!taskId || notification.kind !== 'TASK_ASSIGNED' || task?.assignee?.id !== viewerId) return list;
        const args = storeFieldArgs(storeFieldName);
        const forViewer = !args.assigneeId || args.assigneeId === viewerId;
        const status = args.status ?? 'OPEN';
        if (!forViewer || status !== (task.status ?? 'OPEN') || list.some((ref) => ref.__ref === taskId)) return list;
        return [toReference(taskId)!, ...list];
      },
    },
  });
}

/** Sets the cached unread counts (the nav badges). */
export function writeUnreadCounts(cache: ApolloCache, counts: { messages?: number; notifications?: number }): void {
  cache.updateQuery({ query: NavCountsDocument }, (data) => ({
    unreadMessageCount: counts.messages ?? data?.unreadMessageCount ?? 0,
    unreadNotificationCount: counts.notifications ?? data?.unreadNotificationCount ?? 0,
  }));
}

/**
 * The "new message" notifications of a thread, once it is read: shown as read at once (the server marks them read
 * with the thread, and the unread count follows from its stream).
 */
export function markThreadNotificationsRead(cache: ApolloCache, threadId: string, at = new Date().toISOString()): void {
  const seen = new Set<string>();
  cache.modify<Record<string, unknown>>({
    id: 'ROOT_QUERY',
    fields: {
      notifications(existing, { readField }) {
        for (const ref of existing as readonly Reference[]) {
          const thread = readField<Reference>('thread', ref);
          if (
            readField('kind', ref) === 'NEW_MESSAGE' &&
            !readField('readAt', ref) &&
            thread &&
            readField('id', thread) === threadId
          )
            seen.add(ref.__ref);
        }
        return existing;
      },
    },
  });
  for (const id of seen) cache.modify({ id, fields: { readAt: () => at } });
}
