import type { ConnectionStore } from './connectionState';

export interface RetryPolicyOptions {
  /** Attempts after a lost connection, `waitMs` apart, before the app says "Offline". @default 10 */
  maxAttempts: number;
  /** Wait before each of those attempts, in milliseconds. @default 5000 */
  waitMs: number;
  /**
   * Once "Offline", the app keeps trying on its own, each wait twice the one before (from twice `waitMs`), at most
   * this long, in milliseconds. @default 60000
   */
  maxWaitMs: number;
}

export const DEFAULT_RETRY: RetryPolicyOptions = { maxAttempts: 10, waitMs: 5_000, maxWaitMs: 60_000 };

/**
 * graphql-ws's `retryWait`, with our policy: up to `maxAttempts` attempts `waitMs` apart ("Reconnecting (attempt n of
 * 10)"), then "Offline" while it goes on trying with growing waits (at most `maxWaitMs`). `reconnectNow()` (the
 * button, the browser's `online` event, the tab becoming visible) ends any wait and starts a fresh round of attempts.
 * graphql-ws itself is told to retry forever (`retryAttempts: Infinity`) so that it never errors the running
 * subscriptions: they wait in its retry loop and resume when a connection is made again.
 */
export function createRetryPolicy(
  store: ConnectionStore,
  {
    maxAttempts,
    waitMs,
    maxWaitMs = DEFAULT_RETRY.maxWaitMs,
  }: Omit<RetryPolicyOptions, 'maxWaitMs'> & Partial<RetryPolicyOptions>,
) {
  let attempts = 0;
  let wake: (() => void) | null = null;

  const sleep = async (ms: number): Promise<boolean> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const woken = await Promise.race([
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
      new Promise<boolean>((resolve) => (wake = () => resolve(true))),
    ]);
    clearTimeout(timer);
    wake = null;
    return woken;
  };

  return {
    async retryWait(): Promise<void> {
      if (attempts < maxAttempts) {
        store.waiting(attempts + 1, Date.now() + waitMs);
        if (await sleep(waitMs)) attempts = 0;
        attempts += 1;
        store.attempting(attempts);
        return;
      }
      const wait = Math.min(maxWaitMs, waitMs * 2 ** (attempts - maxAttempts + 1));
      store.gaveUp(Date.now() + wait);
      if (await sleep(wait)) {
        attempts = 1;
        store.attempting(1);
      } else {
        attempts += 1;
        store.tryingInBackground();
      }
    },
    /** The connection is up again: the next loss starts counting from one. */
    reset(): void {
      attempts = 0;
    },
    /** Try now: ends the wait between attempts, or the one while "Offline", and starts counting again. */
    reconnectNow(): void {
      wake?.();
    },
  };
}
