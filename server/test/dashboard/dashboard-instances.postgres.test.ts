import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEMO_CLINICS, demoEmail } from '../../src/db/seeds/demo.js';
import { CONNECTION_DASHBOARD, latestDashboard, rowOf } from '../helpers/dashboard.js';
import { instanceClients } from '../helpers/instances.js';
import { PRESENCE } from '../helpers/presence.js';
import { spawnServer, type ServerProcess } from '../helpers/process.js';
import { TEST_REDIS_URL } from '../helpers/services.js';
import { createTestDatabase } from '../helpers/testServer.js';
import { collect } from '../helpers/ws.js';

// Instances share the dashboard through Redis pub/sub only: postgres project.
describe('connectionDashboard across instances', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let watched: ServerProcess;
  let other: ServerProcess;
  const sunrise = instanceClients('sunrise-derm');
  const lakeside = instanceClients('lakeside-skin');
  const ids: Record<string, string> = {};
  const WAIT = { timeout: 15_000, interval: 100 };

  beforeAll(async () => {
    database = await createTestDatabase();
    for (const row of await database
      .db('users')
      .join('tenants', 'tenants.id', 'users.tenantId')
      .select('users.id', 'users.email'))
      ids[row.email] = row.id;
    const env = {
      DATABASE_URL: database.url!,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_NAMESPACE: `test-${randomBytes(4).toString('hex')}`,
    };
    [watched, other] = await Promise.all([spawnServer(env), spawnServer(env)]);
  });
  afterAll(async () => {
    await Promise.all([sunrise.dispose(), lakeside.dispose()]);
    await Promise.all([watched, other].map((p) => p?.stop('SIGKILL')));
    await database?.drop();
  });

  const idOf = (email: string) => {
    const id = ids[email];
    if (!id) throw new Error(`no user ${email}`);
    return id;
  };

  it("merges both instances' connections, shows one appear and go on the other instance, and nothing of another clinic", async () => {
    const admin = await sunrise.login(watched, 'admin');
    const dashboard = await sunrise.subscribedOver(watched, sunrise.connect(watched, admin), CONNECTION_DASHBOARD);
    await dashboard.waitFor(1, 10_000);
    const [watchedId] = latestDashboard(dashboard).instances.map((i) => i.id);

    // A nurse of the clinic on the other instance, and a nurse of another clinic there too.
    const clinic = (slug: string) => DEMO_CLINICS.find((c) => c.slug === slug)!;
    const nurse = idOf(demoEmail(clinic('sunrise-derm'), 'nurse'));
    const theirNurse = idOf(demoEmail(clinic('lakeside-skin'), 'nurse'));
    const nurseSocket = sunrise.connect(other, await sunrise.login(other, 'nurse'));
    await sunrise.subscribedOver(other, nurseSocket, PRESENCE);
    const theirSocket = lakeside.connect(other, await lakeside.login(other, 'nurse'));
    await lakeside.subscribedOver(other, theirSocket, PRESENCE);

    await vi.waitFor(() => {
      const snapshot = latestDashboard(dashboard);
      expect(snapshot.instances).toHaveLength(2);
      expect(rowOf(snapshot, nurse)?.connections).toEqual([
        expect.objectContaining({ transport: 'WEBSOCKET', subscriptions: 1 }),
      ]);
    }, WAIT);
    const snapshot = latestDashboard(dashboard);
    const otherId = snapshot.instances.find((i) => i.id !== watchedId)!.id;
    expect(rowOf(snapshot, nurse)!.connections[0].instanceId).toBe(otherId);
    expect(rowOf(snapshot, nurse)!.status).toBe('ONLINE');
    // The other clinic's nurse is on that instance too, and counted nowhere here.
    expect(snapshot.instances.find((i) => i.id === otherId)).toMatchObject({ connections: 1, subscriptions: 1 });

    await nurseSocket.dispose();
    await vi.waitFor(() => expect(rowOf(latestDashboard(dashboard), nurse)).toBeUndefined(), WAIT);
    for (const result of dashboard.results) {
      for (const row of result.data!.connectionDashboard.users) expect(row.user.id).not.toBe(theirNurse);
    }
  });

  it('refuses a non-admin on any instance', async () => {
    const nurse = await sunrise.login(other, 'nurse');
    const refused = collect(sunrise.connect(other, nurse), CONNECTION_DASHBOARD);
    const [result] = await refused.waitFor(1);
    expect(result.errors).toEqual([
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'FORBIDDEN' }) }),
    ]);
  });
});
