import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { type Express } from 'express';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { SCHEMA_DIR } from '../schema.js';

/** client/ at the repository root (beside schema/), from the sources and the build alike. */
export const CLIENT_DIR = path.join(path.dirname(SCHEMA_DIR), 'client');

export interface ClientMount {
  close(): Promise<void>;
}

const none: ClientMount = { close: async () => {} };

/**
 * The clinic web app on `/`, beside the API (same origin: no CORS, and the WebSocket origin check passes as same-host).
 * - production: the static build in client/dist (`npm run build`); hashed assets are cached for a year, every other
 *   GET that asks for HTML gets index.html (client-side routes).
 * - development: Vite in middleware mode, so `npm run dev` is one command and one port. Its HMR socket uses Vite's
 *   own port (24678): graphql-ws's WebSocket server answers 400 to any other path on this server's upgrade event.
 * - test: nothing.
 * Mounted after /graphql and the health routes, so it never shadows them.
 */
export async function mountClient(app: Express, config: Config, log: Logger): Promise<ClientMount> {
  if (config.env === 'production') {
    const dist = path.join(CLIENT_DIR, 'dist');
    const index = path.join(dist, 'index.html');
    if (!existsSync(index)) {
      log.warn({ dist }, 'no client build: run `npm run build` to serve the web app at /');
      return none;
    }
    app.use('/assets', express.static(path.join(dist, 'assets'), { immutable: true, maxAge: '1y' }), (_req, res) => {
      // A missing hashed asset is a plain 404, never index.html.
      res.status(404).end();
    });
    app.use(express.static(dist, { index: false, maxAge: '1h' }));
    app.use((req, res, next) => {
      if ((req.method !== 'GET' && req.method !== 'HEAD') || !req.accepts('html')) return next();
      res.setHeader('cache-control', 'no-cache');
      res.sendFile(index);
    });
    return none;
  }
  if (config.env === 'development') {
    // A devDependency, loaded only here.
    const { createServer } = await import('vite');
    const vite = await createServer({
      configFile: path.join(CLIENT_DIR, 'vite.config.ts'),
      appType: 'spa',
      server: { middlewareMode: true },
    });
    app.use(vite.middlewares);
    log.info('web app served by Vite (development)');
    return { close: () => vite.close() };
  }
  return none;
}
