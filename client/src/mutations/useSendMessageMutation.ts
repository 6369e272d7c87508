import { useApolloClient, useMutation } from '@apollo/client/react';
import { useCallback } from 'react';
import { SendMessageDocument, ThreadListItem_ThreadFragmentDoc } from '../__generated__/graphql';
import { addMessage } from '../apollo/updates/messages';
import { optimisticId } from '../lib/tempId';
import { useCurrentUser } from '../session/SessionContext';

/**
 * Sends a message. It shows at once (optimistic, with a temporary id), then the server's message takes its place;
 * its echo on the messageAdded stream has the same id and is not added twice.
 */
export function useSendMessageMutation() {
  const me = useCurrentUser();
  const client = useApolloClient();
  const [mutate, result] = useMutation(SendMessageDocument, {
    update(cache, { data }) {
      if (data) addMessage(cache, data.sendMessage);
    },
  });
  const send = useCallback(
    (threadId: string, body: string) => {
      const thread = client.cache.readFragment({
        fragment: ThreadListItem_ThreadFragmentDoc,
        id: client.cache.identify({ __typename: 'Thread', id: threadId }),
      });
      const now = new Date().toISOString();
      const id = optimisticId();
      const sender = { __typename: 'User' as const, id: me.id, name: me.name };
      return mutate({
        variables: { threadId, body },
        optimisticResponse: thread
          ? {
              sendMessage: {
                __typename: 'Message',
                id,
                body,
                createdAt: now,
                sender,
                thread: {
                  ...thread,
                  lastActivityAt: now,
                  lastMessage: { __typename: 'Message', id, body, createdAt: now, sender },
                },
              },
            }
          : undefined,
      });
    },
    [client, me.id, me.name, mutate],
  );
  return [send, result] as const;
}
