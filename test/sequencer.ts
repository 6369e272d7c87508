import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The suite runs on two cores, and its longest files (a browser driving the app, a server process restarted under an
 * integrator) spend much of their time waiting. Started last, as vitest's default order puts them (project by project,
 * by name), they alone make the end of the run; started first, the short files fill the cores around them.
 *
 * So: the projects whose files are long start first (the browsers), and within a project its files run longest first.
 * A project's files stay together: the server projects' workers keep their modules between files (isolate: false),
 * and mixing projects in one worker would import them again. How long a file takes is what vitest remembered from the
 * last run (node_modules/.vite/vitest), or else the estimate below (seconds on this machine), or else its size.
 */
const PROJECTS = ['e2e', 'explorer', 'client', 'embedded', 'postgres'];

const ESTIMATES: Record<string, number> = {
  'e2e:client/e2e/clinic.test.ts': 55,
  'explorer:explorer/e2e/explorer.test.ts': 19,
  'client:client/test/connection.test.tsx': 24,
  'client:client/test/retention.test.tsx': 11,
  'client:client/test/session.test.tsx': 10,
  'embedded:server/test/auth-throttle.test.ts': 20,
  'postgres:server/test/auth-throttle.test.ts': 20,
  'embedded:server/test/realtime/idle-sessions.test.ts': 17,
  'postgres:server/test/realtime/idle-sessions.test.ts': 16,
  'postgres:server/test/realtime/presence-instances.postgres.test.ts': 16,
  'embedded:server/test/realtime/sessions.test.ts': 15,
  'postgres:server/test/realtime/sessions.test.ts': 14,
  'embedded:server/test/realtime/resume.test.ts': 13,
  'embedded:server/test/integrations/examples.test.ts': 12,
  'postgres:server/test/auth-throttle-instances.postgres.test.ts': 12,
  'postgres:server/test/realtime/sessions-instances.postgres.test.ts': 11,
  'postgres:server/test/realtime/redis.postgres.test.ts': 11,
  'embedded:server/test/integrations/revocation.test.ts': 11,
  'embedded:server/test/realtime/ephemeral-sets.test.ts': 10,
  'postgres:server/test/realtime/ephemeral-sets.test.ts': 10,
  'postgres:server/test/integrations/examples.test.ts': 7,
  'postgres:server/test/realtime/viewing-instances.postgres.test.ts': 7,
  'embedded:server/test/realtime/viewing.test.ts': 7,
};

export default class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const { cache } = this.ctx;
    const root = this.ctx.config.root;
    const cost = (spec: TestSpecification) => {
      const key = `${spec.project.name}:${relative(root, spec.moduleId)}`;
      const remembered = cache.getFileTestResults(key)?.duration;
      if (remembered !== undefined) return remembered / 1000;
      return ESTIMATES[key] ?? (cache.getFileStats(key)?.size ?? 0) / 10_000;
    };
    const rank = (spec: TestSpecification) => {
      const i = PROJECTS.indexOf(spec.project.name);
      return i === -1 ? PROJECTS.length : i;
    };
    return [...files].sort((a, b) => rank(a) - rank(b) || cost(b) - cost(a));
  }
}
