import type { Reference } from '@apollo/client';
import { useMutation } from '@apollo/client/react';
import { useCallback } from 'react';
import { AssignTaskDocument, type AssignTaskInput } from '../__generated__/graphql';
import { storeFieldArgs } from '../apollo/updates/storeFieldArgs';
import { useCurrentUser } from '../session/SessionContext';

/**
 * Assigns a task; a task assigned to oneself joins one's cached open tasks (others learn of theirs by notification).
 */
export function useAssignTaskMutation() {
  const me = useCurrentUser();
  const [mutate, result] = useMutation(AssignTaskDocument, {
    update(cache, { data }) {
      if (!data) return;
      const task = data.assignTask;
      const id = cache.identify({ __typename: 'Task', id: task.id });
      cache.modify<Record<string, unknown>>({
        id: 'ROOT_QUERY',
        fields: {
          tasks(existing, { storeFieldName, toReference }) {
            const list = existing as readonly Reference[];
            const args = storeFieldArgs(storeFieldName);
            const assignee = (args.assigneeId as string | undefined) ?? me.id;
            if (
              !id ||
              assignee !== task.assignee.id ||
              (args.status ?? 'OPEN') !== 'OPEN' ||
              list.some((r) => r.__ref === id)
            )
              return list;
            return [toReference(id)!, ...list];
          },
          tasksAssignedByMe(existing, { storeFieldName, toReference }) {
            const list = existing as readonly Reference[];
            const open = (storeFieldArgs(storeFieldName).status ?? 'OPEN') === 'OPEN';
            if (!id || !open || task.assignee.id === me.id || list.some((r) => r.__ref === id)) return list;
            return [toReference(id)!, ...list];
          },
        },
      });
    },
  });
  const assign = useCallback((input: AssignTaskInput) => mutate({ variables: { input } }), [mutate]);
  return [assign, result] as const;
}
