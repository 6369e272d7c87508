/**
 * The state of the WebSocket link, as an external store any component can read with `useSyncExternalStore`
 * (see `useConnectionState`). It is fed by graphql-ws's `on` events, by the retry policy in `retryPolicy.ts`, and by
 * what HTTP requests learn about the server meanwhile.
 */
export type ConnectionStatus = 'connecting' | 'connected' | 'reconnecting' | 'disconnected';

export interface ConnectionState {
  status: ConnectionStatus;
  /** While reconnecting: the attempt under way or waited for (1-based). While disconnected: the attempts made. */
  attempt: number;
  /** How many attempts are made, `waitMs` apart, before the app says "Offline" (and goes on trying, less often). */
  maxAttempts: number;
  /** While waiting between attempts (also while "Offline"): when the next one starts (epoch ms). */
  nextAttemptAt: number | null;
  /** When the link was last lost (epoch ms), or null if it never was. */
  lostAt: number | null;
  /** How many times the link came back after being lost; changes exactly when a reconnection succeeded. */
  reconnections: number;
  /** The close code of the last lost connection, for diagnostics. */
  lastCloseCode: number | null;
  /**
   * While the link is down: whether the server answered an HTTP request since (true), failed to (false), or nothing
   * was asked of it yet (null). Saving works over HTTP, so this is what the app may say about saving.
   */
  httpReachable: boolean | null;
}

type Listener = () => void;

export class ConnectionStore {
  private state: ConnectionState;
  private readonly listeners = new Set<Listener>();
  private readonly reconnectedListeners = new Set<Listener>();

  constructor(maxAttempts: number) {
    this.state = {
      status: 'connecting',
      attempt: 0,
      maxAttempts,
      nextAttemptAt: null,
      lostAt: null,
      reconnections: 0,
      lastCloseCode: null,
      httpReachable: null,
    };
  }

  /** For `useSyncExternalStore`: the same object until something changes. */
  getSnapshot = (): ConnectionState => this.state;

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** Called after each successful reconnection (not the first connection): re-read ephemeral state here. */
  onReconnected(listener: Listener): () => void {
    this.reconnectedListeners.add(listener);
    return () => this.reconnectedListeners.delete(listener);
  }

  /** graphql-ws `connected`. */
  connected(wasRetry: boolean): void {
    const reconnected = wasRetry || this.state.lostAt !== null;
    this.set({
      status: 'connected',
      attempt: 0,
      nextAttemptAt: null,
      httpReachable: null,
      reconnections: this.state.reconnections + (reconnected ? 1 : 0),
    });
    if (reconnected) for (const listener of [...this.reconnectedListeners]) listener();
  }

  /** graphql-ws `closed`: a live link was lost (the retry policy takes it from here). */
  closed(code: number | null): void {
    if (this.state.status === 'connected') {
      this.set({
        status: 'reconnecting',
        attempt: 1,
        nextAttemptAt: null,
        lostAt: Date.now(),
        lastCloseCode: code,
        httpReachable: null,
      });
    } else {
      this.set({ lastCloseCode: code, lostAt: this.state.lostAt ?? Date.now() });
    }
  }

  /** The retry policy waits before attempt `attempt`, until `at`. */
  waiting(attempt: number, at: number): void {
    this.set({ status: 'reconnecting', attempt, nextAttemptAt: at });
  }

  /** The retry policy starts attempt `attempt`. */
  attempting(attempt: number): void {
    this.set({ status: 'reconnecting', attempt, nextAttemptAt: null });
  }

  /** Every attempt of the round failed: "Offline", and the next try is at `nextAt` (or on demand). */
  gaveUp(nextAt: number | null = null): void {
    this.set({
      status: 'disconnected',
      attempt: Math.max(this.state.attempt, this.state.maxAttempts),
      nextAttemptAt: nextAt,
    });
  }

  /** While "Offline", one more try is under way. */
  tryingInBackground(): void {
    this.set({ status: 'disconnected', nextAttemptAt: null });
  }

  /** An HTTP request reached the server (true) or could not (false). Only kept while the link is down. */
  http(reachable: boolean): void {
    if (this.state.status === 'connected' || this.state.httpReachable === reachable) return;
    this.set({ httpReachable: reachable });
  }

  private set(patch: Partial<ConnectionState>): void {
    this.state = { ...this.state, ...patch };
    for (const listener of [...this.listeners]) listener();
  }
}
