import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { waitFor } from '@testing-library/react';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, spawnServer, type ServerProcess } from '../../server/test/helpers/process.js';
import { useAppointmentEvents } from '../src/hooks/useAppointmentEvents';
import { useMessageEvents } from '../src/hooks/useMessageEvents';
import { useNotificationEvents } from '../src/hooks/useNotificationEvents';
import { usePatientViewing } from '../src/hooks/usePatientViewing';
import { usePresenceEvents } from '../src/hooks/usePresenceEvents';
import { useTypingIndicator } from '../src/hooks/useTypingIndicator';
import { clinicIds, connected, gql, openSession, renderWithSession, type TestSession } from './helpers';

const STREAMS = [
  'AppointmentChanged',
  'MessageAdded',
  'ReadReceiptAdded',
  'TypingChanged',
  'NotificationAdded',
  'PresenceChanged',
  'PatientViewersChanged',
];

/**
 * A server of this file's own: the first test counts the server's live streams (its metric), which other client test
 * files, running at the same time against the shared server, would move.
 */
describe('Live hooks', () => {
  let server: ServerProcess;
  let dataDir: string;
  let base: string;

  /** Live subscription streams of this file's server. */
  async function serverStreams(): Promise<number> {
    const text = await (await fetch(`${base}/metrics`)).text();
    return Number(/^derm_subscription_streams (\d+)/m.exec(text)?.[1] ?? NaN);
  }

  let lee: TestSession;
  let nurse: TestSession;
  let threadId: string;
  let patientId: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'derm-client-hooks-'));
    server = await spawnServer({ PORT: String(await freePort()), DATA_DIR: dataDir });
    base = server.url;
    lee = await openSession('sunrise-derm', 'lee', { base });
    nurse = await openSession('sunrise-derm', 'nurse', { base });
    threadId = (await gql(lee.token, '{ threads { id } }', {}, base)).threads[0].id;
    patientId = (await clinicIds(lee.token, base)).patients[0].id;
  });
  afterAll(async () => {
    await lee?.apollo.dispose();
    await nurse?.apollo.dispose();
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  function EveryHook() {
    useAppointmentEvents({ onCreated: () => {} });
    useMessageEvents({ threadId, onNewMessage: () => {}, onMessageRead: () => {}, onTyping: () => {} });
    useTypingIndicator(threadId);
    useNotificationEvents(() => {});
    usePresenceEvents();
    usePatientViewing(patientId);
    return null;
  }

  it('should keep one subscription per stream open under StrictMode, and none once unmounted', async () => {
    await connected(lee);
    const baseline = await serverStreams();
    const view = renderWithSession(<EveryHook />, lee, { strict: true });

    await waitFor(() =>
      expect(Object.fromEntries(STREAMS.map((s) => [s, lee.openSubscriptions(s)]))).toEqual(
        Object.fromEntries(STREAMS.map((s) => [s, 1])),
      ),
    );
    // StrictMode mounted every effect twice; the first subscriptions were completed (or never sent), not left behind.
    await waitFor(async () => expect(await serverStreams()).toBe(baseline + STREAMS.length));

    view.unmount();
    await waitFor(() => expect(lee.openSubscriptions()).toBe(0));
    await waitFor(async () => expect(await serverStreams()).toBe(baseline));
  });

  it('should count the user among the viewers while the chart is open, show who else has it open, and clear it on unmount', async () => {
    const othersSeen: Record<string, string[]> = {};
    function Chart({ who }: { who: string }) {
      othersSeen[who] = usePatientViewing(patientId).others.map((v) => v.name);
      return null;
    }
    const viewers = async () =>
      (
        await gql(nurse.token, 'query($p: ID!) { patientViewers(patientId: $p) { name } }', { p: patientId }, base)
      ).patientViewers.map((v: { name: string }) => v.name);
    const leeHttp = lee.http.length;

    const leeView = renderWithSession(<Chart who="lee" />, lee);
    await waitFor(async () => expect(await viewers()).toEqual(['Dr. Maya Lee']));
    expect(othersSeen.lee).toEqual([]);

    const nurseView = renderWithSession(<Chart who="nurse" />, nurse);
    // Lee's chart learns live that the nurse opened it too; the nurse's page shows Lee at once.
    await waitFor(() => expect(othersSeen.lee).toEqual(['Sam Rivera']));
    await waitFor(() => expect(othersSeen.nurse).toEqual(['Dr. Maya Lee']));

    nurseView.unmount();
    await waitFor(() => expect(othersSeen.lee).toEqual([]), { timeout: 2_000 });
    leeView.unmount();
    await waitFor(async () => expect(await viewers()).toEqual([]), { timeout: 2_000 });
    // The subscription was the view: nothing announced, renewed or left over HTTP.
    expect(lee.http.slice(leeHttp).filter((name) => name !== 'PatientViewers')).toEqual([]);
  });

  it('should show who else has the chart open in a second tab, where nothing changes when it opens', async () => {
    const othersSeen: Record<string, string[]> = {};
    function Chart({ who }: { who: string }) {
      othersSeen[who] = usePatientViewing(patientId).others.map((v) => v.name);
      return null;
    }
    const secondTab = await openSession('sunrise-derm', 'lee', { base });
    try {
      const leeView = renderWithSession(<Chart who="lee" />, lee);
      const nurseView = renderWithSession(<Chart who="nurse" />, nurse);
      await waitFor(() => expect(othersSeen.lee).toEqual(['Sam Rivera']));
      // Dr. Lee is a viewer already: no signal comes, the list is read.
      const tabView = renderWithSession(<Chart who="secondTab" />, secondTab);
      await waitFor(() => expect(othersSeen.secondTab).toEqual(['Sam Rivera']));
      expect(secondTab.http).toContain('PatientViewers');
      tabView.unmount();
      nurseView.unmount();
      leeView.unmount();
    } finally {
      await secondTab.apollo.dispose();
    }
  });

  it('should list a colleague who comes online, and drop them when they go', async () => {
    let online: string[] = [];
    function Online() {
      online = usePresenceEvents().online.map((p) => p.user.name);
      return null;
    }
    renderWithSession(<Online />, lee);
    await waitFor(() => expect(online).toContain('Dr. Maya Lee'));

    const patel = await openSession('sunrise-derm', 'patel', { base });
    await waitFor(() => expect(online).toContain('Dr. Arjun Patel'));
    await patel.apollo.dispose();
    await waitFor(() => expect(online).not.toContain('Dr. Arjun Patel'));
  });

  it('should remember the cursor of each durable stream it received events on', async () => {
    let received = 0;
    function Appointments() {
      useAppointmentEvents({ onCreated: () => (received += 1) });
      return null;
    }
    renderWithSession(<Appointments />, lee);
    await waitFor(() => expect(lee.openSubscriptions('AppointmentChanged')).toBe(1));
    const ids = await clinicIds(lee.token, base);
    const startsAt = new Date(Date.UTC(2032, 5, 1, 15));
    await gql(
      lee.token,
      'mutation($input: CreateAppointmentInput!) { createAppointment(input: $input) { id } }',
      {
        input: {
          providerId: ids.byKey('patel').id,
          patientId: ids.patients[5].id,
          startsAt: startsAt.toISOString(),
          endsAt: new Date(startsAt.getTime() + 900_000).toISOString(),
        },
      },
      base,
    );
    await waitFor(() => expect(received).toBe(1));
    expect(lee.apollo.cursors.entries()).toContainEqual(['AppointmentChanged:[]', expect.any(String)]);
  });
});
