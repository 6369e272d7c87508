import type { PresenceStatus } from '../../__generated__/graphql';
import { usePresenceEvents } from '../../hooks/usePresenceEvents';
import { useCurrentUser } from '../../session/SessionContext';
import { Avatar } from '../ui/Avatar';

const STATUS_LABEL: Record<PresenceStatus, string> = {
  ONLINE: 'Online',
  AWAY: 'Away',
  BUSY: 'Busy',
  OFFLINE: 'Offline',
};

/** Colleagues online now (live), and one's own status. */
export function OnlineUsers() {
  const me = useCurrentUser();
  const { online, byUser, setStatus, error } = usePresenceEvents();
  const others = online.filter((p) => p.user.id !== me.id);
  const mine = byUser.get(me.id)?.status ?? 'ONLINE';
  return (
    <section className="online-users" aria-labelledby="online-heading">
      <h2 id="online-heading" className="sidebar-heading">
        Online now <span className="count">{others.length}</span>
      </h2>
      {error ? (
        <p className="sidebar-muted">Presence is unavailable.</p>
      ) : others.length === 0 ? (
        <p className="sidebar-muted">No colleagues online.</p>
      ) : (
        <ul className="online-list" aria-label="Colleagues online">
          {others.map((p) => (
            <li key={p.user.id} className="online-user">
              <Avatar id={p.user.id} name={p.user.name} size={24} status={p.status} />
              <span className="online-name">{p.user.name}</span>
              {p.status !== 'ONLINE' && <span className="online-status">{STATUS_LABEL[p.status]}</span>}
            </li>
          ))}
        </ul>
      )}
      <label className="status-select">
        <span>Your status</span>
        <select
          value={mine}
          onChange={(e) => void setStatus(e.target.value as PresenceStatus).catch(() => {})}
          aria-label="Your status"
        >
          <option value="ONLINE">Online</option>
          <option value="AWAY">Away</option>
          <option value="BUSY">Busy</option>
        </select>
      </label>
    </section>
  );
}
