import { useQuery } from '@apollo/client/react';
import { NotificationsPageDocument } from '../__generated__/graphql';
import { NotificationItem } from '../components/notifications/NotificationItem';
import { Empty, ErrorNotice, Loading } from '../components/ui/Empty';
import { errorMessage } from '../components/ui/errors';
import { useUnreadCounts } from '../hooks/useUnreadCounts';
import { useMarkAllNotificationsReadMutation } from '../mutations/useMarkNotificationReadMutation';

export function NotificationsPage() {
  const { data, loading, error } = useQuery(NotificationsPageDocument, { fetchPolicy: 'cache-and-network' });
  const { notifications: unread } = useUnreadCounts();
  const [markAll, { loading: marking }] = useMarkAllNotificationsReadMutation();
  const list = data?.notifications ?? [];
  return (
    <div className="page">
      <header className="page-header">
        <div>
          <h1>Notifications</h1>
          <p className="page-sub">{unread ? `${unread} unread` : 'All read'}</p>
        </div>
        <button type="button" className="button" onClick={() => void markAll()} disabled={!unread || marking}>
          Mark all as read
        </button>
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
    </div>
  );
}
