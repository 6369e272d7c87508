import { NavLink } from 'react-router';
import type { ThreadListItem_ThreadFragment } from '../../__generated__/graphql';
import { formatRelative } from '../../lib/time';
import { useCurrentUser } from '../../session/SessionContext';

export function ThreadListItem({ thread }: { thread: ThreadListItem_ThreadFragment }) {
  const me = useCurrentUser();
  const others = thread.participants.filter((p) => p.id !== me.id).map((p) => p.name);
  const last = thread.lastMessage;
  const unread = thread.unreadCount;
  return (
    <li>
      <NavLink
        to={`/messages/${thread.id}`}
        className={({ isActive }) => `thread-item ${isActive ? 'is-active' : ''} ${unread ? 'is-unread' : ''}`}
      >
        <div className="thread-item-top">
          <span className="thread-subject">{thread.subject}</span>
          <time dateTime={thread.lastActivityAt}>{formatRelative(thread.lastActivityAt, me.tenant.timeZone)}</time>
        </div>
        <div className="thread-item-bottom">
          <span className="thread-preview">
            {last
              ? `${last.sender.id === me.id ? 'You' : last.sender.name}: ${last.body}`
              : `With ${others.join(', ')}`}
          </span>
          {unread > 0 && (
            <span className="unread-badge" data-testid="thread-unread">
              {unread} <span className="visually-hidden">unread</span>
            </span>
          )}
        </div>
      </NavLink>
    </li>
  );
}
