import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
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
import { ByOperation } from './byOperation.js';
import { sendPing } from './wsFrames.js';

/**
 * graphql-ws's protocol (makeServer: init, ping/pong, subscribe, complete, close codes) on the sockets of a `ws`
 * server: what graphql-ws's own `useServer` (graphql-ws/use/ws) does, minus what each socket kept there for its whole
 * life (docs/architecture.md, "Per-connection cost"):
 *
 * - its message listener is an async function per socket that awaits graphql-ws's handling of each message, and a
 *   subscribe message's handling lasts as long as the subscription: the frame kept the message's raw bytes, and with
 *   them the whole chunk the socket read them from;
 * - a closure per socket for each of `send`, `close`, `onMessage`, the message, close and error listeners;
 * - a keep-alive interval per socket, and a timeout per ping: here one timer serves every socket (`keepAlive`), and
 *   tells a peer that spoke by the bytes its connection read, with no ping or pong listener on each socket;
 * - graphql-ws's timer for `connection_init`, kept by the socket's handler for its whole life: here the wait is one
 *   of the instance's deadlines (realtime/deadlines.ts), cancelled when the init arrives;
 * - its socket 'error' listener printed every client's protocol error on the console as an internal one.
 *
 * Here one listener function per event serves every socket; what a socket needs is one small object, its `Port`.
 *
 * And graphql-ws keeps one thing per running subscription that a delivery group's member does not need: its message
 * handler awaits the operation's stream (`for await`) for as long as the subscription lives, so the handler's suspended
 * async frame, the subscribe message, the `emit` closures and the execution arguments stay. A member's stream never
 * yields (its group writes the frames), so its operation is taken over once it runs (`adopt`).
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

/**
 * An operation taken over from graphql-ws once it runs (`adopt`): it writes its own frames, and ends by itself (then
 * it calls `releaseAdopted` and sends its `error` or `complete`) or when `stop` is called.
 */
export interface Adopted {
  /** The client completed the operation, or the socket closed: end it; the client is sent nothing for it. */
  stop(): void;
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
  /**
   * Bytes read from the peer at the last keep-alive round: anything it sent since (a message, a ping, a pong) shows
   * as more, with no listener of its own on the socket. Pinged in the last round.
   */
  bytesHeard = 0;
  pinged = false;
  /** Whether `connection_init` arrived; until then, its deadline among the instance's. */
  initialised = false;
  initDeadline = 0;
  /** The operations taken over from graphql-ws (`adopt`), while there are any. */
  adopted: ByOperation<Adopted> | undefined = undefined;

  constructor(
    readonly ws: WebSocket,
    /** The connection under the WebSocket: what keep-alive reads `bytesRead` of. */
    readonly tcp: Socket,
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
  const message = parsedForGraphqlWs(String(data));
  if (port.adopted && typeof message === 'object' && adoptedMessage(port, message as { id?: unknown; type?: unknown }))
    return;
  port.receive?.(message).catch((err: unknown) => internalError(port, err));
}

/**
 * A client's message about an adopted operation, handled as graphql-ws handles one about an operation it runs
 * (graphql-ws 6, `makeServer`): `complete` ends it and nothing is sent back; a `subscribe` reusing its id closes the
 * socket with 4409. Whether the message was one of these.
 */
function adoptedMessage(port: Port, { id, type }: { id?: unknown; type?: unknown }): boolean {
  if (typeof id !== 'string') return false;
  if (type === 'subscribe' && port.adopted?.has(id)) {
    port.ws.close(CloseCode.SubscriberAlreadyExists, `Subscriber for ${id} already exists`);
    return true;
  }
  if (type !== 'complete') return false;
  const op = takeAdopted(port, id);
  op?.stop();
  return op !== undefined;
}

function takeAdopted(port: Port, id: string): Adopted | undefined {
  const op = port.adopted?.take(id);
  if (port.adopted?.size === 0) port.adopted = undefined;
  return op;
}

/**
 * What graphql-ws iterates in place of an adopted operation's stream: it ends at once, after taking the id out of
 * graphql-ws's running operations, so that graphql-ws finishes handling the subscribe message without sending
 * anything (it sends `complete` only for an operation it still counts) and lets go of it.
 */
class Handover implements AsyncIterableIterator<never> {
  constructor(
    private readonly ctx: { subscriptions: Record<string, unknown> },
    private readonly id: string,
  ) {}

  next(): Promise<IteratorResult<never>> {
    const { ctx } = this;
    delete ctx.subscriptions[this.id];
    // Emptied, the record is made anew: a deleted numeric id ("1") leaves the old one a table of elements that every
    // idle socket would keep. Without a prototype, as graphql-ws makes it (an id "toString" is not in it), but in V8's
    // fast mode: `Object.create(null)` starts a ~190-byte dictionary, this ~60 bytes (docs/architecture.md,
    // "Per-connection cost").
    if (isEmpty(ctx.subscriptions)) ctx.subscriptions = Object.setPrototypeOf({}, null) as Record<string, unknown>;
    return Promise.resolve({ value: undefined, done: true });
  }

  return(): Promise<IteratorResult<never>> {
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/**
 * Takes a running operation over from graphql-ws: `onOperation` returns this in place of the operation's stream, and
 * graphql-ws's handling of the subscribe message ends (see the top of this file). From then on the socket's listeners
 * handle the client's messages about it (`adoptedMessage`) and stop it when the socket closes. graphql-ws calls its
 * `onComplete` hook at the handover, for an id `isAdopted` then reports. Undefined, and graphql-ws goes on as ever,
 * when the client completed the operation while it was being set up, or the socket is closing.
 */
export function adopt(
  ctx: { extra: { socket: WebSocket }; subscriptions: Record<string, unknown> },
  id: string,
  op: Adopted,
): AsyncIterableIterator<never> | undefined {
  const port = (ctx.extra.socket as PortedSocket)[kPort];
  if (!port || !(id in ctx.subscriptions) || port.ws.readyState !== port.ws.OPEN) return undefined;
  if (port.adopted) port.adopted.add(id, op);
  else port.adopted = new ByOperation(id, op);
  return new Handover(ctx, id);
}

function isEmpty(record: Record<string, unknown>): boolean {
  for (const _ in record) return false;
  return true;
}

/** Whether `id` is an operation of this socket taken over from graphql-ws. */
export function isAdopted(socket: WebSocket, id: string): boolean {
  const port = (socket as PortedSocket)[kPort];
  return port?.adopted?.has(id) ?? false;
}

/** How many operations of this socket were taken over from graphql-ws: they count among its running operations. */
export function adoptedCount(socket: WebSocket): number {
  return (socket as PortedSocket)[kPort]?.adopted?.size ?? 0;
}

/**
 * An adopted operation ended by itself: no longer this socket's. Whether it still was, so that its end is to be sent
 * to the client; false once the client completed it or the socket closed, or if it was never adopted.
 */
export function releaseAdopted(socket: WebSocket, id: string): boolean {
  const port = (socket as PortedSocket)[kPort];
  return port !== undefined && takeAdopted(port, id) !== undefined;
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
      const read = port.tcp.bytesRead;
      if (read !== port.bytesHeard) {
        port.bytesHeard = read;
        port.pinged = false;
      } else if (port.pinged) socket.terminate();
      else {
        port.pinged = true;
        sendPing(socket);
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
  // What graphql-ws does for the operations it runs (their streams' `return`), for those it handed over.
  const adopted = port.adopted;
  port.adopted = undefined;
  for (const op of adopted?.takeAll() ?? []) op.stop();
  // ws emits a socket's close once; taken all the same, so that graphql-ws's side could never be closed twice.
  const closed = port.closed;
  port.closed = undefined;
  closed?.(code, String(reason)).catch((err: unknown) => port.host.log.error({ err }, 'socket close failed'));
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
    const port = new Port(socket, request.socket, host);
    (socket as PortedSocket)[kPort] = port;
    socket.on('message', onSocketMessage);
    // `on`, not `once`, which would keep a wrapper and a bound function per socket; onSocketClose runs its part once.
    socket.on('close', onSocketClose);
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
