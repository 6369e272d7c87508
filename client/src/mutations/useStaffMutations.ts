import { useMutation } from '@apollo/client/react';
import { useCallback } from 'react';
import {
  CreateUserDocument,
  ResetSecondFactorDocument,
  UnlockAccountDocument,
  type CreateUserInput,
} from '../__generated__/graphql';

/**
 * An admin adds a staff member. Every list of staff (this page's, the pickers', by role or not) is read again: where
 * the new person belongs in each depends on its order and filter, which the server knows.
 */
export function useCreateUserMutation() {
  const [mutate, result] = useMutation(CreateUserDocument, {
    update: (cache) => cache.evict({ id: 'ROOT_QUERY', fieldName: 'staff' }),
  });
  const create = useCallback((input: CreateUserInput) => mutate({ variables: { input } }), [mutate]);
  return [create, result] as const;
}

/** An admin lifts the sign-in lock that failed attempts put on a staff member. */
export function useUnlockAccountMutation() {
  const [mutate, result] = useMutation(UnlockAccountDocument);
  const unlock = useCallback((userId: string) => mutate({ variables: { userId } }), [mutate]);
  return [unlock, result] as const;
}

/** An admin removes a staff member's second factor (a lost phone): their next sign-in needs the password only. */
export function useResetSecondFactorMutation() {
  const [mutate, result] = useMutation(ResetSecondFactorDocument);
  const reset = useCallback((userId: string) => mutate({ variables: { userId } }), [mutate]);
  return [reset, result] as const;
}
