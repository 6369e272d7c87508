import { useState } from 'react';
import { NavLink, Outlet } from 'react-router';
import { useUnreadCounts } from '../hooks/useUnreadCounts';
import { ROLE_LABEL } from '../lib/roles';
import { useSession } from '../session/SessionContext';
import { ConnectionStatusBadge } from './connection/ConnectionStatusBadge';
import { ConnectionStatusIndicator } from './connection/ConnectionStatusIndicator';
import { LiveSubscribers } from './live/Subscribers';
import { ToastHost } from './notifications/Toasts';
import { OnlineUsers } from './presence/OnlineUsers';
import { Avatar } from './ui/Avatar';

function NavItem({ to, label, count, onNavigate }: { to: string; label: string; count?: number; onNavigate(): void }) {
  return (
    <li>
      <NavLink to={to} className={({ isActive }) => `nav-link ${isActive ? 'is-active' : ''}`} onClick={onNavigate}>
        <span>{label}</span>
        {count ? (
          <span className="nav-count">
            {count > 99 ? '99+' : count} <span className="visually-hidden">unread</span>
          </span>
        ) : null}
      </NavLink>
    </li>
  );
}

/**
 * The frame of every signed-in page: navigation with live badges, connection status, who is online; then the page,
 * and below it the tray where toasts take their own room (they never cover a control). On a narrow screen (a phone)
 * the navigation folds into a top bar with a Menu button, and the page gets the whole width.
 */
export function AppShell() {
  const { session, signOut } = useSession();
  const { user } = session;
  const counts = useUnreadCounts();
  const [menuOpen, setMenuOpen] = useState(false);
  const close = () => setMenuOpen(false);
  const unread = counts.messages + counts.notifications;
  return (
    <div className={`shell ${menuOpen ? 'menu-open' : ''}`}>
      <LiveSubscribers />
      <aside className="sidebar" aria-label="Clinic">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true" />
          <div className="brand-text">
            <p className="brand-name">{user.tenant.name}</p>
            <ConnectionStatusBadge />
          </div>
          <button
            type="button"
            className="menu-button"
            aria-expanded={menuOpen}
            aria-controls="sidebar-body"
            onClick={() => setMenuOpen((open) => !open)}
          >
            {menuOpen ? 'Close' : 'Menu'}
            {!menuOpen && unread > 0 && (
              <span className="nav-count">
                {unread > 99 ? '99+' : unread} <span className="visually-hidden">unread</span>
              </span>
            )}
          </button>
        </div>
        <div
          className="sidebar-body"
          id="sidebar-body"
          onKeyDown={(e) => {
            if (e.key === 'Escape') close();
          }}
        >
          <nav aria-label="Main">
            <ul className="nav-list">
              <NavItem to="/schedule" label="Schedule" onNavigate={close} />
              <NavItem to="/messages" label="Messages" count={counts.messages} onNavigate={close} />
              <NavItem to="/patients" label="Patients" onNavigate={close} />
              <NavItem to="/tasks" label="Tasks" onNavigate={close} />
              <NavItem to="/notifications" label="Notifications" count={counts.notifications} onNavigate={close} />
              {user.role === 'ADMIN' && <NavItem to="/staff" label="Staff" onNavigate={close} />}
              {user.role === 'ADMIN' && <NavItem to="/dashboard" label="Connections" onNavigate={close} />}
              {user.role === 'ADMIN' && <NavItem to="/audit" label="Access audit" onNavigate={close} />}
            </ul>
          </nav>
          <OnlineUsers />
          <div className="me">
            <Avatar id={user.id} name={user.name} size={32} />
            <div className="me-text">
              <p className="me-name">{user.name}</p>
              <p className="me-role">{ROLE_LABEL[user.role]}</p>
            </div>
            <button type="button" className="button button-ghost button-small" onClick={() => signOut()}>
              Sign out
            </button>
          </div>
          <div className="me-more">
            <NavLink to="/account" className="link-button" onClick={close}>
              Account and two-step verification
            </NavLink>
            <button type="button" className="link-button" onClick={() => signOut({ everywhere: true })}>
              Sign out on every device
            </button>
          </div>
        </div>
      </aside>
      <main className="main">
        <ConnectionStatusIndicator />
        <Outlet />
        <ToastHost className="toast-tray" />
      </main>
    </div>
  );
}
