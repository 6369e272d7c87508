import { DEFAULT_RETRY, type RetryPolicyOptions } from './retryPolicy';

/** How the live link paces itself. Production uses the defaults; tests shorten them (see `readTimingOverride`). */
export interface ConnectionTiming extends RetryPolicyOptions {
  /** The client pings this often (ms) while connected. @default 8000 */
  keepAliveMs: number;
  /**
   * A ping whose pong is this late (ms) means the link is silently gone (Wi-Fi dropped without a close): the socket
   * is dropped and the retry policy takes over. With `keepAliveMs` this bounds how long "Live" can be wrong: 13 s.
   * @default 5000
   */
  pongTimeoutMs: number;
  /**
   * An attempt whose socket has not opened this long after it started (ms) is dropped and counted as failed: on a
   * dead network a connection attempt can hang with no error at all. @default 10000
   */
  connectTimeoutMs: number;
  /**
   * A query that failed because the server could not be reached is not sent again for this long (ms): the same query
   * asked again meanwhile fails at once (`FailedQueryLink`). Forgotten as soon as the live link is back. @default 2000
   */
  failedQueryWindowMs: number;
}

export const DEFAULT_TIMING: ConnectionTiming = {
  ...DEFAULT_RETRY,
  keepAliveMs: 8_000,
  pongTimeoutMs: 5_000,
  connectTimeoutMs: 10_000,
  failedQueryWindowMs: 2_000,
};

/**
 * Where a browser may keep its own timing: JSON with any of the fields of `ConnectionTiming`, for example
 * `localStorage.setItem('derm-realtime.connection-timing', '{"waitMs":300,"maxWaitMs":1000}')`. The browser tests
 * set it before the app loads, so that "Offline" and back takes seconds rather than minutes, against the same
 * production build. Values that are not whole numbers within bounds are ignored.
 */
export const TIMING_STORAGE_KEY = 'derm-realtime.connection-timing';

const BOUNDS: Record<keyof ConnectionTiming, [number, number]> = {
  maxAttempts: [1, 100],
  waitMs: [50, 600_000],
  maxWaitMs: [50, 3_600_000],
  keepAliveMs: [100, 600_000],
  pongTimeoutMs: [100, 600_000],
  connectTimeoutMs: [100, 600_000],
  failedQueryWindowMs: [0, 600_000],
};

/** The override stored in this browser, if any (see `TIMING_STORAGE_KEY`). */
export function readTimingOverride(storage: Pick<Storage, 'getItem'> | undefined): Partial<ConnectionTiming> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(storage?.getItem(TIMING_STORAGE_KEY) ?? 'null');
  } catch {
    return {};
  }
  if (!parsed || typeof parsed !== 'object') return {};
  const timing: Partial<ConnectionTiming> = {};
  for (const [key, [min, max]] of Object.entries(BOUNDS) as [keyof ConnectionTiming, [number, number]][]) {
    const value = (parsed as Record<string, unknown>)[key];
    if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) timing[key] = value;
  }
  return timing;
}
