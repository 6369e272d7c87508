import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEMO_CLINICS, demoEmail } from '../../src/db/seeds/demo.js';
import { sweepIntervalMs } from '../../src/realtime/service.js';
import { spawnServer, type ServerProcess } from '../helpers/process.js';
import { TEST_REDIS_URL } from '../helpers/services.js';
import { instanceClients } from '../helpers/instances.js';
import { createTestDatabase } from '../helpers/testServer.js';
import { ONLINE_USERS, overSocket, PRESENCE, signal, signalsOf, type PresenceEvent } from '../helpers/presence.js';

// Instances share presence only through Redis and PostgreSQL; the embedded database and the in-process pub/sub
// belong to one process. So this runs in the postgres project only (which always has both).
describe('presence across instances', () => {
  const TTL_SECONDS = 3;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let crashing: ServerProcess;
  let observing: ServerProcess;
  let draining: ServerProcess;
  let stalling: ServerProcess;
  const clients = instanceClients();
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    // Migrated and seeded already (a copy of the run's template): the instances start side by side.
    database = await createTestDatabase();
    const tenant = await database.db('tenants').where({ slug: 'sunrise-derm' }).first('id');
    for (const row of await database.db('users').where({ tenantId: tenant.id }).select('id', 'email'))
      ids[row.email] = row.id;
    const env = {
      DATABASE_URL: database.url!,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_NAMESPACE: `test-${randomBytes(4).toString('hex')}`,
    };
    [crashing, observing, stalling, draining] = await Promise.all([
      spawnServer({ ...env, PRESENCE_TTL: String(TTL_SECONDS) }),
      spawnServer({ ...env, PRESENCE_TTL: String(TTL_SECONDS) }),
      spawnServer({ ...env, PRESENCE_TTL: String(TTL_SECONDS) }),
      // The default time to live: going offline well before it proves that a graceful stop does not wait for it.
      spawnServer(env),
    ]);
  });
  afterAll(async () => {
    await clients.dispose();
    stalling?.child.kill('SIGCONT');
    await Promise.all([crashing, observing, stalling, draining].map((p) => p?.stop('SIGKILL')));
    await database?.drop();
  });

  const clinic = DEMO_CLINICS.find((c) => c.slug === 'sunrise-derm')!;
  const { login, post, connectDoomed, connect, subscribedOver } = clients;
  const subscribedOn = (instance: ServerProcess, token: string) =>
    subscribedOver(instance, connect(instance, token), PRESENCE);

  it('shows a user connected to one instance as online on another, and offline within the TTL once that instance is killed', async () => {
    const frontdesk = ids[demoEmail(clinic, 'frontdesk')];
    const [nurse, desk] = await Promise.all([login(observing, 'nurse'), login(crashing, 'frontdesk')]);
    const seen = await subscribedOn(observing, nurse);

    await overSocket(connectDoomed(crashing, desk));
    await signal(seen, frontdesk, 'ONLINE');
    const listed = await post(observing, ONLINE_USERS, {}, nurse);
    expect(listed.data.onlineUsers).toContainEqual(
      expect.objectContaining({ status: 'ONLINE', user: expect.objectContaining({ id: frontdesk }) }),
    );

    const killedAt = Date.now();
    await crashing.stop('SIGKILL');
    // Renewed every TTL/3, lapsed after TTL, found by the next sweep (TTL/6 here): margin for a loaded machine.
    const deadline =
      TTL_SECONDS * 1000 + sweepIntervalMs({ presenceTtlSeconds: TTL_SECONDS, viewingTtlSeconds: 30 }) + 3000;
    const offline = await signal(seen, frontdesk, 'OFFLINE', 1, deadline);
    const elapsed = Date.now() - killedAt;
    console.info(`presence: OFFLINE ${elapsed} ms after SIGKILL (PRESENCE_TTL=${TTL_SECONDS}s)`);
    expect(elapsed).toBeLessThanOrEqual(deadline);
    expect(new Date(offline.lastSeenAt).getTime()).toBeLessThanOrEqual(Date.now());
    const after = await post(observing, ONLINE_USERS, {}, nurse);
    expect(after.data.onlineUsers.map((p: PresenceEvent) => p.user.id)).not.toContain(frontdesk);
    expect(signalsOf(seen, frontdesk).map((p) => p.status)).toEqual(['ONLINE', 'OFFLINE']);
  });

  it('keeps a connected user online through several times the TTL, and online again after a stall that let them lapse', async () => {
    const lee = ids[demoEmail(clinic, 'lee')];
    const [nurse, drLee] = await Promise.all([login(observing, 'nurse'), login(stalling, 'lee')]);
    const seen = await subscribedOn(observing, nurse);
    await overSocket(connectDoomed(stalling, drLee));
    await signal(seen, lee, 'ONLINE');

    // Renewed (every TTL/3, all of the instance's connections at once) for three times the TTL: never lapsed.
    const onlineAt = Date.now();
    await vi.waitUntil(() => Date.now() - onlineAt > 3 * TTL_SECONDS * 1000, { timeout: 20_000, interval: 100 });
    const listed = await post(observing, ONLINE_USERS, {}, nurse);
    expect(listed.data.onlineUsers.map((p: PresenceEvent) => p.user.id)).toContain(lee);
    expect(signalsOf(seen, lee).map((p) => p.status)).toEqual(['ONLINE']);

    // The instance stalls (stopped, its socket still open): not renewed, Dr. Lee lapses and another instance's sweep
    // says so. Once it runs again, its renewal finds her gone, puts her back and says so.
    const deadline =
      TTL_SECONDS * 1000 + sweepIntervalMs({ presenceTtlSeconds: TTL_SECONDS, viewingTtlSeconds: 30 }) + 3000;
    stalling.child.kill('SIGSTOP');
    try {
      await signal(seen, lee, 'OFFLINE', 1, deadline);
    } finally {
      stalling.child.kill('SIGCONT');
    }
    await signal(seen, lee, 'ONLINE', 2, deadline);
    expect(signalsOf(seen, lee).map((p) => p.status)).toEqual(['ONLINE', 'OFFLINE', 'ONLINE']);
    const relisted = await post(observing, ONLINE_USERS, {}, nurse);
    expect(relisted.data.onlineUsers.map((p: PresenceEvent) => p.user.id)).toContain(lee);
  });

  it('takes the users of a gracefully stopped instance offline at once, not after the TTL', async () => {
    const patel = ids[demoEmail(clinic, 'patel')];
    const [admin, drPatel] = await Promise.all([login(observing, 'admin'), login(draining, 'patel')]);
    const seen = await subscribedOn(observing, admin);
    await overSocket(connectDoomed(draining, drPatel));
    await signal(seen, patel, 'ONLINE');

    const stoppedAt = Date.now();
    expect(await draining.stop('SIGTERM')).toBe(0);
    // Its time to live is 30 s: well within that, the offline came from the shutdown itself.
    await signal(seen, patel, 'OFFLINE', 1, 10_000);
    expect(Date.now() - stoppedAt).toBeLessThan(10_000);
  });
});
