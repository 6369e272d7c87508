import { useMutation } from '@apollo/client/react';
import { useCallback } from 'react';
import {
  UpdateAppointmentDocument,
  type AppointmentCard_AppointmentFragment,
  type AppointmentStatus,
} from '../__generated__/graphql';
import { placeAppointment } from '../apollo/updates/appointments';
import { useCurrentUser } from '../session/SessionContext';

export interface AppointmentEdit {
  startsAt: string;
  endsAt: string;
  provider: { id: string; name: string };
  patient: { id: string; displayName: string; mrn: string };
  room: string;
  reason: string;
}

/**
 * Edits an appointment (time, provider, patient, room, reason); the card changes at once and lands in whichever day
 * it now belongs to.
 */
export function useEditAppointmentMutation() {
  const { tenant } = useCurrentUser();
  const [mutate, result] = useMutation(UpdateAppointmentDocument, {
    update(cache, { data }) {
      if (data) placeAppointment(cache, data.updateAppointment, tenant.timeZone);
    },
  });
  const edit = useCallback(
    (appointment: AppointmentCard_AppointmentFragment, change: AppointmentEdit) =>
      mutate({
        variables: {
          id: appointment.id,
          input: {
            startsAt: change.startsAt,
            endsAt: change.endsAt,
            providerId: change.provider.id,
            patientId: change.patient.id,
            room: change.room,
            reason: change.reason,
          },
        },
        optimisticResponse: {
          updateAppointment: {
            ...appointment,
            startsAt: change.startsAt,
            endsAt: change.endsAt,
            room: change.room.trim() || null,
            reason: change.reason.trim() || null,
            provider: { __typename: 'User', ...change.provider },
            patient: { __typename: 'Patient', ...change.patient },
            updatedAt: new Date().toISOString(),
          },
        },
      }),
    [mutate],
  );
  return [edit, result] as const;
}

/** Moves a visit along its day: in progress, completed, no-show (or back to scheduled). The card changes at once. */
export function useSetAppointmentStatusMutation() {
  const [mutate, result] = useMutation(UpdateAppointmentDocument);
  const setStatus = useCallback(
    (appointment: AppointmentCard_AppointmentFragment, status: AppointmentStatus) =>
      mutate({
        variables: { id: appointment.id, input: { status } },
        optimisticResponse: {
          updateAppointment: { ...appointment, status, updatedAt: new Date().toISOString() },
        },
      }),
    [mutate],
  );
  return [setStatus, result] as const;
}
