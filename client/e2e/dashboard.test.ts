import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Client } from 'graphql-ws';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freePort, spawnServer, type ServerProcess } from '../../server/test/helpers/process.js';
import { collect, wsClient } from '../../server/test/helpers/ws.js';
import { addDays, today, zonedInstant } from '../src/lib/time.js';
import {
  api,
  apiLogin,
  buildClient,
  documentScreenshot,
  launchChromium,
  screenshotAll,
  seriousViolations,
  signIn,
  type Staff,
} from './browser.js';

/** How long a change may take to show on the dashboard (instances report at most once a second). */
const LIVE = 15_000;
const PHONE = { width: 390, height: 844 };
const PRESENCE = 'subscription { presence { status user { id } } }';
const APPOINTMENTS = 'subscription { appointmentChanged { kind appointment { id } } }';

/**
 * The admin connection dashboard in Chromium against the real server process serving the production build: Alex
 * Morgan (Sunrise's admin) watches while a colleague connects and disconnects (a graphql-ws client, as a second
 * browser's app would), and a user of Lakeside connects to the same server.
 */
describe('Connection dashboard in the browser', () => {
  let dataDir: string;
  let server: ServerProcess;
  let base: string;
  let browser: Browser;
  let admin: Staff;
  let phone: Staff | undefined;
  const sockets: Client[] = [];
  const everyone = () => [admin, phone].filter((s): s is Staff => !!s);

  beforeAll(async () => {
    await buildClient();
    dataDir = mkdtempSync(path.join(tmpdir(), 'derm-e2e-dashboard-'));
    server = await spawnServer({
      NODE_ENV: 'production',
      PORT: String(await freePort()),
      DATA_DIR: dataDir,
      SEED_DEMO: 'true',
    });
    base = server.url;
    browser = await launchChromium();
    admin = await signIn(browser, base, 'sunrise-derm', 'admin@sunrise.example', 'Alex Morgan');
  });

  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.dispose()));
    await browser?.close();
    await server?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  beforeEach((ctx) => {
    ctx.onTestFailed(() => screenshotAll(ctx.task.name, everyone()));
  });

  const connect = (token: string) => {
    const client = wsClient(base, { token });
    sockets.push(client);
    return client;
  };

  it("shows a colleague's connection appear and disappear live, and nothing of another clinic", async () => {
    const { page } = admin;
    await page.getByRole('link', { name: 'Connections' }).click();
    await page.getByRole('heading', { name: 'Connections', exact: true }).waitFor();
    const staff = page.getByRole('list', { name: 'Staff connections' });
    // The admin's own connection, with this page's subscription on it.
    await staff.getByRole('listitem').filter({ hasText: 'Alex Morgan' }).waitFor({ timeout: LIVE });
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));

    // Another clinic's front desk connects to the same server.
    const lakeside = connect(await apiLogin(base, 'lakeside-skin', 'frontdesk@lakeside.example'));
    const theirs = collect(lakeside, PRESENCE);
    // A colleague connects with two subscriptions.
    const nurseToken = await apiLogin(base, 'sunrise-derm', 'nurse@sunrise.example');
    const nurse = connect(nurseToken);
    collect(nurse, PRESENCE);
    const appointments = collect(nurse, APPOINTMENTS);
    const row = staff.getByRole('listitem').filter({ hasText: 'Sam Rivera' });
    await row.filter({ hasText: '2 subscriptions' }).waitFor({ timeout: LIVE });
    await expect(row.getByText('Online', { exact: true }).count()).resolves.toBe(1);

    // Something delivered, for the latency chart: a booking the nurse's subscription hears.
    const adminToken = await apiLogin(base, 'sunrise-derm', 'admin@sunrise.example');
    const [patient] = (
      await api<{ patients: { edges: { node: { id: string } }[] } }>(
        base,
        adminToken,
        '{ patients(first: 1) { edges { node { id } } } }',
      )
    ).patients.edges.map((e) => e.node);
    const [lee] = (
      await api<{ staff: { id: string; role: string }[] }>(base, adminToken, '{ staff(role: PROVIDER) { id role } }')
    ).staff;
    const day = addDays(today('America/New_York'), 9);
    await api(base, adminToken, 'mutation($i: CreateAppointmentInput!) { createAppointment(input: $i) { id } }', {
      i: {
        patientId: patient.id,
        providerId: lee.id,
        startsAt: zonedInstant(day, '10:00', 'America/New_York').toISOString(),
        endsAt: zonedInstant(day, '10:30', 'America/New_York').toISOString(),
      },
    });
    await appointments.waitFor(1, LIVE);
    await page
      .getByText(/^Bars: mean latency per 10 s; lines: the longest\. [1-9]\d* deliver/)
      .waitFor({ timeout: LIVE });
    // An integration client, listed with its last activity (none yet).
    await api(
      base,
      adminToken,
      'mutation($i: CreateIntegrationClientInput!) { createIntegrationClient(input: $i) { client { id } } }',
      {
        i: { name: 'Lab interface (Quest)', scopes: ['appointments:read'] },
      },
    );

    await page
      .getByRole('list', { name: 'Integration clients' })
      .getByRole('listitem')
      .filter({ hasText: 'Lab interface (Quest)' })
      .filter({ hasText: 'Last active never' })
      .waitFor({ timeout: LIVE });

    // Sunrise's dashboard never shows anyone of Lakeside, though they are connected to the same server.
    expect(theirs.results).toEqual([]);
    await expect(page.getByText('Taylor Brooks').count()).resolves.toBe(0);
    await row.scrollIntoViewIfNeeded();
    await documentScreenshot(page, 'connection-dashboard');

    await nurse.dispose();
    await row.waitFor({ state: 'detached', timeout: LIVE });
    await expect(page.getByText('Taylor Brooks').count()).resolves.toBe(0);
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    expect(await seriousViolations(page)).toEqual([]);
  });

  it('fits a phone: one column, nothing wider than the screen, and the menu has the link', async () => {
    phone = await signIn(browser, base, 'sunrise-derm', 'admin@sunrise.example', 'Alex Morgan (phone)', {
      viewport: PHONE,
      mobile: true,
    });
    const { page } = phone;
    await page.getByRole('button', { name: 'Menu' }).click();
    await page.getByRole('link', { name: 'Connections' }).click();
    await page
      .getByRole('list', { name: 'Staff connections' })
      .getByText('Alex Morgan')
      .first()
      .waitFor({ timeout: LIVE });
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await documentScreenshot(page, 'phone-connection-dashboard');
    expect(await seriousViolations(page)).toEqual([]);
  });

  it('has no link for staff who are not admins, and tells them the page is not theirs', async () => {
    const nurse = await signIn(browser, base, 'sunrise-derm', 'nurse@sunrise.example', 'Sam Rivera');
    try {
      await expect(nurse.page.getByRole('link', { name: 'Connections' }).count()).resolves.toBe(0);
      await nurse.page.goto('/dashboard');
      await nurse.page.getByText('Administrators only').waitFor();
    } finally {
      await nurse.context.close();
    }
  });
});
