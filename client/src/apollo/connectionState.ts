/**
 * The state of the WebSocket link, as an external store any component can read with `useSyncExternalStore`
 * (see `useConnectionState`). It is fed by graphql-ws's `on` events and by the retry policy in `retryPolicy.ts`.
 */
export type ConnectionStatus = 'connecting' | 'connected' | 'reconnecting' | 'disconnected';

export interface ConnectionState {
  status: ConnectionStatus;
  /** While reconnecting: the attempt under way or waited for (1-based). While disconnected: the attempts made. */
  attempt: number;
  /** How many attempts are made before giving up and waiting for a manual reconnect. */
  maxAttempts: number;
  /** While waiting between attempts: when the next one starts (epoch ms). */
  nextAttemptAt: number | null;
  /** When the link was last lost (epoch ms), or null if it never was. */
  lostAt: number | null;
  /** How many times the link came back after being lost; changes exactly when a reconnection succeeded. */
  reconnections: number;
  /** The close code of the last lost connection, for diagnostics. */
  lastCloseCode: number | null;
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
      reconnections: this.state.reconnections + (reconnected ? 1 : 0),
    });
    if (reconnected) for (const listener of [...this.reconnectedListeners]) listener();
  }

  /** graphql-ws `closed`: a live link was lost (the retry policy takes it from here). */
  closed(code: number | null): void {
    if (this.state.status === 'connected') {
      this.set({ status: 'reconnecting', attempt: 1, nextAttemptAt: null, lostAt: Date.now(), lastCloseCode: code });
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

  /** Every attempt failed: nothing happens until `reconnect()` is called. */
  gaveUp(): void {
    this.set({ status: 'disconnected', nextAttemptAt: null });
  }

  private set(patch: Partial<ConnectionState>): void {
    this.state = { ...this.state, ...patch };
    for (const listener of [...this.listeners]) listener();
  }
}
