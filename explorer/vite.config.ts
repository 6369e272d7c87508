import path from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const explorerDir = path.dirname(fileURLToPath(import.meta.url));

/**
 * The offline GraphQL explorer (GraphiQL), bundled into static files the API server serves at /explorer: clinics often
 * run air-gapped, so nothing may load from a CDN. Kept apart from the clinic app (client/): its own entry, build and
 * output. In development the server runs this config through Vite in middleware mode (server/src/http/explorer.ts).
 */
export default defineConfig({
  root: explorerDir,
  base: '/explorer/',
  // Not Vite's default (node_modules/.vite): the clinic app's Vite runs in the same server in development, and two
  // dependency optimizers sharing one cache invalidate each other's bundles ("504 Outdated Optimize Dep") for ever.
  cacheDir: path.join(explorerDir, '../node_modules/.vite-explorer'),
  plugins: [react()],
  // Monaco (GraphiQL's editor) runs its language services in web workers; Vite bundles them as module workers.
  worker: { format: 'es' },
  build: {
    outDir: path.join(explorerDir, 'dist'),
    emptyOutDir: true,
    // Monaco is large; the explorer is a developer tool loaded once, not the clinic app.
    chunkSizeWarningLimit: 6000,
    rolldownOptions: {
      // GraphiQL's React Compiler output starts modules with "use no memo", which a bundle cannot keep; harmless.
      onwarn(warning, warn) {
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
});
