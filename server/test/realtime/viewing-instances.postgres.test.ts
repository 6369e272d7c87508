import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sweepIntervalMs } from '../../src/realtime/service.js';
import { instanceClients } from '../helpers/instances.js';
import { spawnServer, type ServerProcess } from '../helpers/process.js';
import { TEST_REDIS_URL } from '../helpers/services.js';
import { createTestDatabase } from '../helpers/testServer.js';
import type { Collected } from '../helpers/ws.js';

const CHANGED = 'subscription($p: ID!) { patientViewersChanged(patientId: $p) { viewers { name } } }';
const VIEWERS = 'query($p: ID!) { patientViewers(patientId: $p) { name } }';

/** The viewer names of the last change received. */
const lastChange = (seen: Collected): string[] | undefined =>
  seen.results.at(-1)?.data!.patientViewersChanged.viewers.map((u: { name: string }) => u.name);

// Instances share chart viewers only through Redis: PostgreSQL project only (as presence-instances).
describe('chart viewers across instances', () => {
  const TTL_SECONDS = 3;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let crashing: ServerProcess;
  let observing: ServerProcess;
  let patients: string[];
  const clients = instanceClients();
  const { login, post, connect, connectDoomed, subscribedOver } = clients;

  beforeAll(async () => {
    database = await createTestDatabase();
    const tenant = await database.db('tenants').where({ slug: 'sunrise-derm' }).first('id');
    patients = (await database.db('patients').where({ tenantId: tenant.id }).orderBy('id').select('id')).map(
      (p: { id: string }) => p.id,
    );
    const env = {
      DATABASE_URL: database.url!,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_NAMESPACE: `test-${randomBytes(4).toString('hex')}`,
      VIEWING_TTL: String(TTL_SECONDS),
    };
    [crashing, observing] = await Promise.all([spawnServer(env), spawnServer(env)]);
  });
  afterAll(async () => {
    await clients.dispose();
    await Promise.all([crashing, observing].map((p) => p?.stop('SIGKILL')));
    await database?.drop();
  });

  const viewersOn = async (instance: ServerProcess, token: string, chart: string): Promise<string[]> =>
    (await post(instance, VIEWERS, { p: chart }, token)).data.patientViewers.map((u: { name: string }) => u.name);

  it('shows a viewer on one instance to a subscriber on another, and takes them off within 2 s of closing the tab', async () => {
    const chart = patients[0];
    const [nurse, lee] = await Promise.all([login(observing, 'nurse'), login(crashing, 'lee')]);
    const seen = await subscribedOver(observing, connect(observing, nurse), CHANGED, { p: chart });
    const tab = connect(crashing, lee);
    await subscribedOver(crashing, tab, CHANGED, { p: chart });
    await vi.waitFor(() => expect(lastChange(seen)).toEqual(['Dr. Maya Lee', 'Sam Rivera']));

    const closedAt = Date.now();
    await tab.dispose();
    await vi.waitFor(() => expect(lastChange(seen)).toEqual(['Sam Rivera']), { timeout: 2_000 });
    expect(Date.now() - closedAt).toBeLessThan(2_000);
  });

  it('takes the viewers of a killed instance off within the TTL and the sweep, and keeps those renewed elsewhere', async () => {
    const chart = patients[1];
    const [nurse, lee, patel] = await Promise.all([
      login(observing, 'nurse'),
      login(crashing, 'lee'),
      login(observing, 'patel'),
    ]);
    const seen = await subscribedOver(observing, connect(observing, nurse), CHANGED, { p: chart });
    await subscribedOver(crashing, connectDoomed(crashing, lee), CHANGED, { p: chart });
    await subscribedOver(observing, connect(observing, patel), CHANGED, { p: chart });
    await vi.waitFor(() => expect(lastChange(seen)).toEqual(['Dr. Arjun Patel', 'Dr. Maya Lee', 'Sam Rivera']));

    const killedAt = Date.now();
    await crashing.stop('SIGKILL');
    // Renewed on each heartbeat (TTL/3), lapsed after the TTL, found by the next sweep: margin for a loaded machine.
    const deadline =
      TTL_SECONDS * 1000 + sweepIntervalMs({ presenceTtlSeconds: 30, viewingTtlSeconds: TTL_SECONDS }) + 3000;
    await vi.waitFor(() => expect(lastChange(seen)).toEqual(['Dr. Arjun Patel', 'Sam Rivera']), { timeout: deadline });
    const elapsed = Date.now() - killedAt;
    console.info(`viewing: a killed instance's viewer left ${elapsed} ms after SIGKILL (VIEWING_TTL=${TTL_SECONDS}s)`);
    expect(elapsed).toBeLessThanOrEqual(deadline);
    // The observing instance's own viewers, renewed past several times the TTL, stay.
    await vi.waitUntil(() => Date.now() - killedAt > 2 * TTL_SECONDS * 1000, { timeout: 20_000, interval: 100 });
    expect(await viewersOn(observing, nurse, chart)).toEqual(['Dr. Arjun Patel', 'Sam Rivera']);
    expect(lastChange(seen)).toEqual(['Dr. Arjun Patel', 'Sam Rivera']);
  });
});
