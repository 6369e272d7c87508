import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { spawnServer, type ServerProcess } from '../../server/test/helpers/process.js';
import { buildClient, freePort, launchChromium, RESULTS, screenshotAll, signIn, type Staff } from './browser.js';

/** How long a live change may take to show in another browser. */
const LIVE = 15_000;

/**
 * The clinic app in a real browser, against the real server process serving the production build: two people of
 * Sunrise Dermatology (the front desk and Dr. Lee) and one of Lakeside Skin Clinic, each in a browser context of their
 * own.
 */
describe('Clinic app in the browser', () => {
  let dataDir: string;
  let env: Record<string, string>;
  let server: ServerProcess;
  let base: string;
  let browser: Browser;
  let frontDesk: Staff; // Jordan Kim, Sunrise
  let lee: Staff; // Dr. Maya Lee, Sunrise
  let lakeside: Staff; // Taylor Brooks, Lakeside
  const everyone = () => [frontDesk, lee, lakeside].filter(Boolean);

  beforeAll(async () => {
    await buildClient();
    dataDir = mkdtempSync(path.join(tmpdir(), 'derm-e2e-'));
    env = { NODE_ENV: 'production', PORT: String(await freePort()), DATA_DIR: dataDir, SEED_DEMO: 'true' };
    server = await spawnServer(env);
    base = server.url;
    browser = await launchChromium();
    [frontDesk, lee, lakeside] = await Promise.all([
      signIn(browser, base, 'sunrise-derm', 'frontdesk@sunrise.example', 'Jordan Kim'),
      signIn(browser, base, 'sunrise-derm', 'lee@sunrise.example', 'Dr. Maya Lee'),
      signIn(browser, base, 'lakeside-skin', 'frontdesk@lakeside.example', 'Taylor Brooks'),
    ]);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  beforeEach((ctx) => {
    ctx.onTestFailed(() => screenshotAll(ctx.task.name, everyone()));
  });

  it("should show a booking made at the front desk on Dr. Lee's schedule without a reload, and never in the other clinic", async () => {
    await Promise.all(everyone().map(({ page }) => page.goto('/schedule')));
    const reloads = { count: 0 };
    lee.page.on('framenavigated', (frame) => frame === lee.page.mainFrame() && (reloads.count += 1));

    const { page } = frontDesk;
    await page.getByRole('button', { name: 'New appointment' }).click();
    const dialog = page.getByRole('dialog', { name: 'New appointment' });
    await dialog.getByLabel('Find patient').fill('Carter');
    await dialog.getByLabel('Patient', { exact: true }).selectOption({ label: 'Noah Carter · SUN-1002' });
    await dialog.getByLabel('Provider').selectOption({ label: 'Dr. Maya Lee' });
    await dialog.getByLabel('Start').fill('16:00');
    await dialog.getByLabel('Reason').fill('Follow-up visit');
    await dialog.getByRole('button', { name: 'Book appointment' }).click();
    await dialog.waitFor({ state: 'detached' });

    const card = lee.page.getByRole('button', {
      name: /^4:00 PM Noah Carter, Follow-up visit, with Dr\. Maya Lee, Scheduled$/,
    });
    await card.waitFor({ timeout: LIVE });
    await lee.page
      .getByRole('region', { name: 'Live activity' })
      .getByText('Noah Carter with Dr. Maya Lee, 4:00 PM')
      .waitFor();
    expect(reloads.count).toBe(0);
    // Who is online is per clinic too.
    await lee.page.getByRole('list', { name: 'Colleagues online' }).getByText('Jordan Kim').waitFor({ timeout: LIVE });
    await card.scrollIntoViewIfNeeded();
    mkdirSync(RESULTS, { recursive: true });
    await lee.page.screenshot({ path: path.join(RESULTS, 'schedule-live-change.png') });

    // The other clinic heard nothing: no event reached its live activity, and the patient is nowhere on its page.
    await lakeside.page.waitForTimeout(1_000);
    await lakeside.page.getByText(/appear here as they happen/).waitFor();
    expect(await lakeside.page.getByText('Noah Carter').count()).toBe(0);
    expect(await lakeside.page.getByText('Jordan Kim').count()).toBe(0);
  });

  it('should show Dr. Lee typing to the front desk, deliver her message, and show her it was seen', async () => {
    for (const { page } of [frontDesk, lee]) {
      await page.getByRole('link', { name: /^Messages/ }).click();
      await page.getByRole('link', { name: /^Biopsy follow-up: Olivia Bennett/ }).click();
      await page.getByRole('heading', { name: 'Biopsy follow-up: Olivia Bennett' }).waitFor();
    }
    const composer = lee.page.getByRole('textbox', { name: 'Message' });
    await composer.pressSequentially('Olivia can come Thursday at 9, please book her', { delay: 20 });

    const typing = frontDesk.page.getByTestId('typing-indicator');
    await typing.getByText('Dr. Maya Lee is typing…').waitFor({ timeout: LIVE });
    mkdirSync(RESULTS, { recursive: true });
    await frontDesk.page.screenshot({ path: path.join(RESULTS, 'chat-typing.png') });

    await composer.press('Enter');
    await frontDesk.page
      .getByRole('list', { name: 'Messages' })
      .getByText('Olivia can come Thursday at 9, please book her')
      .waitFor({ timeout: LIVE });
    await typing.getByText('Dr. Maya Lee is typing…').waitFor({ state: 'detached', timeout: LIVE });
    // The front desk has the conversation open: it is read, and Dr. Lee sees so under her message.
    await lee.page.getByText('Seen by Jordan Kim').waitFor({ timeout: LIVE });
  });

  it('should pop a toast at the front desk when Dr. Lee assigns her a task, and only there', async () => {
    await lee.page.getByRole('link', { name: 'Tasks' }).click();
    await lee.page.getByRole('button', { name: 'Assign a task' }).click();
    const dialog = lee.page.getByRole('dialog', { name: 'Assign a task' });
    await dialog.getByLabel('Task').fill('Book Olivia Bennett for Thursday 9:00');
    await dialog.getByLabel('Assign to').selectOption({ label: 'Jordan Kim' });
    await dialog.getByLabel('Priority').selectOption({ label: 'High' });
    await dialog.getByRole('button', { name: 'Assign task' }).click();
    await dialog.waitFor({ state: 'detached' });

    const toast = frontDesk.page
      .getByRole('alert')
      .filter({ hasText: 'New task: Book Olivia Bennett for Thursday 9:00' });
    await toast.waitFor({ timeout: LIVE });
    await frontDesk.page.getByRole('link', { name: /^Notifications\s*\d+ unread$/ }).waitFor({ timeout: LIVE });
    expect(await lakeside.page.getByRole('alert').count()).toBe(0);

    await toast.getByRole('button', { name: /^Dismiss notification/ }).click();
    await toast.waitFor({ state: 'detached' });
  });

  it('should show the chart banner when a colleague has the same patient open', async () => {
    for (const { page } of [frontDesk, lee]) {
      await page.getByRole('link', { name: 'Patients' }).click();
      // Wait for the list: the page left behind may still show a link named after the patient (a thread's "Patient:
      // …").
      await page.getByRole('heading', { name: 'Patients', exact: true }).waitFor();
      await page.getByRole('link', { name: 'Olivia Bennett', exact: true }).click();
      await page.getByRole('heading', { name: 'Olivia Bennett' }).waitFor();
    }
    await frontDesk.page.getByText('Dr. Maya Lee is also viewing this chart').waitFor({ timeout: LIVE });
    await lee.page.getByText('Jordan Kim is also viewing this chart').waitFor({ timeout: LIVE });
    await lee.page.getByRole('link', { name: 'Schedule' }).click();
    await frontDesk.page
      .getByText('Dr. Maya Lee is also viewing this chart')
      .waitFor({ state: 'detached', timeout: LIVE });
  });

  it('should say reconnecting while the server is down, and connected again once it is back, with what happened meanwhile', async () => {
    await Promise.all([frontDesk, lee].map(({ page }) => page.getByRole('link', { name: 'Schedule' }).click()));
    await lee.page.getByRole('heading', { name: 'Schedule' }).waitFor();
    await server.stop();
    for (const { page } of [frontDesk, lee]) {
      await page
        .getByTestId('connection-badge')
        .filter({ hasText: /^Reconnecting \(attempt \d+ of 10\)$/ })
        .waitFor({ timeout: LIVE });
    }
    await lee.page.getByText(/Live updates paused\./).waitFor();
    await lee.page.getByRole('button', { name: 'Reconnect now' }).waitFor();
    // Dr. Lee's Wi-Fi is out too until the test says so: the booking below certainly happens while her link is down
    // (otherwise it would race her next attempt, due every 5 s).
    await lee.context.setOffline(true);

    server = await spawnServer(env);
    // Booked at the front desk over HTTP (the app works without its socket), whether or not its own socket is back yet.
    await frontDesk.page.getByRole('button', { name: 'New appointment' }).click();
    const dialog = frontDesk.page.getByRole('dialog', { name: 'New appointment' });
    await dialog.getByLabel('Find patient').fill('Evans');
    await dialog.getByLabel('Patient', { exact: true }).selectOption({ label: 'Liam Evans · SUN-1004' });
    await dialog.getByLabel('Provider').selectOption({ label: 'Dr. Maya Lee' });
    await dialog.getByLabel('Start').fill('17:00');
    await dialog.getByLabel('Reason').fill('Booked during the outage');
    await dialog.getByRole('button', { name: 'Book appointment' }).click();
    await dialog.waitFor({ state: 'detached' });
    await frontDesk.page
      .getByTestId('connection-badge')
      .filter({ hasText: /^Live$/ })
      .waitFor({ timeout: 30_000 });

    expect(await lee.page.getByTestId('connection-badge').textContent()).toMatch(
      /^Reconnecting \(attempt \d+ of 10\)$/,
    );
    // Back online: the browser's `online` event makes the app try at once rather than wait for its next attempt.
    await lee.context.setOffline(false);
    await lee.page
      .getByTestId('connection-badge')
      .filter({ hasText: /^Live$/ })
      .waitFor({ timeout: 30_000 });
    // Replayed from her stream's cursor on resubscription: the booking made while she was away is on her day.
    await lee.page
      .getByRole('button', { name: /^5:00 PM Liam Evans, Booked during the outage, with Dr\. Maya Lee, Scheduled$/ })
      .waitFor({ timeout: LIVE });
    await lee.page.getByText(/Back online\./).waitFor();
  });
});
