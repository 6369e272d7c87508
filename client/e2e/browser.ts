import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const RESULTS = path.join(ROOT, 'test-results', 'e2e');

/** Debian's Chromium (`apt-get install chromium`; .ci/run installs it): Playwright cannot download its own here. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Headless and quiet: no GPU, no QUIC, no first-run, no background traffic to Google. Playwright starts every
 * `launch()` with a fresh temporary --user-data-dir of its own (it refuses one in `args`), removed on close.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** `npm run build`'s client half, into client/dist (what the production server serves at `/`). */
export function buildClient(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        path.join(ROOT, 'node_modules/vite/bin/vite.js'),
        'build',
        '--config',
        'client/vite.config.ts',
        '--logLevel',
        'warn',
      ],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`vite build failed (${code}):\n${output}`))));
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
    probe.on('error', reject);
  });
}

export interface Staff {
  context: BrowserContext;
  page: Page;
  name: string;
}

/** A browser context of its own (its own storage: a separate person), signed in through the sign-in form. */
export async function signIn(
  browser: Browser,
  base: string,
  tenant: string,
  email: string,
  name: string,
): Promise<Staff> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, baseURL: base });
  const page = await context.newPage();
  await page.goto('/');
  await page.getByLabel('Clinic').fill(tenant);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('derm-demo-2026');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
  await page.getByTestId('connection-badge').filter({ hasText: 'Live' }).waitFor();
  return { context, page, name };
}

/** Full-page screenshots of every page, for a failed test. */
export async function screenshotAll(testName: string, people: Staff[]): Promise<void> {
  mkdirSync(RESULTS, { recursive: true });
  const slug = testName.replace(/[^\w]+/g, '-').slice(0, 80);
  for (const person of people) {
    await person.page
      .screenshot({ path: path.join(RESULTS, `${slug}--${person.name.replace(/[^\w]+/g, '-')}.png`), fullPage: true })
      .catch(() => {});
  }
}
