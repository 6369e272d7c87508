import { useMutation } from '@apollo/client/react';
import { useCallback } from 'react';
import { CreateAppointmentDocument, type CreateAppointmentInput } from '../__generated__/graphql';
import { placeAppointment } from '../apollo/updates/appointments';
import { optimisticId } from '../lib/tempId';
import { useCurrentUser } from '../session/SessionContext';

export interface AppointmentDisplay {
  provider: { id: string; name: string };
  patient: { id: string; displayName: string; mrn: string };
}

/**
 * Books an appointment. The card shows at once (optimistic), and the result joins its day in the cache; when the
 * subscription echoes the booking back, it is the same id and nothing is added twice.
 */
export function useCreateAppointmentMutation() {
  const { tenant } = useCurrentUser();
  const [mutate, result] = useMutation(CreateAppointmentDocument, {
    update(cache, { data }) {
      if (data) placeAppointment(cache, data.createAppointment, tenant.timeZone);
    },
  });
  const create = useCallback(
    (input: CreateAppointmentInput, display: AppointmentDisplay) =>
      mutate({
        variables: { input },
        optimisticResponse: {
          createAppointment: {
            __typename: 'Appointment',
            id: optimisticId(),
            startsAt: input.startsAt,
            endsAt: input.endsAt,
            room: input.room ?? null,
            reason: input.reason ?? null,
            status: 'SCHEDULED',
            cancellationReason: null,
            checkedInAt: null,
            updatedAt: new Date().toISOString(),
            provider: { __typename: 'User', ...display.provider },
            patient: { __typename: 'Patient', ...display.patient },
          },
        },
      }),
    [mutate],
  );
  return [create, result] as const;
}
