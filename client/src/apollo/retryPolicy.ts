import type { ConnectionStore } from './connectionState';

export interface RetryPolicyOptions {
  /** Attempts after a lost connection before giving up. @default 10 */
  maxAttempts: number;
  /** Wait before each attempt, in milliseconds. @default 5000 */
  waitMs: number;
}

export const DEFAULT_RETRY: RetryPolicyOptions = { maxAttempts: 10, waitMs: 5_000 };

/**
 * graphql-ws's `retryWait`, with our policy: up to `maxAttempts` attempts `waitMs` apart, then "disconnected" until
 * `reconnectNow()`. graphql-ws itself is told to retry forever (`retryAttempts: Infinity`) so that it never errors
 * the running subscriptions: they wait in its retry loop and resume when a connection is made again.
 */
export function createRetryPolicy(store: ConnectionStore, { maxAttempts, waitMs }: RetryPolicyOptions) {
  let attempts = 0;
  let wake: (() => void) | null = null;
  const woken = () => new Promise<void>((resolve) => (wake = resolve));

  return {
    async retryWait(): Promise<void> {
      if (attempts >= maxAttempts) {
        store.gaveUp();
        await woken();
        attempts = 0;
      } else {
        const at = Date.now() + waitMs;
        store.waiting(attempts + 1, at);
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs))), woken()]);
        clearTimeout(timer);
      }
      wake = null;
      attempts += 1;
      store.attempting(attempts);
    },
    /** The connection is up again: the next loss starts counting from one. */
    reset(): void {
      attempts = 0;
    },
    /** Try now: ends the wait between attempts, or leaves the "disconnected" state. */
    reconnectNow(): void {
      wake?.();
    },
  };
}
