import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { integrationToken, integrationsCli, liveSocket } from '../helpers/integrations.js';
import { spawnServer } from '../helpers/process.js';
import { TEST_REDIS_URL } from '../helpers/services.js';
import { createTestDatabase } from '../helpers/testServer.js';

// Several instances share revocations through Redis; the embedded project has one process's pub/sub by design.
describe('Revocation across instances', () => {
  it("should close the client's socket on another instance at once, whether an admin or the operators' script revokes", async () => {
    const database = await createTestDatabase();
    const env = {
      DATABASE_URL: database.url!,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_NAMESPACE: `test-${Date.now()}`,
      // The instances' periodic re-check out of the way, so that only the signal can close the connections.
      RECHECK_INTERVAL: '3600',
    };
    const a = await spawnServer(env);
    const b = await spawnServer(env);
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const login = async (url: string) =>
        (await (
          await fetch(`${url}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              query:
                'mutation { login(tenant: "sunrise-derm", email: "admin@sunrise.example", password: "derm-demo-2026") { token } }',
            }),
          })
        ).json()) as { data: { login: { token: string } } };
      const admin = (await login(a.url)).data.login.token;
      const create = async () => {
        const res = (await (
          await fetch(`${a.url}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
            body: JSON.stringify({
              query:
                'mutation { createIntegrationClient(input: { name: "Bridge", scopes: ["appointments:read"] }) { clientSecret client { id } } }',
            }),
          })
        ).json()) as { data: { createIntegrationClient: { clientSecret: string; client: { id: string } } } };
        return {
          id: res.data.createIntegrationClient.client.id,
          secret: res.data.createIntegrationClient.clientSecret,
        };
      };

      // Revoked by an admin on instance A, connected to instance B.
      const first = await create();
      const onB = await liveSocket(b, await integrationToken(b.url, first));
      // Acknowledged: B listens for the client's revocation from here on.
      await onB.connected;
      let revokedAt = Date.now();
      await fetch(`${a.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
        body: JSON.stringify({
          query: 'mutation($id: ID!) { revokeIntegrationClient(id: $id) { id } }',
          variables: { id: first.id },
        }),
      });
      let closed = await onB.whenClosed(10_000);
      expect(closed).toMatchObject({ code: 4403, reason: 'Client revoked' });
      // The signal did it (B's periodic re-check is an hour away), and at once.
      expect(closed.at - revokedAt).toBeLessThan(2500);

      // Revoked by the operators' script, which publishes the same signal through Redis.
      const second = await create();
      const alsoOnB = await liveSocket(b, await integrationToken(b.url, second));
      await alsoOnB.connected;
      revokedAt = Date.now();
      const res = await integrationsCli(['revoke', '--tenant', 'sunrise-derm', second.id], env);
      expect(res.stdout).toContain('Its live connections were told to close.');
      closed = await alsoOnB.whenClosed(10_000);
      expect(closed.at - revokedAt).toBeLessThan(4000);
      await Promise.all([onB.socket.dispose(), alsoOnB.socket.dispose()]);
    } finally {
      redis.disconnect();
      await Promise.all([a.stop(), b.stop()]);
      await database.drop();
    }
  });
});
