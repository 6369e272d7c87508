import { ADMIN_DATABASE_URL, reachable } from './services.js';

/** Fails the run in its first seconds when a service the tests need is not there: never a silent skip. */
export default async function globalSetup(): Promise<void> {
  try {
    await reachable(ADMIN_DATABASE_URL);
  } catch (err) {
    throw new Error(
      `PostgreSQL is not reachable at ${ADMIN_DATABASE_URL} (${(err as Error).message}). ` +
        `Start it (for example: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) ` +
        `or point TEST_DATABASE_URL at one.`,
    );
  }
}
