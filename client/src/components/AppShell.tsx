import { NavLink, Outlet } from 'react-router';
import { useUnreadCounts } from '../hooks/useUnreadCounts';
import { useSession } from '../session/SessionContext';
import { ConnectionStatusBadge } from './connection/ConnectionStatusBadge';
import { ConnectionStatusIndicator } from './connection/ConnectionStatusIndicator';
import { LiveSubscribers } from './live/Subscribers';
import { OnlineUsers } from './presence/OnlineUsers';
import { Avatar } from './ui/Avatar';

const ROLE_LABEL = { ADMIN: 'Administrator', PROVIDER: 'Provider', NURSE: 'Nurse', FRONT_DESK: 'Front desk' } as const;

function NavItem({ to, label, count }: { to: string; label: string; count?: number }) {
  return (
    <li>
      <NavLink to={to} className={({ isActive }) => `nav-link ${isActive ? 'is-active' : ''}`}>
        <span>{label}</span>
        {count ? (
          <span className="nav-count" aria-label={`${count} unread`}>
            {count > 99 ? '99+' : count}
          </span>
        ) : null}
      </NavLink>
    </li>
  );
}

/** The frame of every signed-in page: navigation with live badges, connection status, who is online. */
export function AppShell() {
  const { session, signOut } = useSession();
  const { user } = session;
  const counts = useUnreadCounts();
  return (
    <div className="shell">
      <LiveSubscribers />
      <aside className="sidebar">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true" />
          <div>
            <p className="brand-name">{user.tenant.name}</p>
            <ConnectionStatusBadge />
          </div>
        </div>
        <nav aria-label="Main">
          <ul className="nav-list">
            <NavItem to="/schedule" label="Schedule" />
            <NavItem to="/messages" label="Messages" count={counts.messages} />
            <NavItem to="/patients" label="Patients" />
            <NavItem to="/tasks" label="Tasks" />
            <NavItem to="/notifications" label="Notifications" count={counts.notifications} />
          </ul>
        </nav>
        <OnlineUsers />
        <div className="me">
          <Avatar id={user.id} name={user.name} size={32} />
          <div className="me-text">
            <p className="me-name">{user.name}</p>
            <p className="me-role">{ROLE_LABEL[user.role]}</p>
          </div>
          <button type="button" className="button button-ghost button-small" onClick={signOut}>
            Sign out
          </button>
        </div>
      </aside>
      <main className="main">
        <ConnectionStatusIndicator />
        <Outlet />
      </main>
    </div>
  );
}
