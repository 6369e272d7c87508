import type { Reference } from '@apollo/client';
import { useMutation } from '@apollo/client/react';
import { useCallback } from 'react';
import { CreateThreadDocument, type CreateThreadInput } from '../__generated__/graphql';

/** Starts a conversation; it joins the top of the cached thread list. */
export function useCreateThreadMutation() {
  const [mutate, result] = useMutation(CreateThreadDocument, {
    update(cache, { data }) {
      if (!data) return;
      const id = cache.identify({ __typename: 'Thread', id: data.createThread.id });
      cache.modify<Record<string, unknown>>({
        id: 'ROOT_QUERY',
        fields: {
          threads(existing, { toReference }) {
            const list = existing as readonly Reference[];
            return !id || list.some((r) => r.__ref === id) ? list : [toReference(id)!, ...list];
          },
        },
      });
    },
  });
  const create = useCallback((input: CreateThreadInput) => mutate({ variables: { input } }), [mutate]);
  return [create, result] as const;
}
