import { useEffect, useState } from 'react';
import { useConnectionState } from '../../hooks/useConnectionState';
import { connectionLabel } from './connectionLabel';

function useNow(active: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [active]);
  return now;
}

/**
 * The full picture, above the page: what is going on with live updates, that work is still saved meanwhile, and a
 * button to try now. Shows nothing while connected, except "Back online" for a moment after a reconnection.
 */
export function ConnectionStatusIndicator() {
  const state = useConnectionState();
  const now = useNow(state.nextAttemptAt !== null);
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

  const seconds = state.nextAttemptAt ? Math.max(0, Math.ceil((state.nextAttemptAt - now) / 1000)) : null;
  const disconnected = state.status === 'disconnected';
  return (
    <div
      className={`connection-indicator ${disconnected ? 'connection-indicator-error' : 'connection-indicator-warn'}`}
      role="status"
      aria-live="polite"
    >
      <div>
        <strong>{disconnected ? 'Live updates are off.' : 'Live updates paused.'}</strong>{' '}
        {disconnected
          ? `The server could not be reached after ${state.maxAttempts} attempts.`
          : `${connectionLabel(state)}${seconds !== null ? `, next try in ${seconds} s` : '…'}.`}{' '}
        Changes you make are still saved.
      </div>
      <button type="button" className="button button-small" onClick={state.reconnect}>
        {disconnected ? 'Reconnect' : 'Reconnect now'}
      </button>
    </div>
  );
}
