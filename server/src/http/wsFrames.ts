import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

/**
 * A delivery group's `next` messages over WebSocket, each written as one finished text frame in one socket write
 * (docs/architecture.md, "Delivery groups"). `ws.send` takes a whole message and, per call, builds its options twice,
 * frames it, and corks the socket for two writes (header, then data) that Node gathers into a `writev`: in a fan-out
 * to thousands of sockets that per-call work cost about as much as the group's own, measured with `perf` during
 * `npm run bench`. ws has no way to send a message that is already framed, nor one in several parts (its
 * `Sender.frame`, added for broadcasts in ws pull request 1016, frames a single buffer), so the frame is made here.
 *
 * It is written to ws's own socket only when ws would have written it at once: open, no compression (the server
 * does not offer permessage-deflate), and nothing of ws's queued ahead of it. Otherwise the message goes through
 * `ws.send`. So frames keep their order with everything ws sends (graphql-ws's `complete`, pings, the close frame).
 * Checked against ws 8.23 (`WebSocket#_socket`, `#_sender`, `Sender#_state`, `#_queue`); server/test/realtime
 * tests read these frames with graphql-ws's client, which would fail on a malformed one. The keep-alive's pings go
 * the same way (`sendPing`); a peer that answers none is cut (server/test/realtime/presence.test.ts).
 */

/** ws's private fields read here (node_modules/ws/lib/websocket.js, sender.js). */
interface WsInternals {
  _socket?: Socket;
  _sender?: { _state: number; _queue: unknown[] };
  _extensions: Record<string, unknown>;
}

/** The only extension ws implements (`PerMessageDeflate.extensionName`); looked up, not listed, per frame. */
const DEFLATE = 'permessage-deflate';
const FIN_TEXT = 0x81;
const CLOSE_BRACE = 0x7d;

/** The length of the header of an unmasked frame carrying `length` bytes (RFC 6455, 5.2). */
function headerLength(length: number): number {
  return length < 126 ? 2 : length < 0x10000 ? 4 : 10;
}

/**
 * The start of an operation's `next` messages, up to its payload: `{"id":…,"type":"next","payload":`, and its length
 * in UTF-8. Kept as text and written into each frame: a small Buffer per operation would be a slice of Node's 8 KiB
 * pool and keep the whole slab alive for as long as the operation lives.
 */
export interface Envelope {
  readonly prefix: string;
  readonly prefixBytes: number;
}

export function envelopePrefix(id: string): string {
  return `{"id":${JSON.stringify(id)},"type":"next","payload":`;
}

/** ws's socket, when ws would write a frame to it at once (see the top of this file); otherwise undefined. */
function writableNow(socket: WebSocket): Socket | undefined {
  const ws = socket as unknown as WsInternals;
  const sender = ws._sender;
  if (!sender || sender._state !== 0 || sender._queue.length > 0 || ws._extensions[DEFLATE] !== undefined) return;
  return ws._socket;
}

/** A ping without data (RFC 6455, 5.5.2), the same bytes for every socket. */
const PING = Buffer.from([0x89, 0x00]);

/**
 * Pings an open socket, as `ws.ping()` does but in one write of a shared frame: ws makes a header buffer per ping and
 * corks the socket for it and an empty body. The keep-alive pings thousands of quiet sockets a minute.
 */
export function sendPing(socket: WebSocket): void {
  if (socket.readyState !== socket.OPEN) return;
  const raw = writableNow(socket);
  if (raw) raw.write(PING);
  else socket.ping();
}

/**
 * Sends the envelope of one operation around a payload serialised once for the whole group, as one text message.
 */
export function sendEnveloped(socket: WebSocket, { prefix, prefixBytes }: Envelope, payload: Buffer): void {
  if (socket.readyState !== socket.OPEN) return;
  const length = prefixBytes + payload.length + 1;
  const raw = writableNow(socket);
  if (!raw) {
    const message = Buffer.allocUnsafe(length);
    message.write(prefix, 0);
    message.set(payload, prefixBytes);
    message[length - 1] = CLOSE_BRACE;
    socket.send(message, { binary: false });
    return;
  }
  const head = headerLength(length);
  const frame = Buffer.allocUnsafe(head + length);
  frame[0] = FIN_TEXT;
  if (head === 2) frame[1] = length;
  else if (head === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt16BE(0, 2);
    frame.writeUIntBE(length, 4, 6);
  }
  frame.write(prefix, head);
  frame.set(payload, head + prefixBytes);
  frame[head + length - 1] = CLOSE_BRACE;
  raw.write(frame);
}
