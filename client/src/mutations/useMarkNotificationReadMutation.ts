import { useMutation } from '@apollo/client/react';
import { useCallback } from 'react';
import {
  MarkAllNotificationsReadDocument,
  MarkNotificationReadDocument,
  NotificationsPageDocument,
} from '../__generated__/graphql';
import { adjustUnreadNotifications, writeUnreadCounts } from '../apollo/updates/notifications';

/** Marks one notification read; it and the badge change at once. */
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
        update(cache, { data }) {
          // Runs for the optimistic result and again for the real one; the optimistic layer's change is discarded.
          if (data) adjustUnreadNotifications(cache, -1);
        },
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
