import type { ApolloCache } from '@apollo/client';
import { useMutation } from '@apollo/client/react';
import { useCallback } from 'react';
import {
  ConfirmTotpEnrolmentDocument,
  DisableSecondFactorDocument,
  RequireSecondFactorDocument,
  SecondFactorStatusDocument,
  StartTotpEnrolmentDocument,
  type SecondFactorStatusFieldsFragment,
} from '../__generated__/graphql';

/** The status has no id: what a mutation answers replaces the one cached under `secondFactor`. */
function writeStatus(cache: ApolloCache, status: SecondFactorStatusFieldsFragment | undefined) {
  if (status) cache.writeQuery({ query: SecondFactorStatusDocument, data: { secondFactor: status } });
}

/** A new TOTP secret for the signed-in user, pending until confirmed. */
export function useStartTotpEnrolmentMutation() {
  const [mutate, result] = useMutation(StartTotpEnrolmentDocument);
  const start = useCallback(() => mutate(), [mutate]);
  return [start, result] as const;
}

/** Turns the pending factor on with a code; the answer's recovery codes are shown once by the caller. */
export function useConfirmTotpEnrolmentMutation() {
  const [mutate, result] = useMutation(ConfirmTotpEnrolmentDocument, {
    update: (cache, { data }) => writeStatus(cache, data?.confirmTotpEnrolment.status),
  });
  const confirm = useCallback((code: string) => mutate({ variables: { code } }), [mutate]);
  return [confirm, result] as const;
}

/** Turns the signed-in user's factor off with a current code or a recovery code. */
export function useDisableSecondFactorMutation() {
  const [mutate, result] = useMutation(DisableSecondFactorDocument, {
    update: (cache, { data }) => writeStatus(cache, data?.disableSecondFactor),
  });
  const disable = useCallback((code: string) => mutate({ variables: { code } }), [mutate]);
  return [disable, result] as const;
}

/** An admin requires (or stops requiring) a second factor of the whole clinic. */
export function useRequireSecondFactorMutation() {
  const [mutate, result] = useMutation(RequireSecondFactorDocument, {
    refetchQueries: ['SecondFactorStatus'],
    awaitRefetchQueries: true,
  });
  const require = useCallback((required: boolean) => mutate({ variables: { required } }), [mutate]);
  return [require, result] as const;
}
