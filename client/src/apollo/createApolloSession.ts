import { ApolloClient, ApolloLink, HttpLink, ServerError, CombinedGraphQLErrors } from '@apollo/client';
import { ErrorLink } from '@apollo/client/link/error';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { createClient, type Client } from 'graphql-ws';
import { Kind } from 'graphql';
import { createCache } from './cache';
import { ConnectionStore } from './connectionState';
import { createResumeLink, CursorStore } from './resumeLink';
import { createRetryPolicy, DEFAULT_RETRY, type RetryPolicyOptions } from './retryPolicy';

export interface ApolloSessionOptions {
  /** The bearer token, sent on HTTP (`Authorization`) and WebSocket (`connectionParams.authorization`). */
  token: string;
  /** `http(s)://host/graphql`. */
  httpUrl: string;
  /** `ws(s)://host/graphql`. */
  wsUrl: string;
  /** Reconnection policy. @default 10 attempts, 5 s apart */
  retry?: Partial<RetryPolicyOptions>;
  /** Client pings this often (ms) and closes a socket whose pong is `pongTimeoutMs` late. @default 10_000 */
  keepAliveMs?: number;
  /** @default 5_000 */
  pongTimeoutMs?: number;
  /** Called when the server says the token is no longer good (HTTP 401 or WebSocket 4403): sign out. */
  onUnauthenticated?: () => void;
  /** Another WebSocket implementation (tests on Node 20, which has none built in). */
  webSocketImpl?: unknown;
  /** Another fetch (tests). */
  fetch?: typeof fetch;
}

/** One signed-in user's Apollo Client, WebSocket client, connection state and resume cursors. */
export interface ApolloSession {
  client: ApolloClient;
  wsClient: Client;
  connection: ConnectionStore;
  cursors: CursorStore;
  /** Try to connect now: ends the wait between attempts or leaves the "disconnected" state. */
  reconnect(): void;
  /** Closes the socket for good and clears the cache. */
  dispose(): Promise<void>;
}

/**
 * The WebSocket close code graphql-ws uses when `onConnect` refuses the connection (our server: bad or expired token).
 */
const FORBIDDEN = 4403;
/** Our own close code for a socket whose pong did not come back in time. */
const PONG_TIMEOUT = 4408;

/**
 * Counts have no durable stream to resume: re-read them after a reconnection (hooks re-read their own ephemeral state).
 */
const REREAD_ON_RECONNECT = ['NavCounts'];

/**
 * What each durable stream feeds, re-read after a reconnection only when that stream had received no event (so no
 * cursor) before the link was lost: without a cursor the server cannot replay what it missed.
 */
const FED_BY_STREAM: Record<string, string[]> = {
  AppointmentChanged: ['SchedulePage', 'PatientChart'],
  MessageAdded: ['Threads', 'ThreadView'],
  ReadReceiptAdded: ['ThreadView'],
  NotificationAdded: ['NotificationsPage', 'TasksPage'],
};

export function createApolloSession(options: ApolloSessionOptions): ApolloSession {
  const retry = { ...DEFAULT_RETRY, ...options.retry };
  const connection = new ConnectionStore(retry.maxAttempts);
  const cursors = new CursorStore();
  const policy = createRetryPolicy(connection, retry);
  const keepAliveMs = options.keepAliveMs ?? 10_000;
  const pongTimeoutMs = options.pongTimeoutMs ?? 5_000;
  let disposed = false;
  const signOut = () => {
    if (!disposed) options.onUnauthenticated?.();
  };

  let pongTimer: ReturnType<typeof setTimeout> | undefined;
  let activeSocket: WebSocket | null = null;
  /** graphql-ws stopped for good (a close code it never retries, such as 4500): only a fresh page reconnects. */
  let fatal = false;
  const wsClient = createClient({
    url: options.wsUrl,
    connectionParams: { authorization: `Bearer ${options.token}` },
    webSocketImpl: options.webSocketImpl,
    // Eager: the socket is what makes the user "online", and a page with no subscription yet should still be live.
    lazy: false,
    onNonLazyError: () => {
      if (disposed) return;
      fatal = true;
      connection.gaveUp();
    },
    keepAlive: keepAliveMs,
    retryAttempts: Infinity,
    retryWait: policy.retryWait,
    // Browsers report a refused connection as an `error` event before the close; retry on those too.
    shouldRetry: () => true,
    on: {
      connected: (socket, _payload, wasRetry) => {
        activeSocket = socket as WebSocket;
        policy.reset();
        connection.connected(wasRetry);
      },
      closed: (event) => {
        activeSocket = null;
        clearTimeout(pongTimer);
        const code = typeof (event as CloseEvent | undefined)?.code === 'number' ? (event as CloseEvent).code : null;
        if (disposed) return;
        connection.closed(code);
        if (code === FORBIDDEN) signOut();
      },
      // A half-open TCP connection (Wi-Fi gone without a FIN) is noticed by a missing pong.
      ping: (received) => {
        if (received) return;
        clearTimeout(pongTimer);
        pongTimer = setTimeout(() => {
          if (activeSocket?.readyState === 1 /* OPEN */) activeSocket.close(PONG_TIMEOUT, 'Pong timeout');
        }, pongTimeoutMs);
      },
      pong: (received) => {
        if (received) clearTimeout(pongTimer);
      },
    },
  });

  const httpLink = new HttpLink({
    uri: options.httpUrl,
    headers: { authorization: `Bearer ${options.token}` },
    fetch: options.fetch,
  });

  const errorLink = new ErrorLink(({ error }) => {
    const unauthenticated =
      (CombinedGraphQLErrors.is(error) && error.errors.some((e) => e.extensions?.code === 'UNAUTHENTICATED')) ||
      (ServerError.is(error) && error.statusCode === 401);
    if (unauthenticated) signOut();
  });

  const isSubscription = ({ query }: ApolloLink.Operation) => {
    const definition = getMainDefinition(query);
    return definition.kind === Kind.OPERATION_DEFINITION && definition.operation === 'subscription';
  };

  const client = new ApolloClient({
    cache: createCache(),
    link: ApolloLink.from([
      errorLink,
      ApolloLink.split(
        isSubscription,
        ApolloLink.from([createResumeLink(cursors), new GraphQLWsLink(wsClient)]),
        httpLink,
      ),
    ]),
  });

  const offReconnected = connection.onReconnected(() => {
    const wanted = new Set([
      ...REREAD_ON_RECONNECT,
      ...cursors.withoutCursor().flatMap((op) => FED_BY_STREAM[op] ?? []),
    ]);
    const active = new Set([...client.getObservableQueries('active')].map((q) => q.queryName));
    const include = [...wanted].filter((name) => active.has(name));
    if (include.length) void client.refetchQueries({ include }).catch(() => {});
  });

  const onOnline = () => policy.reconnectNow();
  if (typeof window !== 'undefined') window.addEventListener('online', onOnline);

  return {
    client,
    wsClient,
    connection,
    cursors,
    reconnect: () => {
      if (fatal && typeof window !== 'undefined') window.location.reload();
      else policy.reconnectNow();
    },
    async dispose() {
      disposed = true;
      offReconnected();
      clearTimeout(pongTimer);
      if (typeof window !== 'undefined') window.removeEventListener('online', onOnline);
      client.stop();
      await wsClient.dispose();
      await client.clearStore();
    },
  };
}
