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
  'e2e:client/e2e/clinic.test.ts': 186,
  'e2e:client/e2e/dashboard.test.ts': 40,
  'postgres:server/test/dashboard/dashboard-instances.postgres.test.ts': 20,
  'embedded:server/test/dashboard/dashboard.test.ts': 25,
  'postgres:server/test/dashboard/dashboard.test.ts': 25,
  'explorer:explorer/e2e/explorer.test.ts': 95,
  'embedded:server/test/clinics/clinics.test.ts': 59,
  'embedded:server/test/integrations/examples.test.ts': 58,
  'embedded:server/test/second-factor.test.ts': 51,
  'client:client/test/retention.test.tsx': 49,
  'postgres:server/test/second-factor.test.ts': 44,
  'postgres:server/test/clinics/clinics-instances.postgres.test.ts': 41,
  'client:client/test/connection.test.tsx': 41,
  'postgres:server/test/integrations/examples.test.ts': 39,
  'postgres:server/test/realtime/sessions-instances.postgres.test.ts': 35,
  'postgres:server/test/realtime/presence-instances.postgres.test.ts': 32,
  'postgres:server/test/auth-throttle.test.ts': 31,
  'embedded:server/test/logs-phi.test.ts': 30,
  'client:client/test/hooks.test.tsx': 26,
  'postgres:server/test/logs-phi.test.ts': 25,
  'embedded:server/test/auth-throttle.test.ts': 24,
  'postgres:server/test/realtime/viewing-instances.postgres.test.ts': 22,
  'postgres:server/test/auth-throttle-instances.postgres.test.ts': 22,
  'embedded:server/test/realtime/idle-sessions.test.ts': 20,
  'embedded:server/test/integrations/revocation.test.ts': 19,
  'client:client/test/messages.test.tsx': 19,
  'postgres:server/test/realtime/redis.postgres.test.ts': 18,
  'postgres:server/test/realtime/idle-sessions.test.ts': 18,
  'embedded:server/test/rate-limits.test.ts': 18,
  'postgres:server/test/realtime/resume.test.ts': 17,
  'postgres:server/test/rate-limits.test.ts': 17,
  'embedded:server/test/realtime/sessions.test.ts': 17,
  'client:client/test/session.test.tsx': 17,
  'postgres:server/test/realtime/sessions.test.ts': 16,
  'postgres:server/test/rate-limits-instances.postgres.test.ts': 16,
  'postgres:server/test/clinics/clinics.test.ts': 16,
  'postgres:server/test/auth.test.ts': 14,
  'postgres:server/test/integrations/revocation-instances.postgres.test.ts': 13,
  'postgres:server/test/integrations/revocation.test.ts': 12,
  'postgres:server/test/realtime/multi-instance.postgres.test.ts': 11,
  'embedded:server/test/realtime/resume.test.ts': 11,
  'embedded:server/test/realtime/isolation-load.test.ts': 11,
  'embedded:server/test/access-audit.test.ts': 14,
  'postgres:server/test/access-audit.test.ts': 14,
  'postgres:server/test/realtime/ephemeral-sets.test.ts': 10,
  'embedded:server/test/realtime/viewing.test.ts': 10,
  'embedded:server/test/realtime/ephemeral-sets.test.ts': 10,
  'embedded:server/test/auth.test.ts': 10,
  'client:client/test/sign-in.test.tsx': 10,
  'client:client/test/second-factor.test.tsx': 10,
  'client:client/test/staff.test.tsx': 8,
  'client:client/test/debug.test.tsx': 5,
  'client:client/test/audit.test.tsx': 4,
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
