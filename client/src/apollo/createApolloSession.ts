import { ApolloClient, ApolloLink, HttpLink, ServerError, CombinedGraphQLErrors } from '@apollo/client';
import { ErrorLink } from '@apollo/client/link/error';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { createClient, type Client } from 'graphql-ws';
import { Kind, print } from 'graphql';
import { RenewConnectionDocument } from '../__generated__/graphql';
import { finalize, tap } from 'rxjs';
import { createDebug } from '../lib/debug';
import { createCache } from './cache';
import { ConnectionStore } from './connectionState';
import { FailedQueryLink } from './failedQueryLink';
import { createResumeLink, CursorStore } from './resumeLink';
import { createRetryPolicy } from './retryPolicy';
import { DEFAULT_TIMING, type ConnectionTiming } from './timing';

export interface ApolloSessionOptions {
  /** The bearer token, sent on HTTP (`Authorization`) and WebSocket (`connectionParams.authorization`). */
  token: string;
  /** `http(s)://host/graphql`. */
  httpUrl: string;
  /** `ws(s)://host/graphql`. */
  wsUrl: string;
  /**
   * Reconnection and keep-alive timing (`timing.ts`). @default 10 attempts 5 s apart, then growing waits up to 60 s;
   * a ping every 8 s, each pong due within 5 s
   */
  timing?: Partial<ConnectionTiming>;
  /** Called when the server says the token is no longer good (HTTP 401 or WebSocket 4403): sign out. */
  onUnauthenticated?: () => void;
  /**
   * Called instead when the server ended the session for idleness (WebSocket 4403 `Session idle`, or `UNAUTHENTICATED`
   * with reason `SESSION_IDLE`): lock, and ask for the password. @default onUnauthenticated
   */
  onIdle?: () => void;
  /** Another WebSocket implementation (tests on Node 20, which has none built in). */
  webSocketImpl?: unknown;
  /** Another fetch (tests). */
  fetch?: typeof fetch;
}

/** One signed-in user's Apollo Client, WebSocket client, connection state and resume cursors. */
export interface ApolloSession {
  client: ApolloClient;
  /** `http(s)://host/graphql`: the API's other endpoints (the access audit's CSV) are beside it. */
  httpUrl: string;
  wsClient: Client;
  connection: ConnectionStore;
  cursors: CursorStore;
  /** Try to connect now: ends the wait between attempts or leaves the "disconnected" state. */
  reconnect(): void;
  /**
   * Carries on with a newer token of the same session: HTTP sends it from now on, the live socket is moved to it
   * (`renewConnection`: its subscriptions go on untouched) and a reconnection uses it.
   */
  setToken(token: string): Promise<void>;
  /** Closes the socket for good and clears the cache. */
  dispose(): Promise<void>;
}

/**
 * The WebSocket close code graphql-ws uses when `onConnect` refuses the connection (our server: bad or expired token).
 */
const FORBIDDEN = 4403;
/** The close reason (with 4403) and the error reason of a session the server ended for idleness. */
const SESSION_IDLE_CLOSE = 'Session idle';
const SESSION_IDLE = 'SESSION_IDLE';

/** Whether an HTTP error's body says UNAUTHENTICATED for idleness (a 401 reaches Apollo as a ServerError). */
function idleBody(bodyText: string): boolean {
  try {
    const body = JSON.parse(bodyText) as { errors?: { extensions?: { reason?: unknown } }[] };
    return body.errors?.some((e) => e.extensions?.reason === SESSION_IDLE) ?? false;
  } catch {
    return false;
  }
}

/**
 * Counts have no durable stream to resume: re-read them after a reconnection (hooks re-read their own ephemeral state).
 */
const REREAD_ON_RECONNECT = ['NavCounts'];

/**
 * What each durable stream feeds, re-read when the stream cannot replay what it missed: after a reconnection when it
 * had received no event (so no cursor) before the link was lost, and when the server answers that its cursor is older
 * than the event log keeps (`CURSOR_EXPIRED`, resumeLink.ts).
 */
const FED_BY_STREAM: Record<string, string[]> = {
  AppointmentChanged: ['SchedulePage', 'PatientChart'],
  MessageAdded: ['Threads', 'ThreadView'],
  ReadReceiptAdded: ['ThreadView'],
  NotificationAdded: ['NotificationsPage', 'TasksPage'],
};

/**
 * The socket's life and its operations in the console, when switched on (`localStorage.debug = 'derm:*'`; README,
 * "Debugging"): codes, attempts and operation names, never a token or data.
 */
const socketDebug = createDebug('derm:socket');
const pingDebug = createDebug('derm:socket:ping');
const operationDebug = createDebug('derm:operation');

/** Each operation over the socket by name, when it starts and when it ends (completed, unsubscribed or failed). */
const operationDebugLink = new ApolloLink((operation, forward) => {
  const operationName = operation.operationName ?? '(unnamed)';
  operationDebug('subscribe', { operationName });
  return forward(operation).pipe(
    tap({ error: () => operationDebug('error', { operationName }) }),
    finalize(() => operationDebug('complete', { operationName })),
  );
});

export function createApolloSession(options: ApolloSessionOptions): ApolloSession {
  const timing = { ...DEFAULT_TIMING, ...options.timing };
  const connection = new ConnectionStore(timing.maxAttempts);
  const cursors = new CursorStore();
  const policy = createRetryPolicy(connection, timing);
  let disposed = false;
  const signOut = () => {
    if (!disposed) options.onUnauthenticated?.();
  };
  const lock = () => {
    if (!disposed) (options.onIdle ?? options.onUnauthenticated)?.();
  };

  let token = options.token;
  let pongTimer: ReturnType<typeof setTimeout> | undefined;
  let connectTimer: ReturnType<typeof setTimeout> | undefined;
  /** graphql-ws stopped for good (a close code it never retries, such as 4500): only a fresh page reconnects. */
  let fatal = false;
  const wsClient = createClient({
    url: options.wsUrl,
    // Read at each connection: a reconnection after a renewal uses the new token.
    connectionParams: () => ({ authorization: `Bearer ${token}` }),
    webSocketImpl: options.webSocketImpl,
    // Eager: the socket is what makes the user "online", and a page with no subscription yet should still be live.
    lazy: false,
    onNonLazyError: () => {
      if (disposed) return;
      fatal = true;
      connection.gaveUp();
    },
    keepAlive: timing.keepAliveMs,
    connectionAckWaitTimeout: timing.connectTimeoutMs,
    retryAttempts: Infinity,
    retryWait: policy.retryWait,
    // Browsers report a refused connection as an `error` event before the close; retry on those too.
    shouldRetry: () => true,
    on: {
      connected: (_socket, payload, wasRetry) => {
        socketDebug('connected (acknowledged)', { wasRetry });
        policy.reset();
        // First: a reconnection re-reads what the streams without a cursor feed (onReconnected, below).
        connection.connected(wasRetry);
        // Then those streams resubscribe after the server's newest event as it acknowledged this link: no event
        // falls between that re-read and the stream (docs/architecture.md, "Retention").
        const cursor = (payload as { cursor?: unknown } | undefined)?.cursor;
        if (typeof cursor === 'string') cursors.startAt(cursor);
      },
      closed: (event) => {
        clearTimeout(pongTimer);
        clearTimeout(connectTimer);
        const code = typeof (event as CloseEvent | undefined)?.code === 'number' ? (event as CloseEvent).code : null;
        socketDebug('closed', { code, reason: (event as CloseEvent | undefined)?.reason ?? '' });
        if (disposed) return;
        connection.closed(code);
        if (code === FORBIDDEN) {
          if ((event as CloseEvent).reason === SESSION_IDLE_CLOSE) lock();
          else signOut();
        }
      },
      // A half-open TCP connection (Wi-Fi gone without a FIN) is noticed by a missing pong. Closing such a socket
      // would wait for a closing handshake that never comes (Chromium gives up after about a minute), so it is
      // dropped at once: graphql-ws's terminate() reports it closed (4499) and retries.
      // The same on a dead network: an attempt can hang without an error. (The acknowledgement has its own timeout.)
      connecting: (isRetry) => {
        socketDebug(
          isRetry ? 'reconnecting' : 'connecting',
          isRetry ? { attempt: connection.getSnapshot().attempt } : undefined,
        );
        clearTimeout(connectTimer);
        connectTimer = setTimeout(() => wsClient.terminate(), timing.connectTimeoutMs);
      },
      opened: () => {
        socketDebug('opened');
        clearTimeout(connectTimer);
      },
      error: () => socketDebug('error'),
      ping: (received) => {
        pingDebug(received ? 'ping received' : 'ping sent');
        if (received) return;
        clearTimeout(pongTimer);
        pongTimer = setTimeout(() => wsClient.terminate(), timing.pongTimeoutMs);
      },
      pong: (received) => {
        pingDebug(received ? 'pong received' : 'pong sent');
        if (received) clearTimeout(pongTimer);
      },
    },
  });

  const httpLink = new HttpLink({ uri: options.httpUrl, fetch: options.fetch });
  // The token of the moment, on every request.
  const authLink = new ApolloLink((operation, forward) => {
    operation.setContext(({ headers = {} }: { headers?: Record<string, string> }) => ({
      headers: { ...headers, authorization: `Bearer ${token}` },
    }));
    return forward(operation);
  });

  const errorLink = new ErrorLink(({ error }) => {
    const unauthenticated = CombinedGraphQLErrors.is(error)
      ? error.errors.filter((e) => e.extensions?.code === 'UNAUTHENTICATED')
      : [];
    const idle =
      unauthenticated.some((e) => e.extensions?.reason === SESSION_IDLE) ||
      (ServerError.is(error) && error.statusCode === 401 && idleBody(error.bodyText));
    if (idle) lock();
    else if (unauthenticated.length > 0 || (ServerError.is(error) && error.statusCode === 401)) signOut();
  });

  const isSubscription = ({ query }: ApolloLink.Operation) => {
    const definition = getMainDefinition(query);
    return definition.kind === Kind.OPERATION_DEFINITION && definition.operation === 'subscription';
  };

  // What HTTP learns about the server while the live link is down: whether saving works (the banner says so).
  const reachabilityLink = new ApolloLink((operation, forward) =>
    forward(operation).pipe(
      tap({
        next: () => connection.http(true),
        error: (error: unknown) =>
          connection.http(ServerError.is(error) ? error.statusCode < 500 : CombinedGraphQLErrors.is(error)),
      }),
    ),
  );

  /** Reads again those of these queries that are on screen now. */
  const refetchActive = (names: Iterable<string>) => {
    const active = new Set([...client.getObservableQueries('active')].map((q) => q.queryName));
    const include = [...new Set(names)].filter((name) => active.has(name));
    if (include.length) void client.refetchQueries({ include }).catch(() => {});
  };

  const failedQueries = new FailedQueryLink(timing.failedQueryWindowMs);
  const client = new ApolloClient({
    cache: createCache(),
    link: ApolloLink.from([
      errorLink,
      ApolloLink.split(
        isSubscription,
        ApolloLink.from([
          operationDebugLink,
          createResumeLink(cursors, { onCursorExpired: (stream) => refetchActive(FED_BY_STREAM[stream] ?? []) }),
          new GraphQLWsLink(wsClient),
        ]),
        ApolloLink.from([reachabilityLink, failedQueries, authLink, httpLink]),
      ),
    ]),
  });

  const offReconnected = connection.onReconnected(() => {
    // The server answers again: a query that failed moments ago (within the failed-query window) goes out again too.
    failedQueries.forget();
    refetchActive([...REREAD_ON_RECONNECT, ...cursors.withoutCursor().flatMap((op) => FED_BY_STREAM[op] ?? [])]);
    // And whatever failed while the server was away (a day opened during the outage shows an error until read again).
    const failed = [...client.getObservableQueries('active')].filter((q) => q.getCurrentResult().error);
    for (const query of failed) void query.refetch().catch(() => {});
  });

  // Back on the network, or back on this tab (a phone unlocked, a laptop woken): try at once, not at the next wait.
  const onOnline = () => policy.reconnectNow();
  const onVisible = () => {
    if (document.visibilityState === 'visible') policy.reconnectNow();
  };
  if (typeof window !== 'undefined') {
    window.addEventListener('online', onOnline);
    document.addEventListener('visibilitychange', onVisible);
  }

  return {
    client,
    httpUrl: options.httpUrl,
    wsClient,
    connection,
    cursors,
    reconnect: () => {
      if (fatal && typeof window !== 'undefined') window.location.reload();
      else policy.reconnectNow();
    },
    async setToken(next) {
      token = next;
      if (connection.getSnapshot().status !== 'connected') return;
      // Over the socket itself (not HTTP): it is this connection that is renewed. A failure is harmless: the socket
      // then closes at the old expiry and reconnects with the new token, resuming from its cursors.
      await new Promise<void>((resolve) => {
        wsClient.subscribe(
          { query: print(RenewConnectionDocument), operationName: 'RenewConnection', variables: { token: next } },
          { next: () => {}, error: () => resolve(), complete: () => resolve() },
        );
      });
    },
    async dispose() {
      disposed = true;
      offReconnected();
      clearTimeout(pongTimer);
      clearTimeout(connectTimer);
      if (typeof window !== 'undefined') {
        window.removeEventListener('online', onOnline);
        document.removeEventListener('visibilitychange', onVisible);
      }
      client.stop();
      await wsClient.dispose();
      await client.clearStore();
    },
  };
}
