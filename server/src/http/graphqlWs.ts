import type { IncomingMessage } from 'node:http';
import {
  CloseCode,
  handleProtocols,
  makeServer,
  type ServerOptions,
  type WebSocket as ProtocolSocket,
} from 'graphql-ws';
import type { RawData, WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../logger.js';
import type { Deadlines, Due } from '../realtime/deadlines.js';

/**
 * graphql-ws's protocol (makeServer: init, ping/pong, subscribe, complete, close codes) on the sockets of a `ws`
 * server: what graphql-ws's own `useServer` (graphql-ws/use/ws) does, minus what each socket kept there for its whole
 * life (docs/architecture.md, "Per-connection cost"):
 *
 * - its message listener is an async function per socket that awaits graphql-ws's handling of each message, and a
 *   subscribe message's handling lasts as long as the subscription: the frame kept the message's raw bytes, and with
 *   them the whole chunk the socket read them from;
 * - a closure per socket for each of `send`, `close`, `onMessage`, the message, close and error listeners;
 * - a keep-alive interval per socket, and a timeout per ping: here one timer serves every socket (`keepAlive`);
 * - graphql-ws's timer for `connection_init`, kept by the socket's handler for its whole life: here the wait is one
 *   of the instance's deadlines (realtime/deadlines.ts), cancelled when the init arrives;
 * - its socket 'error' listener printed every client's protocol error on the console as an internal one.
 *
 * Here one listener function per event serves every socket; what a socket needs is one small object, its `Port`.
 */

/** What every hook of graphql-ws finds in `ctx.extra` besides the server's own fields. */
export interface ExtraBase {
  readonly socket: WebSocket;
  /** The upgrade request: read when the connection is accepted, then dropped. */
  request: IncomingMessage | undefined;
}

/** Most messages a client may send in a window before `onFlood` is called (the socket is closed there). */
export interface FloodLimit {
  maxMessages: number;
  windowMs: number;
  onFlood(socket: WebSocket): void;
}

const kPort = Symbol('graphql-ws port');
type PortedSocket = WebSocket & { [kPort]: Port };

/** One socket as graphql-ws's server sees it, and what its listeners need. */
class Port implements ProtocolSocket, Due {
  /** graphql-ws's message handler, given once by `onMessage`: it takes a message parsed too (`parsedForGraphqlWs`). */
  receive: ((data: string | object) => Promise<void>) | undefined = undefined;
  /** graphql-ws's close handler, returned by `opened`. */
  closed: ((code?: number, reason?: string) => Promise<void>) | undefined = undefined;
  /** The flood window's start and the messages counted in it. */
  windowStart = Date.now();
  messages = 0;
  /** Heard from (a message, a ping, a pong) since the last keep-alive round; pinged in the last round. */
  heard = false;
  pinged = false;
  /** Whether `connection_init` arrived; until then, its deadline among the instance's. */
  initialised = false;
  initDeadline = 0;

  constructor(
    readonly ws: WebSocket,
    readonly host: Host,
  ) {}

  get protocol(): string {
    return this.ws.protocol;
  }

  send(data: string): Promise<void> {
    const { ws } = this;
    if (ws.readyState !== ws.OPEN) return Promise.resolve();
    return new Promise((resolve, reject) => ws.send(data, (err) => (err ? reject(err) : resolve())));
  }

  close(code?: number, reason?: string): void {
    this.ws.close(code, reason);
  }

  onMessage(cb: (data: string) => Promise<void>): void {
    this.receive = cb as (data: string | object) => Promise<void>;
  }

  /** No `connection_init` in time: closed as graphql-ws would have. */
  due(): void {
    if (!this.initialised)
      this.ws.close(CloseCode.ConnectionInitialisationTimeout, 'Connection initialisation timeout');
  }
}

/** What the shared listeners read of the server they belong to. */
interface Host {
  log: Logger;
  flood: FloodLimit;
  /** The keep-alive round (`keepAlive`); 0 for none. */
  keepAliveMs: number;
  /** How long a socket may stay open without `connection_init`, on these deadlines. */
  initWaitMs: number;
  deadlines: Deadlines;
}

/** Every socket's message listener: counted against the flood limit, then handed to graphql-ws. */
function onSocketMessage(this: WebSocket, data: RawData): void {
  const port = (this as PortedSocket)[kPort];
  port.heard = true;
  port.pinged = false;
  const { flood } = port.host;
  const now = Date.now();
  if (now - port.windowStart > flood.windowMs) {
    port.windowStart = now;
    port.messages = 0;
  }
  if (++port.messages > flood.maxMessages) {
    flood.onFlood(this);
    return;
  }
  port.receive?.(parsedForGraphqlWs(String(data))).catch((err: unknown) => internalError(port, err));
}

/**
 * The message as graphql-ws's handler is given it: parsed here when it is a JSON object. Its handler is an async
 * function that keeps its argument for as long as it runs, which for a subscribe is the subscription's life: the raw
 * text (some 400 bytes for a small document, kilobytes for the web app's) would stay beside the parsed message it
 * already keeps. graphql-ws's `parseMessage` takes a message already parsed as it is (`typeof data === 'string' ?
 * JSON.parse(data) : data`, graphql-ws 6.4); anything else goes on as text, for graphql-ws to refuse as ever (4400).
 * A `jsonMessageReviver`, were one configured, would not see the messages parsed here.
 */
function parsedForGraphqlWs(text: string): string | object {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null) return parsed;
  } catch {
    // Not JSON: graphql-ws closes the socket with 4400.
  }
  return text;
}

/** Every socket's ping and pong listener: the peer is there. */
function onSocketSpoke(this: WebSocket): void {
  const port = (this as PortedSocket)[kPort];
  port.heard = true;
  port.pinged = false;
}

/**
 * The keep-alive of every socket on one timer. Each round: a socket heard from since the last one is left alone (the
 * web app's client pings every 8 s, so it is never pinged); one that left the last round's ping unanswered is cut; the
 * others are pinged. So a peer that vanished without closing is cut within two rounds, which then closes its
 * subscriptions and takes it offline.
 */
function keepAlive(wss: WebSocketServer, intervalMs: number): () => void {
  const round = setInterval(() => {
    for (const socket of wss.clients) {
      const port = (socket as PortedSocket)[kPort];
      if (socket.readyState !== socket.OPEN || !port) continue;
      if (port.heard) port.heard = false;
      else if (port.pinged) socket.terminate();
      else {
        port.pinged = true;
        socket.ping();
      }
    }
  }, intervalMs);
  round.unref();
  return () => clearInterval(round);
}

/** Every socket's close listener: graphql-ws's close handling (its onClose hook, completing the operations). */
function onSocketClose(this: WebSocket, code: number, reason: Buffer): void {
  const port = (this as PortedSocket)[kPort];
  if (!port.initialised) port.host.deadlines.cancel(port.initDeadline, port);
  port.closed?.(code, String(reason)).catch((err: unknown) => port.host.log.error({ err }, 'socket close failed'));
}

/** A hook threw where graphql-ws does not catch it: logged, and the socket closed without the error's text. */
function internalError(port: Port, err: unknown): void {
  port.host.log.error({ err }, 'websocket message handling failed');
  port.ws.close(CloseCode.InternalServerError, 'Internal server error');
}

/**
 * Serves graphql-ws's protocol on every socket `wss` accepts. Returns what ends it: every socket closed with 1001
 * "Going away", then the ws server.
 */
export function serveGraphqlWs<P extends Record<string, unknown>, E extends ExtraBase>(
  wss: WebSocketServer,
  options: ServerOptions<P, E>,
  extraOf: (socket: WebSocket, request: IncomingMessage) => E,
  host: Host,
): { dispose(): Promise<void> } {
  const server = makeServer<P, E>({
    ...options,
    // Counted here instead, on the instance's deadlines (Port.due).
    connectionInitWaitTimeout: 0,
    onConnect(ctx) {
      const port = (ctx.extra.socket as PortedSocket)[kPort];
      port.initialised = true;
      host.deadlines.cancel(port.initDeadline, port);
      return options.onConnect?.(ctx);
    },
  });
  const stopKeepAlive = host.keepAliveMs > 0 ? keepAlive(wss, host.keepAliveMs) : () => {};
  wss.options.handleProtocols = handleProtocols;
  wss.once('error', (err) => {
    host.log.error({ err }, 'websocket server failed');
    for (const client of wss.clients) client.close(CloseCode.InternalServerError, 'Internal server error');
  });
  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    const port = new Port(socket, host);
    (socket as PortedSocket)[kPort] = port;
    socket.on('message', onSocketMessage).on('ping', onSocketSpoke).on('pong', onSocketSpoke);
    socket.once('close', onSocketClose);
    port.initDeadline = host.deadlines.at(Date.now() + host.initWaitMs, port);
    port.closed = server.opened(port, extraOf(socket, request));
  });
  return {
    async dispose() {
      stopKeepAlive();
      for (const client of wss.clients) client.close(1001, 'Going away');
      wss.removeAllListeners();
      await new Promise<void>((resolve, reject) => wss.close((err) => (err ? reject(err) : resolve())));
    },
  };
}
