import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import cors from 'cors';
import express from 'express';
import { GraphQLError } from 'graphql';
import { admitRequest } from './auth/authenticate.js';
import { CallerLimits, forHttp } from './auth/callerLimits.js';
import { TokenService } from './auth/tokens.js';
import { PasswordHashing } from './auth/passwords.js';
import { AttemptThrottle } from './auth/throttle.js';
import type { Config } from './config.js';
import { createContext, type Context, type Services } from './context.js';
import { ErrorCode } from './errors.js';
import { createDb, type Db } from './db/knex.js';
import { migrateLatest } from './db/migrate.js';
import { seedDemoIfEmpty } from './db/seeds/demo.js';
import { limitAnonymousRequests, type TrustProxy } from './http/anonymousLimit.js';
import { formatError, unexpectedErrorLogging } from './http/errors.js';
import { accessLogExport } from './http/auditExport.js';
import { drainHttpServer } from './http/drain.js';
import { mountClient } from './http/client.js';
import { bodyErrors, httpStatusCodes, negotiateMediaType } from './http/conformance.js';
import { mountExplorer, mountSchemaFile, sandboxWithExplorerLink } from './http/explorer.js';
import { livez, readyz } from './http/health.js';
import { OperationLimits, validationRules } from './http/limits.js';
import { logOperation } from './http/debugLog.js';
import { createMetrics } from './http/metrics.js';
import { tokenEndpoint } from './http/oauth.js';
import {
  accessControl,
  complexityLimit,
  operationLog,
  operationMetrics,
  patientAccessAudit,
  sessionActivity,
  subscriptionsNeedWebSocket,
} from './http/plugins.js';
import { eventStreamRouter } from './http/sse.js';
import { attachWebSocketServer } from './http/websocket.js';
import { EventPruner } from './events/retention.js';
import { Deadlines } from './realtime/deadlines.js';
import { createRealtime } from './realtime/service.js';
import { SubscriberGroups } from './subscriptions/groups.js';
import { primeDelivery } from './subscriptions/feedItems.js';
import { IntegrationService } from './domains/integrations/service.js';
import { SessionService } from './domains/identity/sessions.js';
import { standingsOfDisabled } from './domains/clinics/data.js';
import { PresenceService } from './domains/presence/service.js';
import { ViewingService } from './domains/patients/viewing.js';
import { createLogger, prettyLogs, type Logger } from './logger.js';
import { ConnectionBoard } from './realtime/connectionBoard.js';
import { AccessAuditWriter } from './domains/patients/accessAudit.js';
import { Metrics, UNKNOWN_OPERATION } from './metrics.js';
import { buildSchema } from './schema.js';

export interface App {
  services: Services;
  httpServer: Server;
  /** `http://host:port` once listening. */
  url: string;
  /** Stops taking requests, lets running ones finish, closes the database. */
  stop(): Promise<void>;
}

export interface AppOptions {
  /** Use this database instead of opening one from the config (tests). It is not closed by `stop()`. */
  db?: Db;
  log?: Logger;
}

const REQUEST_ID = /^[\w.:-]{1,64}$/;

/** How long a stopping server waits for its requests in flight and its WebSockets' goodbyes before it cuts them. */
const DRAIN_GRACE_MS = 10_000;

export async function startApp(config: Config, options: AppOptions = {}): Promise<App> {
  const log = options.log ?? createLogger(config.logLevel, { pretty: prettyLogs(config.env) });
  const db = options.db ?? createDb({ databaseUrl: config.databaseUrl, embeddedDir: `${config.dataDir}/pglite` });
  const applied = await migrateLatest(db);
  if (applied.length) log.info({ migrations: applied }, 'database migrated');
  if (config.seedDemo && (await seedDemoIfEmpty(db, config.passwordHashCost))) log.info('demo clinics loaded');

  const realtime = await createRealtime(db, config, log);
  const metrics = new Metrics();
  const services: Services = {
    config,
    db,
    log,
    tokens: new TokenService(config.jwtSecret, config.jwtTtlSeconds, config.oauthTokenTtlSeconds),
    realtime,
    presence: new PresenceService(realtime, config, log),
    viewing: new ViewingService(realtime, config),
    integrations: new IntegrationService(db, realtime, log, { recheckIntervalMs: config.recheckSeconds * 1000 }),
    // A sign-out is kept as long as the longest-lived token it may have to refuse.
    sessions: new SessionService(
      realtime,
      Math.max(config.jwtTtlSeconds, config.oauthTokenTtlSeconds),
      config.sessionIdleTimeoutSeconds,
      config.redisNamespace,
      log,
      // A clinic disabled without a signal reaching this instance: its connections close at the next check.
      { standings: (tenantIds) => standingsOfDisabled(db, tenantIds), intervalMs: config.recheckSeconds * 1000 },
    ),
    throttle: new AttemptThrottle(config.throttle, realtime.redis, config.redisNamespace, log),
    passwordHashing: new PasswordHashing(
      config.passwordHashConcurrency,
      config.passwordHashQueue,
      config.passwordHashCost,
    ),
    delivery: new SubscriberGroups(config.slowConsumerBytes, metrics),
    limits: new CallerLimits(config.rateLimits, realtime.redis, config.redisNamespace, log),
    deadlines: new Deadlines(),
    pruner: new EventPruner(db, config.eventRetentionDays, log),
    audit: new AccessAuditWriter(db, log),
    metrics,
    board: new ConnectionBoard(realtime.hub, metrics.clinics, log),
    // After each commit: this instance's tail takes the rows (or reads them), every other instance's is woken up; the
    // rows the change wrote go with its events to this instance's delivery.
    onEventsCommitted: [
      (tenantId, events, rows) => {
        primeDelivery(events, rows);
        realtime.feed.announce(tenantId, events);
      },
      (_tenantId, events) => metrics.eventsCommitted(events),
    ],
  };

  realtime.onStop.push(() => services.board.stop());

  const app = express();
  app.disable('x-powered-by');
  // Nothing we answer is served again for an ETag (the API is `no-store`; the web app's files have serve-static's own).
  app.set('etag', false);
  // req.ip: the client's address as the nearest trusted proxy saw it (what password attempts are counted against).
  if (config.trustProxyHops > 0) app.set('trust proxy', config.trustProxyHops);
  // Requests without a token, per source address, at the door: before Express and anything that reads their body.
  const httpServer = createServer(
    { keepAliveTimeout: config.httpKeepAliveSeconds * 1000 },
    limitAnonymousRequests(services.limits, app.get('trust proxy fn') as TrustProxy, app),
  );
  let draining = false;
  const schema = buildSchema();
  const webSocket = attachWebSocketServer(httpServer, schema, services);
  const eventStream = eventStreamRouter(schema, services);

  const apollo = new ApolloServer<Context>({
    schema,
    csrfPrevention: true,
    // main.ts owns SIGTERM/SIGINT and stops everything in order; Apollo's own handler would race it.
    stopOnTerminationSignals: false,
    introspection: true,
    includeStacktraceInErrorResponses: config.env === 'development',
    validationRules,
    formatError,
    plugins: [
      // No cache hints in the schema: every answer is `no-store` (set below, with the request id). Apollo's cache
      // control plugin would say the same, at the price of a hook around every field resolver of every operation.
      ApolloServerPluginCacheControlDisabled(),
      // On shutdown, close WebSockets with 1001 (going away) and end event streams, so clients reconnect elsewhere;
      // the requests in flight are answered, then every connection is closed (cut after DRAIN_GRACE_MS).
      {
        async serverWillStart() {
          return {
            async drainServer() {
              const drained = drainHttpServer(httpServer, webSocket.wss.clients, DRAIN_GRACE_MS);
              eventStream.dispose();
              await webSocket.dispose();
              await drained;
            },
          };
        },
      },
      subscriptionsNeedWebSocket(),
      complexityLimit(),
      accessControl(),
      sessionActivity(),
      patientAccessAudit(),
      operationMetrics(),
      operationLog(),
      httpStatusCodes(),
      unexpectedErrorLogging(),
      ...(config.env === 'production' ? [] : [sandboxWithExplorerLink(config)]),
    ],
    logger: log,
  });
  await apollo.start();

  app.get('/livez', livez);
  app.get(
    '/readyz',
    readyz(db, () => draining, realtime.hub),
  );
  app.get('/metrics', createMetrics(services, webSocket.wss));
  // Integrators: the token endpoint, GraphQL over SSE and the SDL, before /graphql (which would take /graphql/*).
  app.use(tokenEndpoint(services));
  app.use(eventStream.router);
  mountSchemaFile(app);
  // The access audit as CSV, for admins (before the web app, whose fallback would answer it).
  app.use(accessLogExport(services));
  app.use('/graphql', negotiateMediaType);
  app.use(
    '/graphql',
    cors<cors.CorsRequest>({ origin: config.corsOrigins, maxAge: 600 }),
    express.json({ limit: '256kb' }),
    (req, res, next) => {
      const query = (req.body as { query?: unknown } | undefined)?.query;
      if (typeof query === 'string' && query.length > OperationLimits.maxDocumentLength) {
        res.status(413).json({
          errors: [
            {
              message: `The document is longer than ${OperationLimits.maxDocumentLength} characters`,
              extensions: { code: 'BAD_REQUEST' },
            },
          ],
        });
        return;
      }
      next();
    },
    expressMiddleware(apollo, {
      context: async ({ req, res }) => {
        const startedAt = performance.now();
        const given = req.header('x-request-id');
        const requestId = given && REQUEST_ID.test(given) ? given : randomUUID();
        res.setHeader('x-request-id', requestId);
        // Patient records are never kept by browsers or proxies, even those of a query sent with GET.
        res.setHeader('cache-control', 'no-store');
        try {
          // Counted before the document is even parsed: a caller over its rate costs one check (docs/architecture.md,
          // "Limits per caller and clinic"). Requests without a token have no caller and are not counted.
          const { viewer, overRate } = await admitRequest(services, req.header('authorization'));
          if (overRate) throw forHttp(overRate);
          return createContext(services, viewer, requestId, 'HTTP', req.ip);
        } catch (err) {
          // Refused at the door: Apollo runs no request pipeline (plugins.ts, operationMetrics), so it is counted here.
          const code = err instanceof GraphQLError ? err.extensions.code : undefined;
          metrics.operation('http', UNKNOWN_OPERATION, startedAt, code ?? ErrorCode.INTERNAL_SERVER_ERROR);
          if (log.isLevelEnabled('debug')) {
            const fields = { type: UNKNOWN_OPERATION.type, fields: [] };
            logOperation(log.child({ requestId }), 'http', fields, startedAt, [
              code ?? ErrorCode.INTERNAL_SERVER_ERROR,
            ]);
          }
          throw err;
        }
      },
    }),
  );
  app.use('/graphql', bodyErrors);

  // The offline explorer at /explorer, before the web app (whose fallback would answer it).
  const explorer = await mountExplorer(app, config, log);

  // The web app at `/` (static build in production, Vite in development), after the API routes.
  const client = await mountClient(app, config, log);

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.port, config.host, () => resolve());
  });
  const { port } = httpServer.address() as AddressInfo;
  const url = `http://${config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host}:${port}`;
  log.info({ url: `${url}/graphql` }, 'derm-realtime listening');
  services.pruner.start();

  return {
    services,
    httpServer,
    url,
    async stop() {
      draining = true;
      await client.close();
      await explorer.close();
      await apollo.stop();
      services.deadlines.stop();
      await services.pruner.stop();
      await realtime.stop();
      await services.audit.settled();
      if (!options.db) await db.destroy();
    },
  };
}
