import net from 'node:net';

/** Where the tests find PostgreSQL: TEST_DATABASE_URL, or the local server with trust auth. */
export const ADMIN_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * `PASSWORD_HASH_COST` of every server, seed and operators' command the tests start: scrypt at 2^10 (~2 ms, 1 MiB)
 * rather than production's 2^15 (~100 ms of CPU and 32 MiB each here): a run signs in, creates users and seeds
 * some 250 times per server project. config.test.ts holds production's cost to its default and to a working hash.
 */
export const TEST_PASSWORD_HASH_COST = 10;

/** Resolves when a TCP connection opens within the deadline; rejects otherwise. */
export function reachable(url: string, timeoutMs = 3000): Promise<void> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer from ${hostname}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.end();
      resolve();
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
