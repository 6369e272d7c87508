import type { Reference } from '@apollo/client';
import { useMutation } from '@apollo/client/react';
import { useCallback } from 'react';
import { CompleteTaskDocument } from '../__generated__/graphql';
import { storeFieldArgs } from '../apollo/updates/storeFieldArgs';

/** Completes a task; it leaves the cached open-task lists at once. */
export function useCompleteTaskMutation() {
  const [mutate, result] = useMutation(CompleteTaskDocument, {
    update(cache, { data }) {
      if (!data) return;
      const id = cache.identify({ __typename: 'Task', id: data.completeTask.id });
      cache.modify<Record<string, unknown>>({
        id: 'ROOT_QUERY',
        fields: {
          tasks(existing, { storeFieldName }) {
            const list = existing as readonly Reference[];
            if ((storeFieldArgs(storeFieldName).status ?? 'OPEN') !== 'OPEN') return list;
            return list.filter((r) => r.__ref !== id);
          },
          tasksAssignedByMe(existing, { storeFieldName }) {
            const list = existing as readonly Reference[];
            if ((storeFieldArgs(storeFieldName).status ?? 'OPEN') !== 'OPEN') return list;
            return list.filter((r) => r.__ref !== id);
          },
        },
      });
    },
  });
  const complete = useCallback(
    (taskId: string) =>
      mutate({
        variables: { id: taskId },
        optimisticResponse: {
          completeTask: { __typename: 'Task', id: taskId, status: 'COMPLETED', completedAt: new Date().toISOString() },
        },
      }),
    [mutate],
  );
  return [complete, result] as const;
}
