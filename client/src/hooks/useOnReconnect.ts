import { useEffect, useRef } from 'react';
import { useSession } from '../session/SessionContext';

/** Runs `callback` each time the live link comes back after being lost (to re-read ephemeral state). */
export function useOnReconnect(callback: () => void): void {
  const { connection } = useSession().session.apollo;
  const latest = useRef(callback);
  latest.current = callback;
  useEffect(() => connection.onReconnected(() => latest.current()), [connection]);
}
