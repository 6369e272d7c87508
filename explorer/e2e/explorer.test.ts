import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnServer, type ServerProcess } from '../../server/test/helpers/process.js';
import { dayInZone } from '../../server/test/helpers/time.js';
import { buildApp, launchChromium, newBrowserContext } from '../../client/e2e/browser.js';

let dataDir: string;
let server: ServerProcess;
let browser: Browser;
/** Every URL the browser asked for (pages, scripts, styles, fonts, workers, sockets), from every context. */
const requested: string[] = [];

beforeAll(async () => {
  // `npm run build`'s explorer half: the static files the server serves at /explorer.
  await buildApp('explorer');
  dataDir = mkdtempSync(path.join(tmpdir(), 'derm-explorer-'));
  server = await spawnServer({ DATA_DIR: dataDir });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function openExplorer(search = ''): Promise<{ context: BrowserContext; page: Page }> {
  const context = await newBrowserContext(browser, { viewport: { width: 1400, height: 900 } });
  context.on('request', (r) => requested.push(r.url()));
  const page = await context.newPage();
  page.on('websocket', (ws) => requested.push(ws.url()));
  page.on('worker', (w) => requested.push(w.url()));
  await page.goto(`${server.url}/explorer/${search}`);
  await page.locator('.graphiql-container').waitFor();
  return { context, page };
}

async function signIn(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Sign in as a demo user' }).click();
  await page.getByRole('status').filter({ hasText: 'Signed in as' }).waitFor();
}

async function run(page: Page): Promise<void> {
  await page.getByRole('button', { name: /Execute query/ }).click();
}

/** The text of the response pane (Monaco renders spaces as no-break spaces). */
const response = async (page: Page) => (await page.locator('.graphiql-response').innerText()).replace(/\u00a0/g, ' ');

/**
 * Ids of today's appointments still to check in (today in the clinic's zone), read through the API as the front desk.
 */
async function scheduledToday(): Promise<string[]> {
  const post = async (query: string, token?: string) =>
    (await (
      await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ query }),
      })
    ).json()) as { data: any };
  const token = (
    await post(
      'mutation { login(tenant: "sunrise-derm", email: "frontdesk@sunrise.example", password: "derm-demo-2026") { token } }',
    )
  ).data.login.token;
  const { schedule } = (await post('{ schedule { id status } }', token)).data;
  const ids = (schedule as { id: string; status: string }[]).filter((a) => a.status === 'SCHEDULED').map((a) => a.id);
  expect(ids.length).toBeGreaterThan(0);
  return ids;
}

describe('The offline explorer (/explorer) in Chromium', () => {
  it('should load with no request leaving this server, run a query, and show the event a mutation caused to a subscription', async () => {
    // The sample's query: today's schedule, today being the clinic's (New York's), whatever the hour in UTC.
    const query = await openExplorer(
      `?query=${encodeURIComponent('query Schedule { me { tenant { today } } schedule { id status provider { name } } }')}`,
    );
    await signIn(query.page);
    // The token went where the API expects it, for a developer to see.
    await expect.poll(() => query.page.locator('.graphiql-editor-tool').innerText()).toMatch(/Authorization.*Bearer/s);
    await run(query.page);
    await expect.poll(() => response(query.page), { timeout: 15_000 }).toContain('"schedule"');
    expect(await response(query.page)).toContain('"provider"');
    expect(await response(query.page)).toContain(`"today": "${dayInZone('America/New_York')}"`);
    const scheduled = await scheduledToday();

    // A subscription in one window...
    const watcher = await openExplorer(
      `?query=${encodeURIComponent('subscription Changes { appointmentChanged { kind appointment { id status } } }')}`,
    );
    await signIn(watcher.page);
    await run(watcher.page);
    await expect
      .poll(
        () =>
          fetch(`${server.url}/metrics`)
            .then((r) => r.text())
            .then((m) => /derm_subscription_streams 1\b/.test(m)),
        { timeout: 15_000 },
      )
      .toBe(true);

    // ...shows the event a mutation run in another causes.
    const variables = JSON.stringify({ id: scheduled[0] });
    const actor = await openExplorer(
      `?query=${encodeURIComponent('mutation CheckIn($id: ID!) { checkInAppointment(id: $id) { id status } }')}&variables=${encodeURIComponent(variables)}`,
    );
    await signIn(actor.page);
    await run(actor.page);
    await expect.poll(() => response(actor.page), { timeout: 15_000 }).toContain('"status": "CHECKED_IN"');
    await expect.poll(() => response(watcher.page), { timeout: 15_000 }).toContain('"kind": "CHECKED_IN"');
    expect(await response(watcher.page)).toContain(scheduled[0]);

    // Nothing came from anywhere but this server: no CDN, no fonts, no telemetry.
    const origin = new URL(server.url);
    const elsewhere = requested.filter((url) => {
      const u = new URL(url);
      return !['data:', 'blob:'].includes(u.protocol) && u.host !== origin.host;
    });
    expect(elsewhere).toEqual([]);
    expect(requested.some((u) => u.startsWith('ws://'))).toBe(true);
    for (const { context } of [query, watcher, actor]) await context.close();
  });
});

describe('The explorer in production', () => {
  it('should be off unless EXPLORER_ENABLED, and then offer no demo sign-in', async () => {
    const prod = await spawnServer({
      NODE_ENV: 'production',
      DATA_DIR: dataDir,
      SEED_DEMO: 'false',
      HOST: '127.0.0.1',
    });
    try {
      expect((await fetch(`${prod.url}/explorer/`)).status).toBe(404);
    } finally {
      await prod.stop();
    }
    const enabled = await spawnServer({
      NODE_ENV: 'production',
      DATA_DIR: dataDir,
      SEED_DEMO: 'false',
      EXPLORER_ENABLED: 'true',
    });
    try {
      const page = await fetch(`${enabled.url}/explorer/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<div id="explorer">');
      expect(await (await fetch(`${enabled.url}/explorer/config.json`)).json()).toEqual({
        demo: null,
        eventStreamPath: '/graphql/stream',
      });
    } finally {
      await enabled.stop();
    }
  });
});
