import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startTestServer } from '../../../server/test/helpers/testServer.js';

import '../provided.js';

/**
 * One real API server (embedded database, both demo clinics) for the client project, started in the main process:
 * the tests themselves run under jsdom, where server libraries would take browser code paths.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startTestServer();
  project.provide('apiUrl', server.url);
  // Where the test files, two or more running at once against this one database, claim their days (see freshDay).
  const daysDir = await mkdtemp(join(tmpdir(), 'derm-client-days-'));
  project.provide('daysDir', daysDir);
  return async () => {
    await server.stop();
    await rm(daysDir, { recursive: true, force: true });
  };
}
