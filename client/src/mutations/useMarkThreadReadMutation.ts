import { useMutation } from '@apollo/client/react';
import { useCallback } from 'react';
import { MarkThreadReadDocument } from '../__generated__/graphql';

/** Marks a thread read up to a message; its unread badge clears at once, and the total follows from the server. */
export function useMarkThreadReadMutation() {
  const [mutate, result] = useMutation(MarkThreadReadDocument, {
    update(cache, { data }) {
      if (!data) return;
      cache.modify({
        id: cache.identify({ __typename: 'Thread', id: data.markThreadRead.id }),
        fields: { unreadCount: () => data.markThreadRead.unreadCount },
      });
    },
  });
  const markRead = useCallback(
    (threadId: string, messageId?: string) => mutate({ variables: { threadId, messageId } }),
    [mutate],
  );
  return [markRead, result] as const;
}
