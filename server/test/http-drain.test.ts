import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openAcknowledged } from './helpers/rawSocket.js';
import { startTestServer, type TestServer } from './helpers/testServer.js';

/** A bare HTTP/1.1 connection, as a browser's keep-alive connection or a slow upload looks to the server. */
interface RawHttp {
  socket: net.Socket;
  /** Everything the server sent so far. */
  received(): string;
  /** Resolves once the server has closed the connection. */
  closed: Promise<void>;
}

function connect(url: string): Promise<RawHttp> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    let text = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    socket.once('error', reject).once('connect', () => resolve({ socket, received: () => text, closed }));
  });
}

function refused(url: string): Promise<boolean> {
  return connect(url).then(
    ({ socket }) => {
      socket.destroy();
      return false;
    },
    (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED',
  );
}

const BODY = JSON.stringify({ query: '{ __typename }' });

function postHead(url: string, token: string): string {
  return [
    'POST /graphql HTTP/1.1',
    `Host: ${new URL(url).host}`,
    'Connection: keep-alive',
    'Content-Type: application/json',
    `Authorization: Bearer ${token}`,
    `Content-Length: ${Buffer.byteLength(BODY)}`,
    '',
    '',
  ].join('\r\n');
}

describe('stopping the server', () => {
  let server: TestServer | undefined;

  afterEach(async () => {
    await server?.stop().catch(() => {});
    server = undefined;
  });

  it('should answer the request in flight, close the idle connections and WebSockets, and take no new connection', async () => {
    const running = await startTestServer();
    server = running;
    const token = await running.login('sunrise-derm', 'frontdesk');

    // A keep-alive connection that made a request and now waits for the next.
    const idle = await connect(running.url);
    idle.socket.write(postHead(running.url, token) + BODY);
    await vi.waitFor(() => expect(idle.received()).toContain('"__typename":"Query"'), 10_000);
    // A request whose body is still on its way.
    const uploading = await connect(running.url);
    uploading.socket.write(postHead(running.url, token) + BODY.slice(0, 10));
    const ws = await openAcknowledged(running.url, token);

    server = undefined;
    const stopping = running.stop();
    await vi.waitFor(async () => expect(await refused(running.url)).toBe(true), 10_000);
    await idle.closed;
    expect(await ws.closed).toEqual({ code: 1001, reason: 'Going away' });
    // Still answered, then closed: the request was in flight when the server began to stop.
    expect(uploading.received()).toBe('');
    uploading.socket.write(BODY.slice(10));
    await uploading.closed;
    expect(uploading.received()).toMatch(/^HTTP\/1\.1 200 /);
    expect(uploading.received()).toContain('{"data":{"__typename":"Query"}}');
    await stopping;
  });
});
