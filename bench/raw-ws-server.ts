/**
 * The baseline of the fan-out benchmark: a bare `ws` server that broadcasts whatever bytes it is given, as the `ws`
 * README's broadcast example does. No protocol, no auth, no GraphQL: the floor of what pushing one frame to N
 * sockets costs in Node. Same `ws` version and WebSocket limits as the GraphQL server.
 *
 * A socket joins the audience named in its URL (`/graphql?audience=clinic-3`), so that an event reaches the same
 * sockets as the GraphQL server's subscribers that received it (one clinic's, one user's), each with the frame they
 * got.
 *
 *   POST /broadcast?to=<audience>&bytes=<length>[&to=…&bytes=…]   body = the frames, one after the other; each sent
 *                                                                   as a text frame to every open socket of its
 *                                                                   audience, then 204
 *   GET  /stats       {"clients": <open sockets>}
 *
 * Prints `{"url":"http://127.0.0.1:<port>","msg":"raw ws listening"}` once listening. Exits on SIGTERM, or when the
 * benchmark that started it goes away (IPC disconnect).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';

const audiences = new Map<string, Set<WebSocket>>();

function broadcast(req: IncomingMessage, res: ServerResponse): void {
  const query = new URL(req.url!, 'http://raw').searchParams;
  const names = query.getAll('to');
  const lengths = query.getAll('bytes').map(Number);
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    let offset = 0;
    names.forEach((name, i) => {
      const frame = body.subarray(offset, offset + lengths[i]);
      offset += lengths[i];
      for (const client of audiences.get(name) ?? []) {
        if (client.readyState === WebSocket.OPEN) client.send(frame, { binary: false });
      }
    });
    res.writeHead(offset === body.length ? 204 : 400).end();
  });
}

const httpServer = createServer((req, res) => {
  if (req.method === 'POST' && req.url?.startsWith('/broadcast?')) {
    broadcast(req, res);
    return;
  }
  if (req.method === 'GET' && req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ clients: wss.clients.size }));
    return;
  }
  res.writeHead(404).end();
});

// The GraphQL server's limit (server/src/http/websocket.ts SocketLimits.maxPayload); compression off, as there.
const wss = new WebSocketServer({ server: httpServer, path: '/graphql', maxPayload: 64 * 1024 });
wss.on('connection', (socket, req) => {
  const name = new URL(req.url!, 'http://raw').searchParams.get('audience') ?? '';
  let members = audiences.get(name);
  if (!members) audiences.set(name, (members = new Set()));
  members.add(socket);
  socket.on('close', () => members.delete(socket));
  socket.on('error', () => socket.terminate());
});

httpServer.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
  const { address, port } = httpServer.address() as AddressInfo;
  console.log(JSON.stringify({ url: `http://${address}:${port}`, msg: 'raw ws listening' }));
});

const stop = () => {
  for (const client of wss.clients) client.terminate();
  httpServer.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('disconnect', stop);
