import type { ApolloCache, Reference } from '@apollo/client';
import type { FieldFunctionOptions } from '@apollo/client/cache';
import { NavCountsDocument } from '../../__generated__/graphql';
import { storeFieldArgs } from './storeFieldArgs';

export interface AddedNotification {
  __typename?: 'Notification';
  id: string;
  kind: string;
  readAt: string | null;
  task: { id: string; status?: string; assignee?: { id: string } } | null;
}

/** How long a notification that arrived live is kept in the lists read from before it (`keepLiveArrivals`). */
const ARRIVAL_MEMORY_MS = 120_000;
/** At most this many of them are remembered, the latest. */
const ARRIVAL_MEMORY_SIZE = 200;

/** Per cache: the notifications that arrived live lately (cache id, when it arrived), oldest first. */
const arrivals = new WeakMap<object, Map<string, number>>();

function remembered(cache: object, now: number): Map<string, number> {
  let recent = arrivals.get(cache);
  if (!recent) arrivals.set(cache, (recent = new Map()));
  for (const [ref, at] of recent) {
    if (at > now - ARRIVAL_MEMORY_MS && recent.size <= ARRIVAL_MEMORY_SIZE) break;
    recent.delete(ref);
  }
  return recent;
}

/**
 * The merge of a notification list read from the server: the list as read, and the notifications that arrived live in
 * the last two minutes and are not in it. A list read before a notification was created can land after the stream
 * delivered it (the page's `cache-and-network` read while an alert comes in, or its first read, when there is no
 * cached list yet for the notification to join); replacing the list would then lose it from the page though its toast
 * showed and the unread count includes it. A list of unread notifications keeps only those still unread here.
 */
export function keepLiveArrivals(
  _existing: readonly Reference[] | undefined,
  incoming: readonly Reference[],
  { cache, args, readField }: FieldFunctionOptions,
): readonly Reference[] {
  const recent = arrivals.get(cache);
  if (!recent?.size) return incoming;
  const listed = new Set(incoming.map((ref) => ref.__ref));
  const createdAt = (ref: Reference) => readField<string>('createdAt', ref);
  const missing = [...remembered(cache, Date.now()).keys()]
    .filter((id) => !listed.has(id))
    .map((id) => ({ __ref: id }))
    // Gone from the cache (cleared on sign-out), or read where only unread ones are listed.
    .filter((ref) => createdAt(ref) !== undefined && !(args?.unreadOnly && readField('readAt', ref)));
  if (missing.length === 0) return incoming;
  // Both newest first; a live one goes before the listed ones it is newer than.
  const time = (ref: Reference) => Date.parse(createdAt(ref) ?? '') || 0;
  missing.sort((a, b) => time(b) - time(a));
  const merged: Reference[] = [];
  let m = 0;
  for (const ref of incoming) {
    while (m < missing.length && time(missing[m]) > time(ref)) merged.push(missing[m++]);
    merged.push(ref);
  }
  return [...merged, ...missing.slice(m)];
}

/**
 * A new notification joins the cached notification lists (newest first, once), and a task assigned to the viewer
 * joins their cached open-task lists. The unread count is the server's (the unreadCounts subscription). It is also
 * remembered for a while, for the lists read before it that are still on their way (`keepLiveArrivals`).
 */
export function addNotification(cache: ApolloCache, notification: AddedNotification, viewerId: string): void {
  const id = cache.identify({ __typename: 'Notification', id: notification.id });
  if (!id) return;
  const now = Date.now();
  const recent = remembered(cache, now);
  recent.delete(id);
  recent.set(id, now);
  const task = notification.task;
  const taskId = task ? cache.identify({ __typename: 'Task', id: task.id }) : undefined;
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
