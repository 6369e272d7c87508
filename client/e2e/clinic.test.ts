import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freePort, pruneEventLog, spawnServer, type ServerProcess } from '../../server/test/helpers/process.js';
import { addDays, today } from '../src/lib/time.js';
import {
  api,
  apiLogin,
  buildClient,
  coveredControls,
  documentScreenshot,
  launchChromium,
  newBrowserContext,
  RESULTS,
  screenshotAll,
  seriousViolations,
  signIn,
  type Staff,
} from './browser.js';

/** How long a live change may take to show in another browser. */
const LIVE = 15_000;
/** A phone (iPhone 12 to 15 class), the size the issue was reported at. */
const PHONE = { width: 390, height: 844 };
/** Sunrise Dermatology's days are New York days. Bookings go a week ahead: never in the past, whatever the hour. */
const AHEAD = addDays(today('America/New_York'), 7);

/** Each of `staff` opens the conversation `subject` from the Messages page. */
async function openConversation(staff: Staff[], subject: string): Promise<void> {
  for (const { page } of staff) {
    await page.getByRole('link', { name: /^Messages/ }).click();
    // The link's name starts with the subject (then its last message): matched as text, not as a pattern.
    await page.getByRole('link', { name: new RegExp(`^${subject.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`) }).click();
    await page.getByRole('heading', { name: subject }).waitFor();
  }
}

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
  let nurse: Staff; // Sam Rivera, Sunrise: short connection timing (see the last test)
  let phone: Staff | undefined; // Jordan Kim again, on a phone
  const everyone = () => [frontDesk, lee, lakeside, nurse, phone].filter((s): s is Staff => !!s);
  const token = {} as Record<'lee' | 'frontdesk', string>;

  beforeAll(async () => {
    await buildClient();
    dataDir = mkdtempSync(path.join(tmpdir(), 'derm-e2e-'));
    env = { NODE_ENV: 'production', PORT: String(await freePort()), DATA_DIR: dataDir, SEED_DEMO: 'true' };
    server = await spawnServer(env);
    base = server.url;
    browser = await launchChromium();
    [frontDesk, lee, lakeside, nurse] = await Promise.all([
      signIn(browser, base, 'sunrise-derm', 'frontdesk@sunrise.example', 'Jordan Kim'),
      signIn(browser, base, 'sunrise-derm', 'lee@sunrise.example', 'Dr. Maya Lee'),
      signIn(browser, base, 'lakeside-skin', 'frontdesk@lakeside.example', 'Taylor Brooks'),
      // "Offline" after 3 attempts 300 ms apart, then tries at most 1 s apart: the last test takes seconds, not
      // minutes.
      signIn(browser, base, 'sunrise-derm', 'nurse@sunrise.example', 'Sam Rivera', {
        timing: { maxAttempts: 3, waitMs: 300, maxWaitMs: 1_000 },
      }),
    ]);
    token.lee = await apiLogin(base, 'sunrise-derm', 'lee@sunrise.example');
    token.frontdesk = await apiLogin(base, 'sunrise-derm', 'frontdesk@sunrise.example');
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
    await Promise.all([frontDesk, lee, lakeside].map(({ page }) => page.goto(`/schedule?date=${AHEAD}`)));
    // Marks this document: a reload would lose the mark.
    await lee.page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));

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

    // A card's name is what it shows: time, patient, reason (the column says whose).
    const card = lee.page
      .getByRole('list', { name: "Dr. Maya Lee's appointments" })
      .getByRole('button', { name: /^4:00 – 4:30 PM Noah Carter Follow-up visit$/ });
    await card.waitFor({ timeout: LIVE });
    await lee.page
      .getByRole('region', { name: 'Live activity' })
      .getByText('Noah Carter with Dr. Maya Lee, 4:00 PM')
      .waitFor();
    expect(await lee.page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    // Live activity belongs to the session, not the page: leaving the schedule and coming back keeps it.
    await lee.page.getByRole('link', { name: 'Patients' }).click();
    await lee.page.getByRole('heading', { name: 'Patients', exact: true }).waitFor();
    await lee.page.goBack();
    await lee.page
      .getByRole('region', { name: 'Live activity' })
      .getByText('Noah Carter with Dr. Maya Lee, 4:00 PM')
      .waitFor();
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
    await openConversation([frontDesk, lee], 'Biopsy follow-up: Olivia Bennett');
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

  it('should keep still for a person who asks for less motion: typing dots that do not bounce, a dialog that fades in without sliding', async () => {
    await openConversation([frontDesk, lee], 'Biopsy follow-up: Olivia Bennett');
    const { page } = frontDesk;
    // The animations running on the front desk's page now: name and whether it never ends.
    const running = () =>
      page.evaluate(() =>
        document
          .getAnimations()
          .filter((a) => a.playState === 'running')
          .map((a) => ({
            name: (a as CSSAnimation).animationName,
            endless: a.effect?.getTiming().iterations === Infinity,
          })),
      );
    const composer = lee.page.getByRole('textbox', { name: 'Message' });
    const typing = page.getByTestId('typing-indicator').getByText('Dr. Maya Lee is typing…');
    await composer.pressSequentially('Is room 3 free at noon', { delay: 20 });
    // She keeps typing until the front desk sees it: having just sent a message (the test before), her first signal
    // may fall within the server's one per 2 s, and the next goes out with a keystroke 2.5 s on.
    for (const deadline = Date.now() + LIVE; ;) {
      const seen = await typing.waitFor({ timeout: 500 }).then(
        () => true,
        () => false,
      );
      if (seen) break;
      if (Date.now() > deadline) throw new Error('The front desk never saw Dr. Lee typing');
      await composer.press('?');
    }
    try {
      // As most people see it: the dots bounce.
      expect(await running()).toContainEqual({ name: 'typing', endless: true });
      // Asking the system for less motion: nothing runs without end, and a dialog fades in rather than slides.
      await page.emulateMedia({ reducedMotion: 'reduce' });
      await expect.poll(async () => (await running()).filter((a) => a.endless)).toEqual([]);
      await page.getByRole('button', { name: 'New conversation' }).click();
      const dialog = page.getByRole('dialog', { name: 'New conversation' });
      await dialog.waitFor();
      expect(await dialog.evaluate((el) => getComputedStyle(el).animationName)).toBe('fade-in');
      await page.keyboard.press('Escape');
    } finally {
      await page.emulateMedia({ reducedMotion: null });
      await composer.fill('');
    }
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

  it('should keep the status Dr. Lee chose (Busy) through a reload, for her and for her colleagues', async () => {
    const status = lee.page.getByRole('combobox', { name: 'Your status' });
    const leeStatus = async () =>
      (
        (await api(base, token.frontdesk, '{ onlineUsers { status user { name } } }')).onlineUsers as {
          status: string;
          user: { name: string };
        }[]
      ).find((p) => p.user.name === 'Dr. Maya Lee')?.status;
    await status.selectOption('BUSY');
    await frontDesk.page.getByRole('list', { name: 'Colleagues online' }).getByText('Busy').waitFor({ timeout: LIVE });
    await lee.page.reload();
    await lee.page.getByTestId('connection-badge').filter({ hasText: 'Live' }).waitFor({ timeout: LIVE });
    // The server starts her new connection as Online; the app sets Busy again.
    await expect.poll(() => status.inputValue(), { timeout: LIVE }).toBe('BUSY');
    await expect.poll(leeStatus, { timeout: LIVE }).toBe('BUSY');
    await frontDesk.page.getByRole('list', { name: 'Colleagues online' }).getByText('Busy').waitFor({ timeout: LIVE });
    await status.selectOption('ONLINE');
    await expect.poll(leeStatus, { timeout: LIVE }).toBe('ONLINE');
  });

  it('should serve the app compressed, cache hashed assets for a year, and never serve a source map', async () => {
    const html = await (await fetch(`${base}/schedule`)).text();
    const scripts = [...html.matchAll(/src="(\/assets\/[^"]+\.js)"/g)].map((m) => m[1]);
    expect(scripts.length).toBeGreaterThan(0);
    for (const script of scripts) {
      const res = await fetch(`${base}${script}`, { headers: { 'accept-encoding': 'gzip, br' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-encoding')).toMatch(/^(br|gzip)$/);
      expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      // Hidden source maps: nothing in the script points at one, and asking for one by name gets nothing.
      expect(await res.text()).not.toMatch(/sourceMappingURL/);
      expect((await fetch(`${base}${script}.map`)).status).toBe(404);
    }
    const index = await fetch(`${base}/`, { headers: { 'accept-encoding': 'gzip' } });
    expect(index.headers.get('cache-control')).toBe('no-cache');
  });

  it('should keep urgent toasts through a burst of low ones, fold a conversation into one toast, and cover no control', async () => {
    const { page } = frontDesk;
    await page.getByRole('link', { name: 'Tasks' }).click();
    await page.getByRole('heading', { name: 'Tasks' }).waitFor();
    const me = (await api(base, token.frontdesk, '{ me { id } }')).me.id as string;
    const send = (priority: string, title: string, kind = 'ALERT') =>
      api(base, token.lee, 'mutation($i: SendAlertInput!) { sendAlert(input: $i) { id } }', {
        i: { userId: me, kind, priority, title },
      });
    await api(base, token.lee, 'mutation($i: AssignTaskInput!) { assignTask(input: $i) { id } }', {
      i: { title: 'Call Olivia Bennett now: biopsy result', assigneeId: me, priority: 'URGENT' },
    });
    await send('URGENT', 'Fire drill at 3 PM: clear room 2');
    for (let i = 1; i <= 6; i++) await send('LOW', `Supply delivery ${i} arrived`);
    const threadId = (await api(base, token.lee, '{ threads { id subject } }')).threads.find((t: { subject: string }) =>
      t.subject.startsWith('Biopsy follow-up'),
    ).id;
    for (const body of ['First', 'Second', 'Third'])
      await api(base, token.lee, 'mutation($t: ID!, $b: String!) { sendMessage(threadId: $t, body: $b) { id } }', {
        t: threadId,
        b: `${body} message about the biopsy`,
      });

    const toasts = page.getByTestId('toast');
    await toasts.filter({ hasText: '3 new messages' }).waitFor({ timeout: LIVE });
    await toasts.filter({ hasText: 'Supply delivery 6 arrived' }).waitFor({ timeout: LIVE });
    const urgent = toasts.filter({ hasText: 'Urgent' });
    await urgent.filter({ hasText: 'New task: Call Olivia Bennett now: biopsy result' }).waitFor();
    await urgent.filter({ hasText: 'Fire drill at 3 PM: clear room 2' }).waitFor();
    // Two urgent ones, and the newest three of the rest (the folded conversation, supplies 6 and 5).
    expect(await toasts.count()).toBe(5);
    expect(await toasts.filter({ hasText: 'new messages' }).count()).toBe(1);
    // The toasts take their own room: every control of the page is still there to click.
    expect(await coveredControls(page)).toEqual([]);
    await page
      .getByRole('button', { name: /^Done\b/ })
      .first()
      .scrollIntoViewIfNeeded();
    expect(await coveredControls(page)).toEqual([]);
    await documentScreenshot(page, 'urgent-toasts-kept-under-a-burst');

    while ((await toasts.count()) > 0) {
      await toasts
        .first()
        .getByRole('button', { name: /^Dismiss notification/ })
        .click();
    }
  });

  it('should count unread notifications right: marking one of three read leaves two, on the page and in the badge', async () => {
    const { page } = frontDesk;
    await api(base, token.frontdesk, 'mutation { markAllNotificationsRead }');
    await page.getByRole('link', { name: /^Notifications/ }).click();
    await page.getByText('All read').waitFor({ timeout: LIVE });
    const me = (await api(base, token.frontdesk, '{ me { id } }')).me.id as string;
    for (const title of ['Lab result ready: Noah Carter', 'Lab result ready: Ava Foster', 'Room 3 is free'])
      await api(base, token.lee, 'mutation($i: SendAlertInput!) { sendAlert(input: $i) { id } }', {
        i: { userId: me, kind: 'LAB_RESULT', priority: 'LOW', title },
      });
    const header = page.getByRole('main').getByText(/^\d+ unread$/);
    const badge = page.getByRole('link', { name: /^Notifications/ });
    await page.getByRole('main').getByText('3 unread', { exact: true }).waitFor({ timeout: LIVE });
    await expect.poll(() => badge.textContent()).toBe('Notifications3 unread');

    // Everything both counts show from here on.
    await page.evaluate(() => {
      const seen: string[] = ((window as unknown as { seenCounts: string[] }).seenCounts = []);
      const read = () => {
        for (const el of document.querySelectorAll('.page-sub, .nav-count')) seen.push(el.textContent ?? '');
      };
      new MutationObserver(read).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    await page.getByRole('button', { name: 'Mark as read: Room 3 is free' }).click();
    await page.getByRole('main').getByText('2 unread', { exact: true }).waitFor({ timeout: LIVE });
    await expect.poll(() => badge.textContent()).toBe('Notifications2 unread');
    // Let the unread-count stream and the re-read both land: still two, and never one on the way.
    await page.waitForTimeout(1_000);
    expect(await header.textContent()).toBe('2 unread');
    const seen = await page.evaluate(() => (window as unknown as { seenCounts: string[] }).seenCounts);
    expect(seen.filter((text) => /^1\b/.test(text))).toEqual([]);
    expect((await api(base, token.frontdesk, '{ unreadNotificationCount }')).unreadNotificationCount).toBe(2);
  });

  it('should keep keyboard focus in a dialog, close it with Escape, and give focus back to what opened it', async () => {
    const { page } = frontDesk;
    await page.getByRole('link', { name: 'Schedule' }).click();
    const opener = page.getByRole('button', { name: 'New appointment' });
    await expect.poll(() => opener.isEnabled()).toBe(true);
    await opener.focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'New appointment' });
    await dialog.waitFor();
    const inDialog = () => page.evaluate(() => !!document.activeElement?.closest('[role="dialog"]'));
    expect(await inDialog()).toBe(true);
    for (let i = 0; i < 24; i++) {
      await page.keyboard.press('Tab');
      expect(await inDialog()).toBe(true);
    }
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press('Shift+Tab');
      expect(await inDialog()).toBe(true);
    }
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('New appointment');
  });

  it('should reach every main action on a phone (390×844), with nothing wider than the screen', async () => {
    phone = await signIn(browser, base, 'sunrise-derm', 'frontdesk@sunrise.example', 'Jordan Kim (phone)', {
      viewport: PHONE,
      mobile: true,
    });
    const { page } = phone;
    const fitsWidth = async () =>
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
    /** In the viewport once scrolled to, whole, and the topmost thing at its centre. */
    const reachable = async (locator: ReturnType<typeof page.getByRole>) => {
      await locator.scrollIntoViewIfNeeded();
      const box = (await locator.boundingBox())!;
      expect(box.x).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width).toBeLessThanOrEqual(PHONE.width);
      expect(box.y).toBeGreaterThanOrEqual(0);
      expect(box.y + box.height).toBeLessThanOrEqual(PHONE.height);
      await locator.click({ trial: true });
    };
    const go = async (link: RegExp | string, heading: string) => {
      await page.getByRole('button', { name: /^Menu/ }).click();
      await reachable(page.getByRole('link', { name: link }));
      await page.getByRole('link', { name: link }).click();
      await page.getByRole('heading', { name: heading, exact: true }).waitFor();
      await expect.poll(() => page.getByRole('link', { name: link }).isVisible()).toBe(false);
      await fitsWidth();
    };

    await page.goto(`/schedule?date=${AHEAD}`);
    await page.getByRole('heading', { name: 'Schedule' }).waitFor();
    await fitsWidth();
    for (const name of ['Previous day', 'Next day', 'Week', 'New appointment']) {
      await reachable(page.getByRole('button', { name, exact: true }));
    }
    await reachable(page.getByLabel('Provider'));
    const card = page.getByRole('button', { name: /^4:00 – 4:30 PM Noah Carter/ });
    await reachable(card);
    await card.click();
    await reachable(page.getByRole('button', { name: 'Check in' }));
    await reachable(page.getByRole('button', { name: 'Edit' }));
    await page.getByRole('button', { name: 'Close details' }).click();
    await page.getByRole('button', { name: 'New appointment' }).click();
    const dialog = page.getByRole('dialog', { name: 'New appointment' });
    await reachable(dialog.getByLabel('Find patient'));
    await reachable(dialog.getByRole('button', { name: 'Book appointment' }));
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('heading', { name: 'Schedule' }).scrollIntoViewIfNeeded();
    await documentScreenshot(page, 'phone-schedule');

    await go(/^Messages/, 'Messages');
    await reachable(page.getByRole('button', { name: 'New conversation' }));
    await page.getByRole('link', { name: /^Biopsy follow-up: Olivia Bennett/ }).click();
    await page.getByRole('heading', { name: 'Biopsy follow-up: Olivia Bennett' }).waitFor();
    await fitsWidth();
    await reachable(page.getByRole('textbox', { name: 'Message' }));
    await page.getByRole('textbox', { name: 'Message' }).fill('On my way to room 2');
    await reachable(page.getByRole('button', { name: 'Send' }));
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByRole('list', { name: 'Messages' }).getByText('On my way to room 2').waitFor();
    await page.getByText('Sending…').waitFor({ state: 'detached' });
    await documentScreenshot(page, 'phone-thread');
    await reachable(page.getByRole('link', { name: /Conversations/ }));

    await go('Patients', 'Patients');
    await reachable(page.getByRole('searchbox', { name: 'Search patients' }));
    await reachable(page.getByRole('button', { name: 'New patient' }));
    await go('Tasks', 'Tasks');
    await reachable(page.getByRole('button', { name: 'Assign a task' }));
    await reachable(page.getByRole('button', { name: /^Done\b/ }).first());
    await go(/^Notifications/, 'Notifications');
    await reachable(page.getByRole('button', { name: 'Mark all as read' }));
    await page.getByRole('button', { name: /^Menu/ }).click();
    await reachable(page.getByRole('button', { name: 'Sign out', exact: true }));
    await reachable(page.getByRole('button', { name: 'Sign out on every device' }));
    await reachable(page.getByRole('combobox', { name: 'Your status' }));
    await page.getByRole('button', { name: 'Close', exact: true }).click();
  });

  it('should pass axe-core with no critical or serious violation on every main page state, desktop and phone', async () => {
    const found: Record<string, unknown> = {};
    const check = async (state: string, page: Staff['page']) => {
      const violations = await seriousViolations(page);
      if (violations.length) found[state] = violations;
    };
    const { page } = frontDesk;

    const anonymous = await newBrowserContext(browser, { viewport: { width: 1440, height: 900 }, baseURL: base });
    const login = await anonymous.newPage();
    await login.goto('/');
    await login.getByRole('heading', { name: 'Sign in to your clinic' }).waitFor();
    await check('sign-in', login);
    await anonymous.close();

    await page.goto(`/schedule?date=${AHEAD}`);
    await page.getByRole('button', { name: /^4:00 – 4:30 PM Noah Carter/ }).waitFor();
    await check('schedule, day', page);
    await page.getByRole('button', { name: /^4:00 – 4:30 PM Noah Carter/ }).click();
    await page.getByRole('region', { name: 'Noah Carter' }).waitFor();
    await check('schedule, an appointment open', page);
    await page.getByRole('button', { name: 'Edit' }).click();
    await page.getByRole('dialog').waitFor();
    await check('schedule, editing an appointment', page);
    await page.keyboard.press('Escape');
    await page.getByRole('button', { name: 'New appointment' }).click();
    await page.getByRole('dialog', { name: 'New appointment' }).waitFor();
    await check('schedule, new appointment', page);
    await page.keyboard.press('Escape');
    await page.getByRole('button', { name: 'Week', exact: true }).click();
    await page.getByText(/^Week of /).waitFor();
    await check('schedule, week', page);
    await openConversation([frontDesk], 'Biopsy follow-up: Olivia Bennett');
    await check('messages, a conversation', page);
    await page.getByRole('button', { name: 'New conversation' }).click();
    await page.getByRole('dialog', { name: 'New conversation' }).waitFor();
    await check('messages, new conversation', page);
    await page.keyboard.press('Escape');
    await page.getByRole('link', { name: 'Patients' }).click();
    await page.getByRole('link', { name: 'Olivia Bennett', exact: true }).waitFor();
    await check('patients', page);
    await page.getByRole('button', { name: 'New patient' }).click();
    await page.getByRole('dialog', { name: 'New patient' }).waitFor();
    await check('patients, new patient', page);
    await page.keyboard.press('Escape');
    await page.getByRole('link', { name: 'Olivia Bennett', exact: true }).click();
    await page.getByRole('heading', { name: 'Olivia Bennett' }).waitFor();
    await check('patient chart', page);
    await page.getByRole('link', { name: 'Tasks' }).click();
    await page.getByRole('heading', { name: 'Tasks' }).waitFor();
    await check('tasks, mine', page);
    await page.getByRole('button', { name: 'Assigned by me' }).click();
    await page
      .getByText(/assigned by you|Nothing open that you assigned/)
      .first()
      .waitFor();
    await check('tasks, assigned by me', page);
    await page.getByRole('link', { name: /^Notifications/ }).click();
    await page.getByRole('heading', { name: 'Notifications' }).waitFor();
    await check('notifications', page);

    // A provider may send alerts.
    await lee.page.getByRole('link', { name: /^Notifications/ }).click();
    await lee.page.getByRole('button', { name: 'Send an alert' }).click();
    await lee.page.getByRole('dialog', { name: 'Send an alert' }).waitFor();
    await check('notifications, send an alert', lee.page);
    await lee.page.keyboard.press('Escape');

    const small = phone!.page;
    await small.goto(`/schedule?date=${AHEAD}`);
    await small.getByRole('heading', { name: 'Schedule' }).waitFor();
    await check('phone, schedule', small);
    await small.getByRole('button', { name: /^Menu/ }).click();
    await check('phone, menu open', small);
    await small.getByRole('button', { name: 'Close', exact: true }).click();

    expect(found).toEqual({});
  });

  it('should say reconnecting while the server is down, come back by itself even after "Offline", and show what happened meanwhile', async () => {
    await Promise.all([frontDesk, lee, nurse].map(({ page }) => page.goto(`/schedule?date=${AHEAD}`)));
    await lee.page.getByRole('heading', { name: 'Schedule' }).waitFor();
    await nurse.page.getByRole('button', { name: /^4:00 – 4:30 PM Noah Carter/ }).waitFor();
    await server.stop();
    for (const { page } of [frontDesk, lee]) {
      await page
        .getByTestId('connection-badge')
        .filter({ hasText: /^Reconnecting \(attempt \d+ of 10\)$/ })
        .waitFor({ timeout: LIVE });
    }
    await lee.page.getByText(/Live updates paused\./).waitFor();
    await lee.page.getByRole('button', { name: 'Reconnect now' }).waitFor();
    // The nurse's browser gives up its round of attempts sooner: "Offline".
    await nurse.page
      .getByTestId('connection-badge')
      .filter({ hasText: /^Offline$/ })
      .waitFor({ timeout: LIVE });
    await nurse.page.getByText(/Live updates are off\./).waitFor();
    // While the server is away, a day that cannot be read is asked for once, not again and again.
    let asked = 0;
    nurse.page.on('request', (request) => {
      if ((request.postData() ?? '').includes('"SchedulePage"')) asked += 1;
    });
    await nurse.page.getByRole('button', { name: 'Next day' }).click();
    await nurse.page.getByText('The server cannot be reached', { exact: false }).first().waitFor();
    await nurse.page.waitForTimeout(2_000);
    // (Before, a failed day change sent the same query dozens of times a second.)
    expect(asked).toBeLessThanOrEqual(2);
    await nurse.page.getByRole('button', { name: 'Previous day' }).click();
    // Not "still saved": the app says what it saw.
    await nurse.page.getByText(/nothing can be saved until it answers again/).waitFor();
    await documentScreenshot(nurse.page, 'offline-before-the-server-came-back');

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

    // The nurse's "Offline" browser comes back with no click at all, and replays the booking it missed.
    await nurse.page
      .getByTestId('connection-badge')
      .filter({ hasText: /^Live$/ })
      .waitFor({ timeout: LIVE });
    const missed = nurse.page.getByRole('button', { name: /^5:00 – 5:30 PM Liam Evans Booked during the outage$/ });
    await missed.waitFor({ timeout: LIVE });
    await missed.scrollIntoViewIfNeeded();
    await documentScreenshot(nurse.page, 'reconnected-after-offline');

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
      .getByRole('button', { name: /^5:00 – 5:30 PM Liam Evans Booked during the outage$/ })
      .waitFor({ timeout: LIVE });
    await lee.page.getByText(/Back online\./).waitFor();

    // Away longer than the server keeps its event log (EVENT_RETENTION): her cursor is answered CURSOR_EXPIRED, and
    // the page reads her day again and goes on live, by itself and without a reload.
    const bookAt = async (start: string, reason: string) => {
      await frontDesk.page.getByRole('button', { name: 'New appointment' }).click();
      const form = frontDesk.page.getByRole('dialog', { name: 'New appointment' });
      await form.getByLabel('Find patient').fill('Evans');
      await form.getByLabel('Patient', { exact: true }).selectOption({ label: 'Liam Evans · SUN-1004' });
      await form.getByLabel('Provider').selectOption({ label: 'Dr. Maya Lee' });
      await form.getByLabel('Start').fill(start);
      await form.getByLabel('Reason').fill(reason);
      await form.getByRole('button', { name: 'Book appointment' }).click();
      await form.waitFor({ state: 'detached' });
    };
    // An event she receives live: her stream now has a cursor to resume from.
    await bookAt('17:30', 'Seen live');
    await lee.page.getByRole('button', { name: /^5:30 – 6:00 PM Liam Evans Seen live$/ }).waitFor({ timeout: LIVE });
    await lee.page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
    const received: string[] = [];
    lee.page.on('websocket', (socket) => socket.on('framereceived', ({ payload }) => received.push(String(payload))));
    // Her link goes down with the server's (at once, unlike a silent network), and stays down while the server is
    // back and the front desk books: an event she cannot receive.
    await server.stop();
    await lee.context.setOffline(true);
    server = await spawnServer(env);
    await bookAt('18:00', 'Booked while her log was pruned');
    // The log pruned past what she saw, with the operators' command (the embedded database wants the server stopped).
    await server.stop();
    expect(await pruneEventLog(dataDir)).toMatch(/pruned [1-9]\d* events/);
    server = await spawnServer(env);
    await lee.context.setOffline(false);
    await lee.page
      .getByRole('button', { name: /^6:00 – 6:30 PM Liam Evans Booked while her log was pruned$/ })
      .waitFor({ timeout: LIVE });
    await lee.page
      .getByTestId('connection-badge')
      .filter({ hasText: /^Live$/ })
      .waitFor({ timeout: LIVE });
    expect(await lee.page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    // It was the expired cursor that brought it back: the server answered her resumption with CURSOR_EXPIRED.
    expect(received.some((frame) => frame.includes('"CURSOR_EXPIRED"'))).toBe(true);
    // And live from there.
    await bookAt('18:30', 'After the reset');
    await lee.page
      .getByRole('button', { name: /^6:30 – 7:00 PM Liam Evans After the reset$/ })
      .waitFor({ timeout: LIVE });
  });
});
