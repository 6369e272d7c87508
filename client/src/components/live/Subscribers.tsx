import { useAppointmentEvents } from '../../hooks/useAppointmentEvents';
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
  useAppointmentEvents();
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
