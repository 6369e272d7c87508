import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { screen, waitFor } from '@testing-library/react';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, pruneEventLog, spawnServer, type ServerProcess } from '../../server/test/helpers/process.js';
import { ConnectionStatusBadge } from '../src/components/connection/ConnectionStatusBadge';
import { SchedulePage } from '../src/pages/SchedulePage';
import { bookWithPatel, freshDay, login, openSession, renderWithSession } from './helpers';

/**
 * A page away for longer than the server keeps its event log (docs/integrators.md, "Retention"): its cursor is
 * answered `CURSOR_EXPIRED`, and the page reads again what the stream feeds and goes on live, without anyone's help.
 * A real server process on the embedded database; the log is pruned with the operators' command while it is stopped
 * (the embedded database has one process at a time), as of now rather than 30 days ago.
 */
// Each test stops and starts a real server process: on a loaded two-core machine (the whole suite beside it) a
// restart alone can take 15 s, so these get more than the suite's 30 s.
describe('Event log retention', { timeout: 90_000 }, () => {
  let dataDir: string;
  let env: Record<string, string>;
  let server: ServerProcess;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'derm-client-retention-'));
    env = { PORT: String(await freePort()), DATA_DIR: dataDir };
    server = await spawnServer(env);
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const book = (token: string, date: string, time: string, patient: number) =>
    bookWithPatel(token, { date, time, patient }, server.url);

  const badge = () => screen.getByTestId('connection-badge').textContent;

  it('should read the schedule again when its cursor has expired, then go on live from where the log stood', async () => {
    // Reconnects only when told (the button), so that the server can be stopped and started in between.
    const me = await openSession('sunrise-derm', 'frontdesk', {
      base: server.url,
      timing: { maxAttempts: 3, waitMs: 600_000, maxWaitMs: 600_000 },
    });
    const colleague = await login('sunrise-derm', 'nurse', server.url);
    const day = freshDay();
    renderWithSession(
      <>
        <ConnectionStatusBadge />
        <SchedulePage />
      </>,
      me,
      { route: `/schedule?date=${day}` },
    );
    await waitFor(() => expect(badge()).toBe('Live'));
    await screen.findByText(/0 appointments/);
    await book(colleague.token, day, '09:00', 1);
    await screen.findByText(/1 appointment ·/);
    const stale = me.apollo.cursors.entries().find(([key]) => key.startsWith('AppointmentChanged'))![1];

    // Away: a booking the page does not hear, then the log pruned past it.
    await server.stop();
    await waitFor(() => expect(badge()).toMatch(/^Reconnecting/));
    server = await spawnServer(env);
    const missed = await book(colleague.token, day, '10:00', 2);
    await server.stop();
    expect(await pruneEventLog(dataDir)).toMatch(/pruned [1-9]\d* events/);
    server = await spawnServer(env);

    const httpBefore = me.http.length;
    const sentBefore = me.sent.length;
    me.apollo.reconnect();
    await waitFor(() => expect(badge()).toBe('Live'), { timeout: 15_000 });
    // Read again over HTTP: the booking made while away is on screen.
    await screen.findByText(/2 appointments/, undefined, { timeout: 10_000 });
    expect(me.apollo.client.cache.extract()).toHaveProperty([`Appointment:${missed}`]);
    expect(me.http.slice(httpBefore)).toContain('SchedulePage');
    // Subscribed twice: with the stale cursor (refused), then after the cursor the server answered with.
    const resubscribes = me.sent
      .slice(sentBefore)
      .filter((f) => f.type === 'subscribe' && f.payload?.operationName === 'AppointmentChanged');
    expect(resubscribes.map((f) => f.payload?.variables?.after)).toEqual([stale, expect.any(String)]);
    const head = resubscribes[1].payload!.variables!.after as string;
    expect(head).not.toBe(stale);

    // And live again.
    const live = await book(colleague.token, day, '11:00', 3);
    await screen.findByText(/3 appointments/, undefined, { timeout: 10_000 });
    expect(me.apollo.client.cache.extract()).toHaveProperty([`Appointment:${live}`]);
    await me.apollo.dispose();
  });
});
