import { useMutation } from '@apollo/client/react';
import { useCallback } from 'react';
import { MarkThreadReadDocument } from '../__generated__/graphql';
import { markThreadNotificationsRead } from '../apollo/updates/notifications';

/**
 * Marks a thread read up to a message; its unread badge clears at once, and so do its "new message" notifications
 * (the server marks those read with it); the totals follow from the server.
 */
export function useMarkThreadReadMutation() {
  const [mutate, result] = useMutation(MarkThreadReadDocument, {
    update(cache, { data }) {
      if (!data) return;
      cache.modify({
        id: cache.identify({ __typename: 'Thread', id: data.markThreadRead.id }),
        fields: { unreadCount: () => data.markThreadRead.unreadCount },
      });
      markThreadNotificationsRead(cache, data.markThreadRead.id);
    },
  });
  const markRead = useCallback(
    (threadId: string, messageId?: string) => mutate({ variables: { threadId, messageId } }),
    [mutate],
  );
  return [markRead, result] as const;
}
