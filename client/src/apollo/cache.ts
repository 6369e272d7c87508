import { InMemoryCache, type Reference } from '@apollo/client';
import type { FieldFunctionOptions } from '@apollo/client/cache';
import { relayStylePagination } from '@apollo/client/utilities';
import { inScheduleList, type ScheduleTag } from './updates/appointments';
import { keepLiveArrivals } from './updates/liveArrivals';
import { inNotificationList, inTaskList } from './updates/notifications';

type Edge = { __typename?: string; cursor: string; node: Reference };
type Connection = {
  __typename?: string;
  edges: Edge[];
  pageInfo: { hasPreviousPage: boolean; startCursor: string | null } & Record<string, unknown>;
};

/**
 * A thread's messages are one list per thread, whatever page was read: pages and live messages are merged into it,
 * deduplicated by message and ordered by time. A live message has no page cursor of its own, but only the oldest
 * page's `startCursor` is used to read further back.
 */
export function mergeMessageConnections(
  existing: Connection | undefined,
  incoming: Connection,
  { args, readField }: FieldFunctionOptions,
): Connection {
  if (!existing) return incoming;
  const byRef = new Map<string, Edge>();
  for (const edge of [...existing.edges, ...incoming.edges]) byRef.set(edge.node.__ref, edge);
  const at = (edge: Edge) => readField<string>('createdAt', edge.node) ?? '';
  const edges = [...byRef.values()].sort(
    (a, b) => at(a).localeCompare(at(b)) || a.node.__ref.localeCompare(b.node.__ref),
  );
  // A page read further back moves the start; a fresh read of the newest page keeps what was already known about older
  // ones.
  const pageInfo = args?.before
    ? {
        ...existing.pageInfo,
        hasPreviousPage: incoming.pageInfo.hasPreviousPage,
        startCursor: incoming.pageInfo.startCursor,
      }
    : existing.pageInfo;
  return { ...incoming, edges, pageInfo };
}

export function createCache(): InMemoryCache {
  return new InMemoryCache({
    typePolicies: {
      Query: {
        fields: {
          // Kept apart by date (and provider), so that a live change can find the days it belongs to. Replaced by each
          // read, but for the bookings and moves that arrived live while the read was on its way.
          schedule: {
            keyArgs: ['date', 'providerId'],
            merge: keepLiveArrivals(
              'schedule',
              (_ref, args, _options, tag) => inScheduleList(args, tag as ScheduleTag),
              { by: 'startsAt', ascending: true },
            ),
          },
          messages: { keyArgs: ['threadId'], merge: mergeMessageConnections },
          // Replaced by each read, but for what arrived live while the read was on its way (only the viewer's own
          // threads and notifications, and the tasks assigned to the viewer, arrive).
          threads: { keyArgs: false, merge: keepLiveArrivals('threads', () => true, { by: 'lastActivityAt' }) },
          notifications: {
            keyArgs: ['unreadOnly'],
            merge: keepLiveArrivals('notifications', (ref, args, { readField }) =>
              inNotificationList(args, readField<string | null>('readAt', ref)),
            ),
          },
          tasks: {
            keyArgs: ['assigneeId', 'status'],
            merge: keepLiveArrivals('tasks', (ref, args, { readField }) =>
              inTaskList(args, {
                assigneeId: readField<string>('id', readField<Reference>('assignee', ref)),
                status: readField<string>('status', ref),
              }),
            ),
          },
          tasksAssignedByMe: { keyArgs: ['status'], merge: false },
          // The access audit: one list per search, its pages appended ("Load more").
          patientAccessLog: relayStylePagination(['patientId', 'userId', 'integrationClientId', 'from', 'to']),
        },
      },
      Thread: {
        fields: {
          participants: { merge: false },
          readStates: { merge: false },
        },
      },
      // Events, counts and read states have no identity of their own; they live inside their parent.
      ReadState: { keyFields: false },
      UnreadCounts: { keyFields: false },
      AppointmentEvent: { keyFields: false },
      MessageEvent: { keyFields: false },
      ReadReceiptEvent: { keyFields: false },
      NotificationEvent: { keyFields: false },
    },
  });
}
