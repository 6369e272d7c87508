import net from 'node:net';

/**
 * A TCP proxy to a server on this machine (127.0.0.1). `drop(true)` stops passing bytes either way without closing
 * anything: what a phone sees when Wi-Fi drops (packets lost, no FIN, no close frame); new connections made meanwhile
 * hang too. `hold(true)` keeps the bytes and passes them on `hold(false)`: a slow link.
 */
export async function flakyProxy(targetPort: string | number) {
  let mode: 'pass' | 'drop' | 'hold' = 'pass';
  const held: (() => void)[] = [];
  const sockets = new Set<net.Socket>();
  const forward = (to: net.Socket) => (chunk: Buffer) => {
    if (mode === 'pass') to.write(chunk);
    else if (mode === 'hold') held.push(() => to.write(chunk));
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(targetPort), '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    client.on('data', forward(upstream));
    upstream.on('data', forward(client));
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const set = (next: typeof mode) => {
    mode = next;
    if (mode === 'pass') for (const write of held.splice(0)) write();
  };
  return {
    port: (server.address() as net.AddressInfo).port,
    drop: (on: boolean) => set(on ? 'drop' : 'pass'),
    hold: (on: boolean) => set(on ? 'hold' : 'pass'),
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}
