import { useMutation } from '@apollo/client/react';
import { useCallback } from 'react';
import { CheckInAppointmentDocument, type AppointmentCard_AppointmentFragment } from '../__generated__/graphql';

/** Checks the patient in; the card turns "checked in" at once. */
export function useCheckInAppointmentMutation() {
  const [mutate, result] = useMutation(CheckInAppointmentDocument);
  const checkIn = useCallback(
    (appointment: AppointmentCard_AppointmentFragment) => {
      const now = new Date().toISOString();
      return mutate({
        variables: { id: appointment.id },
        optimisticResponse: {
          checkInAppointment: { ...appointment, status: 'CHECKED_IN', checkedInAt: now, updatedAt: now },
        },
      });
    },
    [mutate],
  );
  return [checkIn, result] as const;
}
