import { defineConfig } from 'vitest/config';

/**
 * The same suite runs twice: on the embedded database (PGlite, in memory) and on a real PostgreSQL server
 * (a throwaway database per test file). TEST_DB tells the helpers which.
 */
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: one file at a time per project keeps timing-sensitive tests honest.
    fileParallelism: false,
    globalSetup: ['server/test/helpers/globalSetup.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'embedded', include: ['server/test/**/*.test.ts'], env: { TEST_DB: 'pglite' } },
      },
      {
        extends: true,
        test: { name: 'postgres', include: ['server/test/**/*.test.ts'], env: { TEST_DB: 'postgres' } },
      },
    ],
  },
});
