import path from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const clientDir = path.dirname(fileURLToPath(import.meta.url));

/**
 * The clinic app. In development the API server mounts Vite in middleware mode (server/src/http/client.ts), so the
 * app and /graphql share one origin and one command; `npm run build` writes the static app to client/dist, which the
 * server serves at `/` in production.
 */
export default defineConfig({
  root: clientDir,
  plugins: [react()],
  build: {
    outDir: path.join(clientDir, 'dist'),
    emptyOutDir: true,
    // For error tools, not for the public: no `sourceMappingURL` in the scripts, and the server never serves *.map.
    sourcemap: 'hidden',
    rolldownOptions: {
      output: {
        // Libraries (React, Apollo Client, graphql-js) change less often than the app: their own cacheable chunks.
        codeSplitting: {
          groups: [
            { name: 'react', test: /node_modules[\\/](react|react-dom|react-router|scheduler)[\\/]/ },
            { name: 'apollo', test: /node_modules[\\/](@apollo|graphql|graphql-ws|rxjs|@wry|optimism|tslib)[\\/]/ },
          ],
        },
      },
    },
  },
  server: {
    // Used only when the client is served on its own (`npx vite client`): forward the API to the server.
    proxy: { '/graphql': { target: 'http://localhost:4000', ws: true } },
  },
});
