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

/** Whether a notification list (the `notifications` field's arguments) shows a notification read at `readAt`. */
export function inNotificationList(args: Record<string, unknown>, readAt: string | null | undefined): boolean {
  return !(args.unreadOnly && readAt);
}

/** Whether a task list (the `tasks` field's arguments) shows a task of this assignee in this status. */
export function inTaskList(args: Record<string, unknown>, task: { assigneeId?: string; status?: string }): boolean {
  const forAssignee = !args.assigneeId || args.assigneeId === task.assigneeId;
  return forAssignee && (args.status ?? 'OPEN') === (task.status ?? 'OPEN');
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
  // Only a task assigned to the viewer joins the viewer's task lists.
  const myTaskId =
    task && notification.kind === 'TASK_ASSIGNED' && task.assignee?.id === viewerId
      ? cache.identify({ __typename: 'Task', id: task.id })
      : undefined;
  if (myTaskId) rememberArrival(cache, 'tasks', myTaskId);
  cache.modify<Record<string, unknown>>({
    id: 'ROOT_QUERY',
    fields: {
      notifications(existing, { storeFieldName, toReference }) {
        const list = existing as readonly Reference[];
        if (list.some((ref) => ref.__ref === id)) return list;
        if (!inNotificationList(storeFieldArgs(storeFieldName), notification.readAt)) return list;
        return [toReference(id)!, ...list];
      },
      tasks(existing, { storeFieldName, toReference }) {
        const list = existing as readonly Reference[];
        if (!myTaskId || list.some((ref) => ref.__ref === myTaskId)) return list;
        if (!inTaskList(storeFieldArgs(storeFieldName), { assigneeId: viewerId, status: task?.status })) return list;
        return [toReference(myTaskId)!, ...list];
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
