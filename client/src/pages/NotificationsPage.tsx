import { useQuery } from '@apollo/client/react';
import { useState } from 'react';
import { NotificationsPageDocument } from '../__generated__/graphql';
import { NotificationItem } from '../components/notifications/NotificationItem';
import { CAN_SEND_ALERTS, SendAlertDialog } from '../components/notifications/SendAlertDialog';
import { useToasts } from '../components/notifications/Toasts';
import { Empty, ErrorNotice, Loading } from '../components/ui/Empty';
import { errorMessage } from '../components/ui/errors';
import { useUnreadCounts } from '../hooks/useUnreadCounts';
import { useMarkAllNotificationsReadMutation } from '../mutations/useMarkNotificationReadMutation';
import { useCurrentUser } from '../session/SessionContext';

export function NotificationsPage() {
  const { data, loading, error } = useQuery(NotificationsPageDocument, { fetchPolicy: 'cache-and-network' });
  const { notifications: unread } = useUnreadCounts();
  const [markAll, { loading: marking }] = useMarkAllNotificationsReadMutation();
  const list = data?.notifications ?? [];
  const { role } = useCurrentUser();
  const [sending, setSending] = useState(false);
  const toasts = useToasts();
  return (
    <div className="page">
      <header className="page-header">
        <div>
          <h1>Notifications</h1>
          <p className="page-sub">{unread ? `${unread} unread` : 'All read'}</p>
        </div>
        <div className="toolbar">
          <button type="button" className="button" onClick={() => void markAll()} disabled={!unread || marking}>
            Mark all as read
          </button>
          {CAN_SEND_ALERTS.includes(role) && (
            <button type="button" className="button button-primary" onClick={() => setSending(true)}>
              Send an alert
            </button>
          )}
        </div>
      </header>
      {error && !data && <ErrorNotice>{errorMessage(error)}</ErrorNotice>}
      {loading && !data ? (
        <Loading />
      ) : list.length === 0 ? (
        <Empty title="No notifications">Task assignments, alerts and lab results arrive here live.</Empty>
      ) : (
        <ul className="card-list" aria-label="Notifications">
          {list.map((n) => (
            <NotificationItem key={n.id} notification={n} />
          ))}
        </ul>
      )}
      {sending && (
        <SendAlertDialog
          onClose={() => setSending(false)}
          onSent={() => {
            setSending(false);
            toasts.push({ id: `sent-${Date.now()}`, title: 'Alert sent', priority: 'LOW' });
          }}
        />
      )}
    </div>
  );
}
