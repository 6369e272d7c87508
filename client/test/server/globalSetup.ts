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
  return () => server.stop();
}
