import { useMutation } from '@apollo/client/react';
import { useCallback } from 'react';
import { UpdateAppointmentDocument, type AppointmentCard_AppointmentFragment } from '../__generated__/graphql';
import { placeAppointment } from '../apollo/updates/appointments';
import { useCurrentUser } from '../session/SessionContext';

export interface Reschedule {
  startsAt: string;
  endsAt: string;
  provider: { id: string; name: string };
  room?: string | null;
}

/** Moves an appointment (time, provider, room); the card moves at once and lands in whichever day it now belongs to. */
export function useRescheduleAppointmentMutation() {
  const { tenant } = useCurrentUser();
  const [mutate, result] = useMutation(UpdateAppointmentDocument, {
    update(cache, { data }) {
      if (data) placeAppointment(cache, data.updateAppointment, tenant.timeZone);
    },
  });
  const reschedule = useCallback(
    (appointment: AppointmentCard_AppointmentFragment, change: Reschedule) =>
      mutate({
        variables: {
          id: appointment.id,
          input: {
            startsAt: change.startsAt,
            endsAt: change.endsAt,
            providerId: change.provider.id,
            ...(change.room !== undefined ? { room: change.room ?? '' } : {}),
          },
        },
        optimisticResponse: {
          updateAppointment: {
            ...appointment,
            startsAt: change.startsAt,
            endsAt: change.endsAt,
            room: change.room !== undefined ? change.room || null : appointment.room,
            provider: { __typename: 'User', ...change.provider },
            updatedAt: new Date().toISOString(),
          },
        },
      }),
    [mutate],
  );
  return [reschedule, result] as const;
}
