import { ADMIN_DATABASE_URL, reachable, TEST_REDIS_URL } from './services.js';
import { buildServer } from './serverBuild.js';
import { prepareTemplates } from './templates.js';

/**
 * vitest runs a project's global set-up once per project, in its main process: the templates are made by the first
 * and removed after the last.
 */
const shared = globalThis as typeof globalThis & {
  dermTemplates?: { users: number; ready: Promise<() => Promise<void>> };
  dermServerBuild?: Promise<string>;
};

/** Fails the run in its first seconds when a service the tests need is not there: never a silent skip. */
export default async function globalSetup(): Promise<() => Promise<void>> {
  try {
    await reachable(ADMIN_DATABASE_URL);
  } catch (err) {
    throw new Error(
      `PostgreSQL is not reachable at ${ADMIN_DATABASE_URL} (${(err as Error).message}). ` +
        `Start it (for example: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) ` +
        `or point TEST_DATABASE_URL at one.`,
      { cause: err },
    );
  }
  try {
    await reachable(TEST_REDIS_URL);
  } catch (err) {
    throw new Error(
      `Redis is not reachable at ${TEST_REDIS_URL} (${(err as Error).message}). ` +
        `Start it (for example: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no) ` +
        `or point TEST_REDIS_URL at one.`,
      { cause: err },
    );
  }
  // The server's JavaScript for the processes the tests start (serverBuild.ts), once per run: the projects' set-ups
  // share one build, as they share the templates, even when they run at once.
  if (!process.env.DERM_TEST_SERVER_JS) await (shared.dermServerBuild ??= buildServer());
  shared.dermTemplates ??= { users: 0, ready: prepareTemplates() };
  const templates = shared.dermTemplates;
  templates.users += 1;
  await templates.ready;
  return async () => {
    templates.users -= 1;
    if (templates.users === 0) {
      shared.dermTemplates = undefined;
      await (
        await templates.ready
      )();
    }
  };
}
