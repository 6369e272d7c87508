import type { Server } from 'node:http';

/** How often a draining server closes the connections that have gone idle since. */
const IDLE_SWEEP_MS = 50;

/**
 * Stops `server` gracefully: it takes no new connection; the requests in flight are answered, and each connection is
 * closed once it is idle; whatever is still open after `graceMs` (a request that does not end, a WebSocket whose
 * client never answers its 1001) is cut. Resolves when every connection has closed.
 *
 * What Apollo's `ApolloServerPluginDrainHttpServer` does, without what it keeps for every connection for the
 * connection's whole life: a `once('close')` listener (a closure, a once-wrapper and its state, the socket's listener
 * list) and an entry of a map of request counts, a few hundred bytes a socket, most of them WebSockets that never
 * make a request after their upgrade (docs/architecture.md, "Per-connection cost"). Node's HTTP server tracks its
 * connections and their requests already (`closeIdleConnections`, `closeAllConnections`); an upgraded socket has left
 * that list, so the open WebSockets are cut with it (`sockets`).
 */
export async function drainHttpServer(
  server: Server,
  sockets: Iterable<{ terminate(): void }>,
  graceMs: number,
): Promise<void> {
  // The callback's error (the server was not listening) changes nothing here: the connections are gone either way.
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // Node closes the idle ones as it closes (http.Server.close); those busy now become idle as their answer finishes.
  const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
  const cut = setTimeout(() => {
    server.closeAllConnections();
    for (const socket of sockets) socket.terminate();
  }, graceMs);
  try {
    await closed;
  } finally {
    clearInterval(sweep);
    clearTimeout(cut);
  }
}
