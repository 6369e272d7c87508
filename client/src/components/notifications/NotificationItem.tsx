import { Link } from 'react-router';
import type { NotificationItem_NotificationFragment, NotificationKind } from '../../__generated__/graphql';
import { formatRelative } from '../../lib/time';
import { useMarkNotificationReadMutation } from '../../mutations/useMarkNotificationReadMutation';
import { useCurrentUser } from '../../session/SessionContext';

export const KIND_LABEL: Record<NotificationKind, string> = {
  TASK_ASSIGNED: 'Task',
  ALERT: 'Alert',
  LAB_RESULT: 'Lab result',
  NEW_MESSAGE: 'Message',
  ACCOUNT_LOCKED: 'Sign-in locked',
};

/** Where a notification leads: its thread, task list or patient; a locked sign-in, the staff page (to unlock it). */
export function notificationHref(
  n: Pick<NotificationItem_NotificationFragment, 'kind' | 'task' | 'thread' | 'patient'>,
): string | undefined {
  if (n.kind === 'ACCOUNT_LOCKED') return '/staff';
  if (n.thread) return `/messages/${n.thread.id}`;
  if (n.task) return '/tasks';
  if (n.patient) return `/patients/${n.patient.id}`;
  return undefined;
}

export function NotificationItem({ notification }: { notification: NotificationItem_NotificationFragment }) {
  const { tenant } = useCurrentUser();
  const [markRead] = useMarkNotificationReadMutation();
  const href = notificationHref(notification);
  const unread = !notification.readAt;
  return (
    <li
      className={`notification-item ${unread ? 'is-unread' : ''}`}
      aria-label={`${unread ? 'Unread' : 'Read'}: ${notification.title}`}
    >
      <span
        className={`priority-mark priority-${notification.priority.toLowerCase()}`}
        title={`${notification.priority.toLowerCase()} priority`}
      />
      <div className="notification-main">
        <div className="notification-meta">
          <span className="kind-chip">{KIND_LABEL[notification.kind]}</span>
          {notification.priority === 'URGENT' && <span className="kind-chip kind-chip-urgent">Urgent</span>}
          <time dateTime={notification.createdAt}>{formatRelative(notification.createdAt, tenant.timeZone)}</time>
        </div>
        <p className="notification-title">
          {href ? (
            <Link to={href} onClick={() => void markRead(notification)}>
              {notification.title}
            </Link>
          ) : (
            notification.title
          )}
        </p>
        {notification.patient && <p className="notification-sub">Patient: {notification.patient.displayName}</p>}
      </div>
      {unread ? (
        <button
          type="button"
          className="button button-ghost button-small"
          onClick={() => void markRead(notification)}
          aria-label={`Mark as read: ${notification.title}`}
        >
          Mark as read
        </button>
      ) : (
        <span className="read-label">Read</span>
      )}
    </li>
  );
}
