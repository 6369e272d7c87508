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
 * last run (node_modules/.vite/vitest), or else the estimate below (seconds, measured in a whole run of the suite on
 * this machine, 2026-12-02), or else its size.
 */
const PROJECTS = ['e2e', 'explorer', 'client', 'embedded', 'postgres'];

const ESTIMATES: Record<string, number> = {
  'e2e:client/e2e/clinic.test.ts': 106,
  'e2e:client/e2e/dashboard.test.ts': 43,
  'embedded:server/test/integrations/examples.test.ts': 43,
  'embedded:server/test/clinics/clinics.test.ts': 38,
  'explorer:explorer/e2e/explorer.test.ts': 37,
  'client:client/test/connection.test.tsx': 30,
  'embedded:server/test/rate-limits.test.ts': 27,
  'client:client/test/retention.test.tsx': 25,
  'postgres:server/test/integrations/examples.test.ts': 22,
  'postgres:server/test/realtime/presence-instances.postgres.test.ts': 21,
  'embedded:server/test/dashboard/dashboard.test.ts': 20,
  'postgres:server/test/dashboard/dashboard.test.ts': 19,
  'embedded:server/test/realtime/resume.test.ts': 19,
  'embedded:server/test/realtime/idle-sessions.test.ts': 17,
  'embedded:server/test/auth-throttle.test.ts': 16,
  'postgres:server/test/realtime/idle-sessions.test.ts': 16,
  'postgres:server/test/auth-throttle.test.ts': 15,
  'postgres:server/test/realtime/resume.test.ts': 15,
  'embedded:server/test/realtime/sessions.test.ts': 15,
  'postgres:server/test/realtime/sessions-instances.postgres.test.ts': 14,
  'embedded:server/test/integrations/revocation.test.ts': 14,
  'postgres:server/test/realtime/sessions.test.ts': 14,
  'client:client/test/messages.test.tsx': 13,
  'postgres:server/test/rate-limits.test.ts': 13,
  'client:client/test/session.test.tsx': 13,
  'client:client/test/hooks.test.tsx': 11,
  'postgres:server/test/realtime/redis.postgres.test.ts': 11,
  'postgres:server/test/realtime/ephemeral-sets.test.ts': 11,
  'embedded:server/test/realtime/viewing.test.ts': 10,
  'embedded:server/test/realtime/ephemeral-sets.test.ts': 10,
  'embedded:server/test/logs-phi.test.ts': 9,
  'postgres:server/test/clinics/clinics.test.ts': 9,
  'postgres:server/test/logs-phi.test.ts': 8,
  'postgres:server/test/realtime/viewing-instances.postgres.test.ts': 8,
  'embedded:server/test/access-audit.test.ts': 8,
  'postgres:server/test/dashboard/dashboard-instances.postgres.test.ts': 7,
  'postgres:server/test/integrations/revocation.test.ts': 7,
  'postgres:server/test/clinics/clinics-instances.postgres.test.ts': 6,
  'postgres:server/test/rate-limits-instances.postgres.test.ts': 6,
  'postgres:server/test/realtime/multi-instance.postgres.test.ts': 6,
  'embedded:server/test/realtime/isolation-load.test.ts': 6,
  'postgres:server/test/access-audit.test.ts': 6,
  'postgres:server/test/auth-throttle-instances.postgres.test.ts': 5,
  'client:client/test/staff.test.tsx': 5,
  'postgres:server/test/second-factor.test.ts': 4,
  'postgres:server/test/integrations/revocation-instances.postgres.test.ts': 4,
  'embedded:server/test/second-factor.test.ts': 3,
  'client:client/test/sign-in.test.tsx': 3,
  'client:client/test/second-factor.test.tsx': 3,
  'client:client/test/audit.test.tsx': 3,
  'postgres:server/test/auth.test.ts': 2,
  'embedded:server/test/auth.test.ts': 2,
  'client:client/test/debug.test.tsx': 2,
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
