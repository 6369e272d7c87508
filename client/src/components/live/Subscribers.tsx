import { useApolloClient } from '@apollo/client/react';
import { useAppointmentEvents, type AppointmentEvent, type LiveAppointment } from '../../hooks/useAppointmentEvents';
import { liveActivityOf } from '../../hooks/useLiveActivity';
import { useMessageEvents } from '../../hooks/useMessageEvents';
import { useNotificationEvents } from '../../hooks/useNotificationEvents';
import { useUnreadCountsSubscription } from '../../hooks/useUnreadCounts';
import { notificationHref } from '../notifications/NotificationItem';
import { useToasts } from '../notifications/Toasts';

/**
 * Render-nothing subscribers, mounted once by the app shell for the whole session: they keep the normalized cache
 * current whatever page is open (pages add their own handlers through the same hooks; Apollo shares the stream).
 */
export function AppointmentsSubscriber() {
  const client = useApolloClient();
  const record = (_appointment: LiveAppointment, event: AppointmentEvent) => liveActivityOf(client).record(event);
  useAppointmentEvents({ onCreated: record, onUpdated: record, onCancelled: record, onCheckIn: record });
  return null;
}

export function MessagesSubscriber() {
  useMessageEvents();
  return null;
}

export function UnreadCountsSubscriber() {
  useUnreadCountsSubscription();
  return null;
}

export function NotificationsSubscriber() {
  const toasts = useToasts();
  useNotificationEvents((notification) =>
    toasts.push({
      id: notification.id,
      title: notification.title,
      priority: notification.priority,
      href: notificationHref(notification),
      // Messages of one conversation fold into one toast ("3 new messages") instead of stacking up.
      ...(notification.kind === 'NEW_MESSAGE' && notification.thread
        ? { group: `thread:${notification.thread.id}`, groupNoun: 'new messages' }
        : {}),
    }),
  );
  return null;
}

export function LiveSubscribers() {
  return (
    <>
      <AppointmentsSubscriber />
      <MessagesSubscriber />
      <UnreadCountsSubscriber />
      <NotificationsSubscriber />
    </>
  );
}
