import WebSocket from 'ws';

/** A graphql-transport-ws message as it travels. */
export interface WireMessage {
  type: string;
  id?: string;
  payload?: any;
}

/**
 * A bare WebSocket speaking graphql-transport-ws by hand: for what a well-behaved client never sends (malformed
 * messages, floods, oversized frames) and for vanishing without a close handshake (`ws.terminate()`).
 */
export interface RawSocket {
  ws: WebSocket;
  /** Every message received so far, parsed. */
  messages: WireMessage[];
  /** Resolves with the close code and reason once the socket is closed. */
  closed: Promise<{ code: number; reason: string }>;
  /** Sends a message: objects as JSON, strings and buffers as they are. */
  send(message: object | string | Buffer): void;
  /** Resolves with the first message (received or to come) that matches. */
  waitFor(match: (m: WireMessage) => boolean, timeoutMs?: number): Promise<WireMessage>;
}

export interface RawSocketOptions {
  origin?: string;
  /** The subprotocol asked for; null asks for none. @default 'graphql-transport-ws' */
  protocol?: string | null;
}

function wsUrl(httpUrl: string): string {
  return httpUrl.replace(/^http/, 'ws') + '/graphql';
}

/** Opens a socket; rejects with the HTTP status when the upgrade is refused. */
export function openSocket(
  httpUrl: string,
  { origin, protocol = 'graphql-transport-ws' }: RawSocketOptions = {},
): Promise<RawSocket> {
  const ws = new WebSocket(wsUrl(httpUrl), protocol === null ? [] : protocol, origin ? { headers: { origin } } : {});
  const messages: WireMessage[] = [];
  const waiters: Array<{ match: (m: WireMessage) => boolean; resolve: (m: WireMessage) => void }> = [];
  ws.on('message', (data) => {
    const message = JSON.parse(String(data)) as WireMessage;
    messages.push(message);
    for (const w of waiters.filter((w) => w.match(message))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(message);
    }
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  const socket: RawSocket = {
    ws,
    messages,
    closed,
    send(message) {
      ws.send(typeof message === 'string' || Buffer.isBuffer(message) ? message : JSON.stringify(message));
    },
    waitFor(match, timeoutMs = 10_000) {
      const seen = messages.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(messages)}`)),
          timeoutMs,
        );
        waiters.push({
          match,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
        });
      });
    },
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(socket));
    ws.once('unexpected-response', (_req, res) => {
      reject(Object.assign(new Error(`upgrade refused with HTTP ${res.statusCode}`), { status: res.statusCode }));
      ws.terminate();
    });
    ws.once('error', reject);
  });
}

/** Opens a socket and completes `connection_init` with the token. */
export async function openAcknowledged(
  httpUrl: string,
  token: string,
  options: RawSocketOptions = {},
): Promise<RawSocket> {
  const socket = await openSocket(httpUrl, options);
  socket.send({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } });
  await socket.waitFor((m) => m.type === 'connection_ack');
  return socket;
}
