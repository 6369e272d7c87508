import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import compression from 'compression';
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
 * A port free now on the loopback interface, for a Vite dev server's hot-reload WebSocket. This server's own upgrades
 * belong to graphql-ws (which answers 400 to any other path), so HMR needs a port of its own; a fixed one (Vite's
 * default 24678) makes a second dev server on another `PORT` fail with "Port 24678 is already in use".
 */
export function freeHmrPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
    probe.on('error', reject);
  });
}

/**
 * The clinic web app on `/`, beside the API (same origin: no CORS, and the WebSocket origin check passes as same-host).
 * - production: the static build in client/dist (`npm run build`), compressed (gzip or Brotli, as the browser
 *   accepts); hashed assets are cached for a year, every other GET that asks for HTML gets index.html (client-side
 *   routes). Source maps are built (hidden: no `sourceMappingURL` in the scripts) for error tools, and never served.
 * - development: Vite in middleware mode, so `npm run dev` is one command and one port; its HMR socket gets a free
 *   port of its own (see `freeHmrPort`).
 * - test: nothing.
 * Mounted after /graphql and the health routes, so it never shadows them (and never compresses their answers).
 */
export async function mountClient(app: Express, config: Config, log: Logger): Promise<ClientMount> {
  if (config.env === 'production') {
    const dist = path.join(CLIENT_DIR, 'dist');
    const index = path.join(dist, 'index.html');
    if (!existsSync(index)) {
      log.warn({ dist }, 'no client build: run `npm run build` to serve the web app at /');
      return none;
    }
    app.use(compression());
    app.use(
      '/assets',
      (req, res, next) => (req.path.endsWith('.map') ? res.status(404).end() : next()),
      express.static(path.join(dist, 'assets'), { immutable: true, maxAge: '1y' }),
      (_req, res) => {
        // A missing hashed asset is a plain 404, never index.html.
        res.status(404).end();
      },
    );
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
    const hmrPort = await freeHmrPort();
    const vite = await createServer({
      configFile: path.join(CLIENT_DIR, 'vite.config.ts'),
      appType: 'spa',
      server: { middlewareMode: true, ws: { port: hmrPort } },
    });
    app.use(vite.middlewares);
    log.info({ hmrPort }, 'web app served by Vite (development)');
    return { close: () => vite.close() };
  }
  return none;
}
