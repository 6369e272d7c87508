import { createClient, type Client, type FormattedExecutionResult } from 'graphql-ws';
import WebSocket from 'ws';

export interface Collected<T = Record<string, any>> {
  /** Every result received so far, in order. */
  results: FormattedExecutionResult<T, unknown>[];
  /** Resolves once `count` results have arrived (or rejects after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<FormattedExecutionResult<T, unknown>[]>;
  /** Resolves when the server completed the operation. */
  completed: Promise<void>;
  /** Rejects with what the server sent as an `error` message. */
  failed: Promise<unknown>;
  stop(): void;
}

export interface WsOptions {
  token?: string | null;
  origin?: string;
  /** Resolves with the close event when the socket closes. */
  onClosed?: (event: { code: number; reason: string }) => void;
  /** Called when the server acknowledges the connection (its authentication and open hooks have run). */
  onConnected?: () => void;
  retryAttempts?: number;
}

/** A real graphql-ws client over a real WebSocket. */
export function wsClient(
  httpUrl: string,
  { token, origin, onClosed, onConnected, retryAttempts = 0 }: WsOptions = {},
): Client {
  const url = httpUrl.replace(/^http/, 'ws') + '/graphql';
  return createClient({
    url,
    webSocketImpl: class extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols, origin ? { headers: { origin } } : {});
      }
    },
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts,
    lazy: false,
    // Tests watch closes through `on.closed`; without this the client also prints every close to the console.
    onNonLazyError: () => {},
    on: {
      closed: (event) => onClosed?.(event as { code: number; reason: string }),
      connected: () => onConnected?.(),
    },
  });
}

/** Subscribes and collects what arrives. */
export function collect<T = Record<string, any>>(
  client: Client,
  query: string,
  variables: Record<string, unknown> = {},
): Collected<T> {
  const results: FormattedExecutionResult<T, unknown>[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  let resolveCompleted!: () => void;
  let rejectFailed!: (e: unknown) => void;
  const completed = new Promise<void>((r) => (resolveCompleted = r));
  const failed = new Promise<unknown>((_, reject) => (rejectFailed = reject));
  failed.catch(() => {});
  const stop = client.subscribe<T>(
    { query, variables },
    {
      next: (result) => {
        results.push(result);
        for (const w of waiters.filter((w) => results.length >= w.count)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      },
      error: (err) => rejectFailed(err),
      complete: () => resolveCompleted(),
    },
  );
  return {
    results,
    completed,
    failed,
    stop,
    waitFor(count, timeoutMs = 10_000) {
      if (results.length >= count) return Promise.resolve(results.slice(0, count));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `expected ${count} results within ${timeoutMs} ms, got ${results.length}: ${JSON.stringify(results)}`,
              ),
            ),
          timeoutMs,
        );
        waiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve(results.slice(0, count));
          },
        });
      });
    },
  };
}
