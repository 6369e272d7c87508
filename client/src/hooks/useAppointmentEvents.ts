import { AppointmentChangedDocument, type AppointmentChangedSubscription } from '../__generated__/graphql';
import { placeAppointment } from '../apollo/updates/appointments';
import { useCurrentUser } from '../session/SessionContext';
import { useLiveSubscription } from './useLiveSubscription';

export type AppointmentEvent = AppointmentChangedSubscription['appointmentChanged'];
export type LiveAppointment = AppointmentEvent['appointment'];
type Handler = (appointment: LiveAppointment, event: AppointmentEvent) => void;

export interface AppointmentEventHandlers {
  onCreated?: Handler;
  onUpdated?: Handler;
  onCancelled?: Handler;
  onCheckIn?: Handler;
}

/**
 * Bookings, changes, cancellations and check-ins in the clinic (optionally one provider's), resumed without a gap
 * after a reconnection. Each event is applied to the cache first (see `placeAppointment`), then handed to the handler
 * of its kind.
 */
export function useAppointmentEvents(
  handlers: AppointmentEventHandlers = {},
  { providerId, skip }: { providerId?: string; skip?: boolean } = {},
): void {
  const { tenant } = useCurrentUser();
  useLiveSubscription(AppointmentChangedDocument, {
    variables: providerId ? { providerId } : {},
    skip,
    onData: ({ appointmentChanged: event }, client) => {
      placeAppointment(client.cache, event.appointment, tenant.timeZone);
      const handler = {
        CREATED: handlers.onCreated,
        UPDATED: handlers.onUpdated,
        CANCELLED: handlers.onCancelled,
        CHECKED_IN: handlers.onCheckIn,
      }[event.kind];
      handler?.(event.appointment, event);
    },
  });
}
