import { createRequire } from 'node:module';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';
import LongestFirst from './test/sequencer.js';

const require = createRequire(import.meta.url);

/**
 * The same server suite runs twice: on the embedded database (PGlite, in memory) and on a real PostgreSQL server
 * (a throwaway database per test file). TEST_DB tells the helpers which. The client's hook, cache and component tests
 * run under jsdom against one real API server ('client'), and the browser tests drive Debian's Chromium against the
 * real server process serving the built app ('e2e').
 */
/**
 * The server test files share nothing but what they start themselves (a server on an ephemeral port, a database copied
 * from the run's template): they run in one worker without a fresh module graph each, so the server's modules are
 * imported and PGlite's WebAssembly compiled once per worker instead of once per file.
 */
const serverSuite = { isolate: false } as const;

export default defineConfig({
  resolve: {
    // graphql 16 ships CommonJS (main) and ESM (module) builds without an exports map. Node loads the CommonJS one
    // for our dependencies, Vite would give our sources the ESM one, and graphql refuses a schema made by the other
    // copy ("Cannot use GraphQLSchema from another module or realm", graphql/graphql-js#2801). One copy for all.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Four files at a time on two cores: most of a test's time is waiting on sockets, databases, timers and other
    // processes. Measured on a 2 x Intel Xeon machine, 2026-12-03: vitest 253-259 s with three workers (three runs,
    // 1.25 cores used), 236-239 s with four (three runs, every test passing each time, 1.38 cores used: the machine
    // is still not saturated); earlier, on an AMD machine, 2 workers 282 s, 3 workers 196 s, 4 workers 175 s. Later
    // on that AMD machine, with a larger suite, both cores were busy: six workers took 255 s against 246-294 s with
    // four (2026-12-03), no gain. On 2026-12-04 six, with the postgres project right after the browsers, filled the
    // idle stretches of a run (that project's long files wait on timers, together at the end: 62 to 72 s of idle core
    // time against 14 to 21 s), but the extra contention cost about as much CPU as it saved: fresh clones of the
    // suite took 201 and 235 s against 229 and 231 s with four (alternated), 248 s against 238 s earlier that hour.
    // The tests must stay deterministic on a loaded machine: their waits are conditions with deadlines, never sleeps.
    // A project's own `maxWorkers` wins over the command line's (vitest 4), so this is the place to change it.
    maxWorkers: 4,
    // Longest first, across projects (test/sequencer.ts).
    sequence: { sequencer: LongestFirst },
    globalSetup: ['server/test/helpers/globalSetup.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'embedded',
          include: ['server/test/**/*.test.ts'],
          // Several instances sharing state, or a Redis of their own: PostgreSQL and Redis only.
          exclude: ['server/test/**/*.postgres.test.ts'],
          env: { TEST_DB: 'pglite' },
          ...serverSuite,
        },
      },
      {
        extends: true,
        test: { name: 'postgres', include: ['server/test/**/*.test.ts'], env: { TEST_DB: 'postgres' }, ...serverSuite },
      },
      {
        extends: true,
        plugins: [react()],
        test: {
          name: 'client',
          include: ['client/test/**/*.test.{ts,tsx}'],
          environment: 'jsdom',
          globalSetup: ['client/test/server/globalSetup.ts'],
          setupFiles: ['client/test/setup.ts'],
          // As the server projects: React, Apollo Client and the app's modules imported once per worker, not per file
          // (measured alone, three runs each: 53-64 s and 97-119 s of CPU isolated, 44-50 s and 79-90 s not). Each
          // file still gets its own jsdom window and mounts its own app with its own Apollo client; what the app keeps
          // at module level is keyed by its client (WeakMaps) or by the API's address (App.tsx's anonymous client).
          isolate: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['client/e2e/**/*.test.ts'],
          // Builds the app, starts and restarts the server, drives three browsers: generous, but bounded.
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
      {
        extends: true,
        test: {
          // The offline GraphQL explorer (explorer/), built and driven in Chromium against the real server process.
          name: 'explorer',
          include: ['explorer/e2e/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
