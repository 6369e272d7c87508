import type { PresenceStatus } from '../../__generated__/graphql';
import { useConnectionState } from '../../hooks/useConnectionState';
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
  // Without the live link, who is online is not known (and this user is offline to the others): show no stale list.
  const live = useConnectionState().status === 'connected';
  const others = live ? online.filter((p) => p.user.id !== me.id) : [];
  const mine = byUser.get(me.id)?.status ?? 'ONLINE';
  return (
    <section className="online-users" aria-labelledby="online-heading">
      <h2 id="online-heading" className="sidebar-heading">
        Online now {live && <span className="count">{others.length}</span>}
      </h2>
      {!live ? (
        <p className="sidebar-muted">Not known while live updates are off.</p>
      ) : error ? (
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
      <div className="status-select">
        <label htmlFor="my-status">Your status</label>
        <select
          id="my-status"
          value={live ? mine : 'OFFLINE'}
          disabled={!live}
          onChange={(e) => void setStatus(e.target.value as PresenceStatus).catch(() => {})}
        >
          {!live && <option value="OFFLINE">Offline</option>}
          <option value="ONLINE">Online</option>
          <option value="AWAY">Away</option>
          <option value="BUSY">Busy</option>
        </select>
      </div>
    </section>
  );
}
