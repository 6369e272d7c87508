import { useMutation } from '@apollo/client/react';
import { useCallback } from 'react';
import {
  MarkAllNotificationsReadDocument,
  MarkNotificationReadDocument,
  NavCountsDocument,
  NotificationsPageDocument,
} from '../__generated__/graphql';
import { writeUnreadCounts } from '../apollo/updates/notifications';

/**
 * Marks one notification read: it shows as read at once; the unread count is the server's, from the unreadCounts
 * stream or (when that is down) read again after the change. Counting down locally as well would count the read
 * twice whenever the stream's new count arrives before the mutation's answer.
 */
export function useMarkNotificationReadMutation() {
  const [mutate, result] = useMutation(MarkNotificationReadDocument);
  const markRead = useCallback(
    (notification: { id: string; readAt: string | null }) => {
      if (notification.readAt) return Promise.resolve(undefined);
      return mutate({
        variables: { id: notification.id },
        optimisticResponse: {
          markNotificationRead: { __typename: 'Notification', id: notification.id, readAt: new Date().toISOString() },
        },
        refetchQueries: [NavCountsDocument],
      });
    },
    [mutate],
  );
  return [markRead, result] as const;
}

/** Marks every notification read. */
export function useMarkAllNotificationsReadMutation() {
  const [mutate, result] = useMutation(MarkAllNotificationsReadDocument, {
    update(cache) {
      const now = new Date().toISOString();
      for (const notification of cache.readQuery({ query: NotificationsPageDocument })?.notifications ?? []) {
        if (!notification.readAt) cache.modify({ id: cache.identify(notification), fields: { readAt: () => now } });
      }
      writeUnreadCounts(cache, { notifications: 0 });
    },
  });
  const markAll = useCallback(() => mutate(), [mutate]);
  return [markAll, result] as const;
}
