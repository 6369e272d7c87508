import { useSyncExternalStore } from 'react';
import type { ConnectionState } from '../apollo/connectionState';
import { useSession } from '../session/SessionContext';

/**
 * The live link's state (connecting, connected, reconnecting with attempt number, disconnected) and a manual reconnect.
 */
export function useConnectionState(): ConnectionState & { reconnect(): void } {
  const { apollo } = useSession().session;
  const state = useSyncExternalStore(apollo.connection.subscribe, apollo.connection.getSnapshot);
  return { ...state, reconnect: apollo.reconnect };
}
