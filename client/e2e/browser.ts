/// <reference lib="dom" />
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const RESULTS = path.join(ROOT, 'test-results', 'e2e');
/** Screenshots that document the app (looked at by a person, kept in the repository). */
export const SCREENSHOTS = path.join(ROOT, 'docs', 'screenshots');

/**
 * Debian's Chromium: Playwright cannot download its own here. Its old headless shell (`apt-get install
 * chromium-headless-shell`; .ci/run installs it) when installed, as Playwright itself uses for headless runs: the same
 * Blink and V8 without the full browser around them, measured on this two-core machine (2026-12-04, projects e2e and
 * explorer, two runs each, every test passing): 69 and 74 CPU-seconds against 92 and 98 with the full browser
 * (`chromium`), which is the fallback. `CHROMIUM_PATH` names another.
 */
const HEADLESS_SHELL = '/usr/lib/chromium/chromium-headless-shell';
export const CHROMIUM =
  process.env.CHROMIUM_PATH ??
  (existsSync(HEADLESS_SHELL) || !existsSync('/usr/bin/chromium') ? HEADLESS_SHELL : '/usr/bin/chromium');

/**
 * Headless and quiet: no GPU, no QUIC, no first-run, no background traffic to Google. Playwright starts every
 * `launch()` with a fresh temporary --user-data-dir of its own (it refuses one in `args`), removed on close.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Chromium never runs under libfaketime (preloaded, it spins and its pages time out), should a browser test be
    // started with a faked clock; `npm run test:clock` leaves the browser projects out (README, "Tests at any hour").
    env: Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(LD_PRELOAD|FAKETIME)/.test(name))),
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

/**
 * `npm run build`'s client half, into client/dist (what the production server serves at `/`): see `buildApp`.
 */
export function buildClient(): Promise<void> {
  // What `npm run build` makes: vitest sets NODE_ENV=test, which would give Vite React's development build.
  return buildApp('client', { NODE_ENV: 'production' });
}

/**
 * `npm run build`'s half for `app` (client/ or explorer/), into its dist/, once for the browser files that run at once
 * and once for the runs that follow as long as what it is built from stays the same: the build is named by a hash of
 * its inputs (the app's folder but for dist/ and the tests, package-lock.json, `env`), written beside it when it is
 * done. A lock file makes a second test file wait for the build the first one started rather than write dist/ under
 * it.
 */
export async function buildApp(app: 'client' | 'explorer', env: Record<string, string> = {}): Promise<void> {
  const dist = path.join(ROOT, app, 'dist');
  const stamp = path.join(CACHE, `${app}-build.key`);
  const key = buildKey(app, env);
  await withLock(path.join(CACHE, `${app}-build.lock`), async () => {
    if (existsSync(path.join(dist, 'index.html')) && readIfExists(stamp) === key) return;
    rmSync(stamp, { force: true });
    await viteBuild(app, env);
    writeFileSync(stamp, key);
  });
}

const CACHE = path.join(ROOT, 'node_modules/.cache/derm-e2e');
/** Not what the build reads: its output and the tests. */
const NOT_INPUTS = new Set(['dist', 'e2e', 'test', 'README.md']);

function buildKey(app: string, env: Record<string, string>): string {
  const hash = createHash('sha256').update(JSON.stringify({ NODE_ENV: process.env.NODE_ENV, ...env }));
  const files = [path.join(ROOT, 'package-lock.json')];
  for (const entry of readdirSync(path.join(ROOT, app), { withFileTypes: true, recursive: true })) {
    const top = path.relative(path.join(ROOT, app), entry.parentPath).split(path.sep)[0] || entry.name;
    if (entry.isFile() && !NOT_INPUTS.has(top)) files.push(path.join(entry.parentPath, entry.name));
  }
  for (const file of files.sort()) hash.update(path.relative(ROOT, file)).update('\0').update(readFileSync(file));
  return hash.digest('hex');
}

function readIfExists(file: string): string | null {
  return existsSync(file) ? readFileSync(file, 'utf8') : null;
}

/**
 * Runs `work` holding a lock file (its holder's pid inside), waiting up to 5 minutes for another process to let go;
 * a lock whose process is gone is taken over.
 */
async function withLock(lock: string, work: () => Promise<void>): Promise<void> {
  mkdirSync(path.dirname(lock), { recursive: true });
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number(readIfExists(lock));
    if (holder && !alive(holder)) rmSync(lock, { force: true });
    else if (Date.now() > deadline) throw new Error(`${lock} still held by process ${holder} after 5 minutes`);
    else await new Promise((resolve) => setTimeout(resolve, 200));
  }
  try {
    await work();
  } finally {
    rmSync(lock, { force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function viteBuild(app: string, env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        path.join(ROOT, 'node_modules/vite/bin/vite.js'),
        'build',
        '--config',
        `${app}/vite.config.ts`,
        '--logLevel',
        'warn',
      ],
      {
        cwd: ROOT,
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`vite build failed (${code}):\n${output}`))));
  });
}

/** A browser context: its own storage, a separate person. */
export async function newBrowserContext(
  browser: Browser,
  options: Parameters<Browser['newContext']>[0] = {},
): Promise<BrowserContext> {
  return browser.newContext(options);
}

export interface Staff {
  context: BrowserContext;
  page: Page;
  name: string;
}

export interface SignInOptions {
  /** @default 1440×900 */
  viewport?: { width: number; height: number };
  /** A phone: touch, mobile viewport meta honoured. */
  mobile?: boolean;
  /**
   * Connection timing for this browser (apollo/timing.ts, `derm-realtime.connection-timing` in localStorage), set
   * before the app loads: the production build, with shorter waits.
   */
  timing?: Record<string, number>;
}

/** A browser context of its own (its own storage: a separate person), signed in through the sign-in form. */
export async function signIn(
  browser: Browser,
  base: string,
  tenant: string,
  email: string,
  name: string,
  { viewport = { width: 1440, height: 900 }, mobile = false, timing }: SignInOptions = {},
): Promise<Staff> {
  const context = await newBrowserContext(browser, { viewport, baseURL: base, isMobile: mobile, hasTouch: mobile });
  if (timing) {
    await context.addInitScript(([key, value]) => window.localStorage.setItem(key, value), [
      'derm-realtime.connection-timing',
      JSON.stringify(timing),
    ] as const);
  }
  const page = await context.newPage();
  await page.goto('/');
  await page.getByLabel('Clinic').fill(tenant);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('derm-demo-2026');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByTestId('connection-badge').filter({ hasText: 'Live' }).waitFor();
  return { context, page, name };
}

/** A GraphQL operation over HTTP, as another program (or a colleague's browser) would send it. */
export async function api<T = any>(
  base: string,
  token: string | null,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<T> {
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T; errors?: { message: string }[] };
  if (body.errors?.length) throw new Error(`GraphQL error: ${body.errors.map((e) => e.message).join('; ')}`);
  return body.data as T;
}

export async function apiLogin(base: string, tenant: string, email: string): Promise<string> {
  const data = await api<{ login: { token: string } }>(
    base,
    null,
    'mutation($t: String!, $e: String!, $p: String!) { login(tenant: $t, email: $e, password: $p) { token } }',
    { t: tenant, e: email, p: 'derm-demo-2026' },
  );
  return data.login.token;
}

const AXE = readFileSync(path.join(ROOT, 'node_modules/axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/** axe-core (pinned in package.json) on the page as it is now: its critical and serious violations. */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ content: AXE });
  // Colours are judged as they settle, not half-way through a dialog's fade-in.
  await page.waitForFunction(() =>
    document.getAnimations().every((a) => a.playState !== 'running' || a.effect?.getTiming().iterations === Infinity),
  );
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: Document, o: object): Promise<any> } }).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return (result.violations as any[]).map((v) => ({
      id: v.id as string,
      impact: v.impact as string | null,
      help: v.help as string,
      targets: (v.nodes as any[]).slice(0, 5).map((n) => String(n.target)),
    }));
  });
  return violations.filter((v) => v.impact === 'critical' || v.impact === 'serious');
}

/**
 * Controls (buttons, links, fields) in view that something else covers: at the centre of each, the topmost element
 * is not the control or inside it.
 */
export function coveredControls(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const covered: string[] = [];
    for (const el of document.querySelectorAll<HTMLElement>('button, a[href], input, select, textarea')) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      const x = r.left + r.width / 2;
      const y = r.top + r.height / 2;
      if (x < 0 || y < 0 || x > window.innerWidth || y > window.innerHeight) continue;
      const top = document.elementFromPoint(x, y);
      if (top && !el.contains(top) && !top.contains(el)) {
        // Clipped by a scrolling ancestor (out of its view) is not covered.
        let clipped = false;
        for (let p = el.parentElement; p; p = p.parentElement) {
          const style = getComputedStyle(p);
          if (/(auto|scroll|hidden)/.test(style.overflow + style.overflowY + style.overflowX)) {
            const pr = p.getBoundingClientRect();
            if (y < pr.top || y > pr.bottom || x < pr.left || x > pr.right) clipped = true;
          }
        }
        if (!clipped) covered.push(`${el.tagName.toLowerCase()} "${(el.textContent ?? '').trim().slice(0, 40)}"`);
      }
    }
    return covered;
  });
}

/**
 * A screenshot of the viewport, as a person sees it: into test-results/e2e/, and into docs/screenshots/ (kept in the
 * repository) when `UPDATE_SCREENSHOTS=1`, so that an ordinary test run leaves the work tree as it was.
 */
export async function documentScreenshot(page: Page, name: string): Promise<void> {
  const dir = process.env.UPDATE_SCREENSHOTS === '1' ? SCREENSHOTS : RESULTS;
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`) });
}

/** How many lines of each page's accessibility tree a failed test prints (its navigation left out). */
const SNAPSHOT_LINES = 120;

/** An accessibility tree (Playwright's YAML) without its navigation landmarks' contents: the same on every page. */
function withoutNavigation(tree: string): string[] {
  const kept: string[] = [];
  let skipDeeperThan = -1;
  for (const line of tree.split('\n')) {
    const depth = line.search(/\S/);
    if (skipDeeperThan >= 0 && depth > skipDeeperThan) continue;
    skipDeeperThan = /^\s*- navigation\b/.test(line) ? depth : -1;
    kept.push(line);
  }
  return kept;
}

/**
 * Full-page screenshots of every page, for a failed test; and what each page showed, printed as its URL and its
 * accessibility tree, for a run whose files are gone with its machine (CI keeps only the log).
 */
export async function screenshotAll(testName: string, people: Staff[]): Promise<void> {
  mkdirSync(RESULTS, { recursive: true });
  const slug = testName.replace(/[^\w]+/g, '-').slice(0, 80);
  for (const person of people) {
    await person.page
      .screenshot({ path: path.join(RESULTS, `${slug}--${person.name.replace(/[^\w]+/g, '-')}.png`), fullPage: true })
      .catch(() => {});
    const tree = await person.page
      .locator('body')
      .ariaSnapshot({ timeout: 2_000 })
      .catch((err: Error) => `(no accessibility tree: ${err.message.split('\n')[0]})`);
    const lines = withoutNavigation(tree);
    const shown = lines.slice(0, SNAPSHOT_LINES).join('\n');
    const more = lines.length > SNAPSHOT_LINES ? `\n  … ${lines.length - SNAPSHOT_LINES} more lines` : '';
    console.error(`${person.name} at ${person.page.url()} when "${testName}" failed:\n${shown}${more}`);
  }
}
