import { useQuery } from '@apollo/client/react';
import { NavCountsDocument, UnreadCountsChangedDocument } from '../__generated__/graphql';
import { writeUnreadCounts } from '../apollo/updates/notifications';
import { useLiveSubscription } from './useLiveSubscription';

/** Keeps the cached unread counts (and each thread's) current; mount once, in the app shell. */
export function useUnreadCountsSubscription(): void {
  useLiveSubscription(UnreadCountsChangedDocument, {
    onData: ({ unreadCounts }, client) => writeUnreadCounts(client.cache, unreadCounts),
  });
}

/** Unread messages and notifications, for badges. */
export function useUnreadCounts(): { messages: number; notifications: number } {
  const { data } = useQuery(NavCountsDocument);
  return { messages: data?.unreadMessageCount ?? 0, notifications: data?.unreadNotificationCount ?? 0 };
}
