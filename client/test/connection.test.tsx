import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fireEvent, screen, waitFor } from '@testing-library/react';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, spawnServer, type ServerProcess } from '../../server/test/helpers/process.js';
import { flakyProxy } from '../../server/test/helpers/proxy.js';
import type { ConnectionTiming } from '../src/apollo/timing';
import { ConnectionStatusBadge } from '../src/components/connection/ConnectionStatusBadge';
import { ConnectionStatusIndicator } from '../src/components/connection/ConnectionStatusIndicator';
import { addDays } from '../src/lib/time';
import { usePatientViewing } from '../src/hooks/usePatientViewing';
import { usePresenceEvents } from '../src/hooks/usePresenceEvents';
import { SchedulePage } from '../src/pages/SchedulePage';
import {
  bookWithPatel,
  clinicIds,
  connected,
  freshDay,
  login,
  openSession,
  renderWithSession,
  type TestSession,
} from './helpers';

/**
 * The server goes away and comes back on the same address (a deploy, a crash, Wi-Fi): a real server process, stopped
 * and started again over the same embedded database.
 */
// Each test stops and starts a real server process: on a loaded two-core machine (the whole suite beside it) a
// restart alone can take 15 s, so these get more than the suite's 30 s.
describe('Connection status and resume', { timeout: 90_000 }, () => {
  let dataDir: string;
  let base: string;
  let env: Record<string, string>;
  let server: ServerProcess;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'derm-client-'));
    const port = await freePort();
    env = { PORT: String(port), DATA_DIR: dataDir };
    server = await spawnServer(env);
    base = server.url;
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const book = (token: string, date: string, time: string, patient: number) =>
    bookWithPatel(token, { date, time, patient, reason: 'Booked while away' }, base);

  function Ephemeral({ patientId }: { patientId: string }) {
    usePresenceEvents();
    usePatientViewing(patientId);
    return null;
  }

  function Screen({ patientId }: { patientId?: string }) {
    return (
      <>
        <ConnectionStatusBadge />
        <ConnectionStatusIndicator />
        <SchedulePage />
        {patientId && <Ephemeral patientId={patientId} />}
      </>
    );
  }

  const badge = () => screen.getByTestId('connection-badge').textContent;

  /**
   * A front desk on a fresh day, live with nothing booked, whose server then goes away; a colleague to book once it is
   * back.
   */
  async function liveOnAFreshDayThenServerAway(timing: Partial<ConnectionTiming>) {
    const me = await openSession('sunrise-derm', 'frontdesk', { base, timing });
    const colleague = await login('sunrise-derm', 'nurse', base);
    const day = freshDay();
    renderWithSession(<Screen />, me, { route: `/schedule?date=${day}` });
    await waitFor(() => expect(badge()).toBe('Live'));
    await screen.findByText(/0 appointments/);
    await server.stop();
    await waitFor(() => expect(badge()).toMatch(/^Reconnecting/));
    return { me, colleague, day };
  }

  it('should count the attempts, say offline after the last, go on trying by itself, and replay what was missed from the cursor', async () => {
    const me: TestSession = await openSession('sunrise-derm', 'frontdesk', {
      base,
      timing: { maxAttempts: 3, waitMs: 300, maxWaitMs: 1_000 },
    });
    const colleague = await login('sunrise-derm', 'nurse', base);
    const day = freshDay();
    const patientId = (await clinicIds(me.token, base)).patients[0].id;
    renderWithSession(<Screen patientId={patientId} />, me, { route: `/schedule?date=${day}` });
    await waitFor(() => expect(badge()).toBe('Live'));
    await screen.findByText(/0 appointments/);

    // One event before the outage: the stream has a cursor.
    const first = await book(colleague.token, day, '09:00', 1);
    await screen.findByText(/1 appointment ·/);
    const cursor = me.apollo.cursors.entries().find(([key]) => key.startsWith('AppointmentChanged'))?.[1];
    expect(cursor).toBeTruthy();

    // Every state the link goes through, as the connection store tells it (a busy machine may pass through the
    // attempts faster than a look at the screen would catch them).
    const states: string[] = [];
    const stopWatching = me.apollo.connection.subscribe(() => {
      const state = me.apollo.connection.getSnapshot();
      const label = state.status === 'reconnecting' ? `reconnecting ${state.attempt}` : state.status;
      if (states.at(-1) !== label) states.push(label);
    });
    await server.stop();
    await waitFor(() => expect(badge()).toBe('Offline'), { timeout: 10_000 });
    stopWatching();
    expect(states).toEqual(['reconnecting 1', 'reconnecting 2', 'reconnecting 3', 'disconnected']);
    expect(screen.getByText(/Live updates are off\./)).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Reconnect now' })).toBeTruthy();

    // Counted while the server is down: once it is up, the client (trying every second at most) may reconnect and
    // resubscribe before the booking below is answered.
    const httpBefore = me.http.length;
    const subscribesBefore = me.sent.length;
    server = await spawnServer(env);
    // Made while this client is (most likely) still offline; if it is already back, the event comes live instead.
    const second = await book(colleague.token, day, '10:00', 2);

    // No click: "Offline" goes on trying, at most `maxWaitMs` apart.
    // "Back online" shows for 4 s from the render that says "Live": looked for in that render, not after the checks
    // below, which on a loaded machine take longer than that.
    await waitFor(
      () => {
        expect(badge()).toBe('Live');
        expect(screen.getByText(/Back online/)).toBeTruthy();
      },
      { timeout: 15_000 },
    );
    await screen.findByText(/2 appointments/);
    const cached = me.apollo.client.cache.extract() as Record<string, unknown>;
    expect(cached[`Appointment:${second}`]).toBeTruthy();
    expect(cached[`Appointment:${first}`]).toBeTruthy();
    // It was replayed from the cursor on the resubscription, not re-read over HTTP.
    const resubscribe = me.sent
      .slice(subscribesBefore)
      .find((f) => f.type === 'subscribe' && f.payload?.operationName === 'AppointmentChanged');
    expect(resubscribe?.payload?.variables?.after).toBe(cursor);
    expect(me.http.slice(httpBefore)).not.toContain('SchedulePage');
    // Ephemeral state has no cursor: it is read again (the open chart's viewers too; the resubscription is the view).
    await waitFor(() =>
      expect(me.http.slice(httpBefore)).toEqual(expect.arrayContaining(['OnlineUsers', 'PatientViewers'])),
    );
    await me.apollo.dispose();
  });

  it('should notice a link that went silent (packets dropped, no close) by its missing pong, and come back once packets flow', async () => {
    const proxy = await flakyProxy(new URL(base).port);
    const me = await openSession('sunrise-derm', 'frontdesk', {
      base,
      wsUrl: `ws://127.0.0.1:${proxy.port}/graphql`,
      timing: { keepAliveMs: 300, pongTimeoutMs: 400, connectTimeoutMs: 1_000, waitMs: 200, maxWaitMs: 1_000 },
    });
    try {
      renderWithSession(<ConnectionStatusBadge />, me);
      await waitFor(() => expect(badge()).toBe('Live'));
      proxy.drop(true);
      const silentAt = Date.now();
      // No close frame, no FIN: only the pong deadline can tell.
      await waitFor(() => expect(badge()).toMatch(/^Reconnecting/), { timeout: 15_000 });
      // The deadline here is 0.7 s (a ping every 0.3 s, 0.4 s for its pong); a loaded machine may add some.
      expect(Date.now() - silentAt).toBeLessThan(5_000);
      expect(me.apollo.connection.getSnapshot().lastCloseCode).toBe(4499);
      proxy.drop(false);
      await waitFor(() => expect(badge()).toBe('Live'), { timeout: 10_000 });
    } finally {
      await me.apollo.dispose();
      proxy.close();
    }
  });

  it("should list a colleague who came online while this page's own link was still coming up", async () => {
    // graphql-ws does not acknowledge a subscription: what happens before the server has it is known only by reading.
    const proxy = await flakyProxy(new URL(base).port);
    proxy.hold(true);
    const me = await openSession('sunrise-derm', 'lee', { base, wsUrl: `ws://127.0.0.1:${proxy.port}/graphql` });
    let online: string[] = [];
    function Online() {
      online = usePresenceEvents().online.map((p) => p.user.name);
      return null;
    }
    let colleague: TestSession | undefined;
    try {
      renderWithSession(<Online />, me);
      // A page on a loaded machine or a slow network: its link takes seconds to come up, and meanwhile a colleague's
      // page comes online (before our presence stream exists on the server).
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      colleague = await openSession('sunrise-derm', 'patel', { base });
      await connected(colleague);
      expect(me.apollo.connection.getSnapshot().status).toBe('connecting');
      proxy.hold(false);
      await connected(me);
      await waitFor(() => expect(online).toContain('Dr. Arjun Patel'), { timeout: 5_000 });
    } finally {
      await colleague?.apollo.dispose();
      await me.apollo.dispose();
      proxy.close();
    }
  });

  it('should resume a stream that had received nothing after the cursor the server acknowledged the link with', async () => {
    const { me, colleague, day } = await liveOnAFreshDayThenServerAway({ maxAttempts: 30, waitMs: 500 });
    const subscribesBefore = me.sent.length;
    server = await spawnServer(env);
    await book(colleague.token, day, '11:00', 3);

    await waitFor(() => expect(badge()).toBe('Live'), { timeout: 20_000 });
    await screen.findByText(/1 appointment ·/);
    // Not from whenever the subscription reached the server: after the cursor of the acknowledgement (this one's, or
    // the first connection's when the stream was already running then). A stream that had none at the
    // acknowledgement also had what it feeds read again (createApolloSession.ts, `onReconnected`).
    const resubscribe = me.sent
      .slice(subscribesBefore)
      .find((f) => f.type === 'subscribe' && f.payload?.operationName === 'AppointmentChanged');
    expect(resubscribe?.payload?.variables?.after).toEqual(expect.any(String));
    await me.apollo.dispose();
  });

  it('should read again, as soon as the link is back, a day that failed to load moments before', async () => {
    // Failed queries are held back for two minutes here, far longer than the outage: the link coming back is what
    // lets the day be read again, not the end of the wait.
    const { me, colleague, day } = await liveOnAFreshDayThenServerAway({
      maxAttempts: 30,
      waitMs: 500,
      failedQueryWindowMs: 120_000,
    });
    // The next day, opened while the server is away: it cannot be read. (This file's server is its own: no other
    // file books on it, and this is its last test, so the day after a fresh one is free.)
    const next = addDays(day, 1);
    fireEvent.click(screen.getByRole('button', { name: 'Next day' }));
    await screen.findByText(/The server cannot be reached\. Check your connection/);
    const readsBefore = me.http.filter((name) => name === 'SchedulePage').length;

    server = await spawnServer(env);
    await book(colleague.token, next, '14:00', 4);
    await waitFor(() => expect(badge()).toBe('Live'), { timeout: 20_000 });
    await screen.findByText(/1 appointment ·/);
    expect(screen.queryByText(/The server cannot be reached\. Check your connection/)).toBeNull();
    // Read over HTTP once the link was back, not answered the failure it had remembered.
    expect(me.http.filter((name) => name === 'SchedulePage').length).toBeGreaterThan(readsBefore);
    await me.apollo.dispose();
  });
});
