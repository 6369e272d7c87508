import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import express, { type Express } from 'express';
import type { Config } from '../config.js';
import { DEMO_CLINICS, DEMO_PASSWORD, demoEmail } from '../db/seeds/demo.js';
import type { Logger } from '../logger.js';
import { loadTypeDefs, SCHEMA_DIR } from '../schema.js';
import { freeHmrPort } from './client.js';
import { EVENT_STREAM_PATH } from './sse.js';

/** Where the offline explorer is served. */
export const EXPLORER_PATH = '/explorer';
/** Where the SDL is served as one file. */
export const SCHEMA_FILE_PATH = '/graphql/schema.graphql';

/** explorer/ at the repository root (beside schema/), from the sources and the build alike. */
const EXPLORER_DIR = path.join(path.dirname(SCHEMA_DIR), 'explorer');

export interface ExplorerMount {
  close(): Promise<void>;
}

const none: ExplorerMount = { close: async () => {} };

/** What the explorer page asks the server for: demo accounts for one-click sign-in, outside production only. */
function explorerConfig(config: Config) {
  const demo =
    config.env !== 'production' && config.seedDemo
      ? {
          password: DEMO_PASSWORD,
          accounts: DEMO_CLINICS.flatMap((clinic) =>
            clinic.staff.map((s) => ({
              tenant: clinic.slug,
              email: demoEmail(clinic, s.key),
              name: s.name,
              role: s.role,
            })),
          ),
        }
      : null;
  return { demo, eventStreamPath: EVENT_STREAM_PATH };
}

/** The SDL, all of schema/ in one file: descriptions and scope directives included (introspection drops directives). */
export function mountSchemaFile(app: Express): void {
  const sdl = loadTypeDefs().join('\n');
  // Its own ETag, computed once (the app generates none, see app.ts): `res.send` answers 304 to a matching request.
  const etag = `"${createHash('sha256').update(sdl).digest('base64url')}"`;
  app.get(SCHEMA_FILE_PATH, (_req, res) => {
    res.type('text/plain; charset=utf-8').setHeader('content-disposition', 'inline; filename="schema.graphql"');
    res.setHeader('etag', etag);
    res.send(sdl);
  });
}

/**
 * The offline GraphQL explorer (GraphiQL) at /explorer, bundled by our build: nothing loads from a CDN.
 * - off (`EXPLORER_ENABLED=false`, the default in production): /explorer says how to turn it on;
 * - development: Vite in middleware mode runs explorer/vite.config.ts (no build step; hot reload on a free port
 *   of its own);
 * - otherwise: the static build in explorer/dist (`npm run build`).
 * Mounted before the web app, whose fallback would otherwise answer /explorer with the app's page.
 */
export async function mountExplorer(app: Express, config: Config, log: Logger): Promise<ExplorerMount> {
  if (!config.explorerEnabled) {
    app.use(EXPLORER_PATH, (_req, res) => {
      res.status(404).type('text/plain').send('The explorer is off here. Set EXPLORER_ENABLED=true to serve it.\n');
    });
    return none;
  }
  const settings = explorerConfig(config);
  app.get(`${EXPLORER_PATH}/config.json`, (_req, res) => {
    res.setHeader('cache-control', 'no-store');
    res.json(settings);
  });
  // Without the trailing slash the page's relative URLs would resolve against / (Express matches both: look at the
  // URL).
  app.get(EXPLORER_PATH, (req, res, next) => {
    const url = new URL(req.originalUrl, 'http://localhost');
    if (url.pathname !== EXPLORER_PATH) return next();
    res.redirect(301, `${EXPLORER_PATH}/${url.search}`);
  });

  if (config.env === 'development') {
    const { createServer } = await import('vite');
    const vite = await createServer({
      configFile: path.join(EXPLORER_DIR, 'vite.config.ts'),
      appType: 'spa',
      // Hot reload's WebSocket needs a port of its own: this server's upgrades belong to graphql-ws (which refuses
      // other paths). A free one, so that several dev servers can run side by side.
      server: { middlewareMode: true, ws: { port: await freeHmrPort() } },
    });
    app.use((req, res, next) => (req.url.startsWith(`${EXPLORER_PATH}/`) ? vite.middlewares(req, res, next) : next()));
    log.info({ url: EXPLORER_PATH }, 'explorer served by Vite (development)');
    return { close: () => vite.close() };
  }

  const dist = path.join(EXPLORER_DIR, 'dist');
  const index = path.join(dist, 'index.html');
  if (!existsSync(index)) {
    log.warn({ dist }, 'no explorer build: run `npm run build` to serve the explorer at /explorer');
    app.use(EXPLORER_PATH, (_req, res) => {
      res.status(503).type('text/plain').send('The explorer is not built: run `npm run build`.\n');
    });
    return none;
  }
  app.use(
    `${EXPLORER_PATH}/assets`,
    express.static(path.join(dist, 'assets'), { immutable: true, maxAge: '1y', fallthrough: false }),
  );
  app.get(`${EXPLORER_PATH}/`, (_req, res) => {
    res.setHeader('cache-control', 'no-cache');
    res.sendFile(index);
  });
  return none;
}

/**
 * Apollo's development landing page (Apollo Sandbox, which loads from Apollo's CDN), with a bar on top that links
 * plainly to the local explorer: the one that works without internet.
 */
export function sandboxWithExplorerLink(config: Config): ApolloServerPlugin {
  const sandbox = ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false });
  const bar = config.explorerEnabled
    ? `Apollo Sandbox loads from Apollo's CDN. Offline, or air-gapped? The local explorer needs no internet: <a href="${EXPLORER_PATH}/">${EXPLORER_PATH}</a> · SDL: <a href="${SCHEMA_FILE_PATH}">${SCHEMA_FILE_PATH}</a>`
    : `Apollo Sandbox loads from Apollo's CDN. SDL: <a href="${SCHEMA_FILE_PATH}">${SCHEMA_FILE_PATH}</a>`;
  return {
    async serverWillStart(service) {
      const listener = await sandbox.serverWillStart!(service);
      return {
        async renderLandingPage() {
          const page = await listener!.renderLandingPage!();
          const html = typeof page.html === 'string' ? page.html : await page.html();
          // Apollo's page allows only styles carrying its nonce (Content-Security-Policy): ours carries it too.
          const nonce = /'nonce-([0-9a-f]+)'/.exec(html)?.[1] ?? '';
          const style = `<style nonce="${nonce}">#derm-explorer-bar{position:fixed;top:0;left:0;right:0;height:32px;z-index:10;box-sizing:border-box;padding:6px 12px;font:14px/20px system-ui,sans-serif;background:#0f766e;color:#fff}#derm-explorer-bar a{color:#fff;font-weight:600}body #embeddableSandbox{top:32px;height:calc(100vh - 32px)}body .fallback{margin-top:32px}</style>`;
          return { html: html.replace('<body>', `<body>\n    ${style}<div id="derm-explorer-bar">${bar}</div>`) };
        },
      };
    },
  };
}
