import { NotificationAddedDocument, type NotificationAddedSubscription } from '../__generated__/graphql';
import { addNotification } from '../apollo/updates/notifications';
import { useCurrentUser } from '../session/SessionContext';
import { useLiveSubscription } from './useLiveSubscription';

export type NotificationEvent = NotificationAddedSubscription['notification'];
export type LiveNotification = NotificationEvent['notification'];

/**
 * The signed-in user's new notifications (task assignments, alerts, lab results, messages in threads they do not have
 * open), resumed without a gap after a reconnection. Each joins the cached notification list (and a task assigned to
 * the user joins their task list) before `handler` sees it.
 */
export function useNotificationEvents(
  handler?: (notification: LiveNotification, event: NotificationEvent) => void,
  { skip }: { skip?: boolean } = {},
): void {
  const me = useCurrentUser();
  useLiveSubscription(NotificationAddedDocument, {
    skip,
    onData: ({ notification: event }, client) => {
      addNotification(client.cache, event.notification, me.id);
      handler?.(event.notification, event);
    },
  });
}
