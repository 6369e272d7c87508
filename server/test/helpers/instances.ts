import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { expect, vi } from 'vitest';
import { DEMO_CLINICS, DEMO_PASSWORD, demoEmail } from '../../src/db/seeds/demo.js';
import type { ServerProcess } from './process.js';
import { metric } from './realtime.js';
import { collect, wsClient, type Collected } from './ws.js';

/**
 * Clients of server processes (`spawnServer`) for tests of several instances sharing PostgreSQL and Redis: sign in,
 * post, connect, subscribe and wait until the instance holds the stream. `dispose` closes every client it opened.
 */
export function instanceClients(slug = 'sunrise-derm') {
  const clinic = DEMO_CLINICS.find((c) => c.slug === slug)!;
  const clients: Client[] = [];

  async function post(instance: ServerProcess, query: string, variables: Record<string, unknown> = {}, token?: string) {
    const res = await fetch(`${instance.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as { data: any; errors?: unknown[] };
  }

  const connect = (instance: ServerProcess, token: string) => {
    const client = wsClient(instance.url, { token });
    clients.push(client);
    return client;
  };

  return {
    post,
    connect,
    /** A demo user's token, from this instance. */
    async login(instance: ServerProcess, key: string): Promise<string> {
      const res = await post(
        instance,
        'mutation($t: String!, $e: String!, $p: String!) { login(tenant: $t, email: $e, password: $p) { token } }',
        { t: clinic.slug, e: demoEmail(clinic, key), p: DEMO_PASSWORD },
      );
      return res.data.login.token;
    },
    /** A connection to an instance that is about to go away: losing it is expected, not an error for the console. */
    connectDoomed(instance: ServerProcess, token: string): Client {
      const client = createClient({
        url: `${instance.url.replace(/^http/, 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${token}` },
        lazy: false,
        retryAttempts: 0,
        onNonLazyError: () => {},
      });
      clients.push(client);
      return client;
    },
    /** Subscribes over `client` and resolves once the instance holds one more live stream (read from /metrics). */
    async subscribedOver(
      instance: ServerProcess,
      client: Client,
      query: string,
      variables: Record<string, unknown> = {},
    ): Promise<Collected> {
      const before = await metric(instance.url, 'derm_subscription_streams');
      const seen = collect(client, query, variables);
      await vi.waitFor(
        async () => expect(await metric(instance.url, 'derm_subscription_streams')).toBeGreaterThan(before),
        { timeout: 10_000 },
      );
      return seen;
    },
    dispose: () => Promise.all(clients.splice(0).map((c) => c.dispose())),
  };
}
