import { useEffect, useState } from 'react';
import type { ConnectionState } from '../../apollo/connectionState';
import { useConnectionState } from '../../hooks/useConnectionState';
import { useSecondsUntil } from '../../lib/clock';
import { connectionLabel } from './connectionLabel';

/** What can be said about saving while the live link is down: only what the last HTTP request showed. */
export function savingNote(httpReachable: ConnectionState['httpReachable']): string {
  if (httpReachable === false) return 'The server cannot be reached: nothing can be saved until it answers again.';
  if (httpReachable === true) return "Changes you make are still saved; colleagues' changes show once this is back.";
  return "Colleagues' changes show once this is back.";
}

/**
 * The full picture, above the page: what is going on with live updates, what that means for saving (as far as the
 * app knows), when the next try is, and a button to try now. Shows nothing while connected, except "Back online" for
 * a moment after a reconnection.
 */
export function ConnectionStatusIndicator() {
  const state = useConnectionState();
  const seconds = useSecondsUntil(state.status === 'connected' ? null : state.nextAttemptAt);
  // "Back online" shows for 4 s after each reconnection: until the timer marks that reconnection as seen.
  const [seenReconnections, setSeenReconnections] = useState(0);
  useEffect(() => {
    const reconnections = state.reconnections;
    if (reconnections === 0) return;
    const timer = setTimeout(() => setSeenReconnections(reconnections), 4000);
    return () => clearTimeout(timer);
  }, [state.reconnections]);
  const backOnline = state.reconnections > seenReconnections;

  if (state.status === 'connected' || state.status === 'connecting') {
    if (state.status === 'connected' && backOnline) {
      return (
        <div className="connection-indicator connection-indicator-ok" role="status">
          <strong>Back online.</strong> Live updates are on again, including what changed while you were away.
        </div>
      );
    }
    return null;
  }

  const disconnected = state.status === 'disconnected';
  const next = seconds === null ? 'trying now…' : `next try in ${seconds} s.`;
  return (
    <div
      className={`connection-indicator ${disconnected ? 'connection-indicator-error' : 'connection-indicator-warn'}`}
      role="status"
      aria-live="polite"
    >
      <div>
        <strong>{disconnected ? 'Live updates are off.' : 'Live updates paused.'}</strong>{' '}
        {disconnected
          ? `The server did not answer ${state.maxAttempts} attempts; ${next}`
          : `${connectionLabel(state)}, ${next}`}{' '}
        {savingNote(state.httpReachable)}
      </div>
      <button type="button" className="button button-small" onClick={state.reconnect}>
        Reconnect now
      </button>
    </div>
  );
}
