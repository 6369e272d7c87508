import { useMutation } from '@apollo/client/react';
import { useCallback } from 'react';
import { CancelAppointmentDocument, type AppointmentCard_AppointmentFragment } from '../__generated__/graphql';

/** Cancels with a reason; the card shows as cancelled at once (the normalized appointment changes in place). */
export function useCancelAppointmentMutation() {
  const [mutate, result] = useMutation(CancelAppointmentDocument);
  const cancel = useCallback(
    (appointment: AppointmentCard_AppointmentFragment, reason: string) =>
      mutate({
        variables: { id: appointment.id, reason },
        optimisticResponse: {
          cancelAppointment: {
            ...appointment,
            status: 'CANCELLED',
            cancellationReason: reason,
            updatedAt: new Date().toISOString(),
          },
        },
      }),
    [mutate],
  );
  return [cancel, result] as const;
}
