import { useMutation } from '@apollo/client/react';
import { useCallback } from 'react';
import {
  CreatePatientDocument,
  UpdatePatientDocument,
  type CreatePatientInput,
  type UpdatePatientInput,
} from '../__generated__/graphql';

/** Registers a patient. Patient lists are read again (they are searched and paged on the server). */
export function useCreatePatientMutation() {
  const [mutate, result] = useMutation(CreatePatientDocument, { refetchQueries: ['PatientsPage'] });
  const create = useCallback((input: CreatePatientInput) => mutate({ variables: { input } }), [mutate]);
  return [create, result] as const;
}

/** Corrects a patient's details; the chart and every list showing the patient change with the normalized object. */
export function useUpdatePatientMutation() {
  const [mutate, result] = useMutation(UpdatePatientDocument);
  const update = useCallback((id: string, input: UpdatePatientInput) => mutate({ variables: { id, input } }), [mutate]);
  return [update, result] as const;
}
