import { useEffect, useEffectEvent } from 'react';
import { useSession } from '../session/SessionContext';

/** Runs `callback` each time the live link comes back after being lost (to re-read ephemeral state). */
export function useOnReconnect(callback: () => void): void {
  const { connection } = useSession().session.apollo;
  const onReconnected = useEffectEvent(callback);
  useEffect(() => connection.onReconnected(() => onReconnected()), [connection]);
}
