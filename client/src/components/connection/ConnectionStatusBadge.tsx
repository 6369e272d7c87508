import { useConnectionState } from '../../hooks/useConnectionState';
import { connectionLabel } from './connectionLabel';

/** Compact, for the navigation: a dot and a few words ("Live", "Reconnecting (attempt 3 of 10)", "Offline"). */
export function ConnectionStatusBadge() {
  const state = useConnectionState();
  const label = connectionLabel(state);
  return (
    <span
      className={`connection-badge connection-${state.status}`}
      role="status"
      aria-live="polite"
      aria-label={`Connection: ${label}`}
      data-testid="connection-badge"
    >
      <span className="connection-dot" aria-hidden="true" />
      <span className="connection-text">{label}</span>
    </span>
  );
}
