import { useCallback, useSyncExternalStore } from 'react';

const subscribeTicks = (onTick: () => void) => {
  const timer = setInterval(onTick, 250);
  return () => clearInterval(timer);
};
const never = () => () => {};

/**
 * Whole seconds left until `at` (epoch ms; 0 once past), or null without a target. Read from the clock at every
 * render and re-rendered as it changes, so a countdown never starts from a stale "now".
 */
export function useSecondsUntil(at: number | null): number | null {
  const read = useCallback(() => (at === null ? null : Math.max(0, Math.ceil((at - Date.now()) / 1000))), [at]);
  return useSyncExternalStore(at === null ? never : subscribeTicks, read);
}
