import { performance } from 'node:perf_hooks';
import cors from 'cors';
import express, { type Request, type Response, type Router } from 'express';
import { GraphQLError, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { createHandler } from 'graphql-sse';
import { admitRequest } from '../auth/authenticate.js';
import { retryAfterOf, type Release } from '../auth/callerLimits.js';
import { CLINIC_DISABLED_MESSAGE } from '../domains/clinics/standing.js';
import type { Viewer } from '../auth/tokens.js';
import { logFields, type Context, type Services } from '../context.js';
import type { Logger } from '../logger.js';
import { ErrorCode } from '../errors.js';
import { connectionId } from '../ids.js';
import { UNKNOWN_OPERATION } from '../metrics.js';
import { msSince } from './debugLog.js';
import { OperationLimits } from './limits.js';
import { auditStreamEvent } from '../domains/patients/accessAudit.js';
import {
  executeAudited,
  forClient,
  maskedResult,
  observeOperation,
  observeRefused,
  prepareOperation,
} from './operation.js';
import { SocketLimits } from './websocket.js';
import { attachTransport, type SubscriberSink } from '../subscriptions/sink.js';
import { subscribeSharing } from '../subscriptions/subscribe.js';
import { watchSession, type WatchedSession } from './session.js';

/** Where GraphQL over Server-Sent Events is served (graphql-sse, distinct connections mode). */
export const EVENT_STREAM_PATH = '/graphql/stream';

/** Why the server ended a stream early: the last `next` event carries it as `extensions.reason`. */
export const StreamEndReason = {
  /** Get a new token and subscribe again with your last cursor. */
  tokenExpired: 'TOKEN_EXPIRED',
  /** The integration client was revoked: no new token will be issued. */
  clientRevoked: 'CLIENT_REVOKED',
  /** The session was signed out: sign in again. */
  signedOut: 'SIGNED_OUT',
  /** The staff session had no activity for `SESSION_IDLE_TIMEOUT`: sign in again. */
  sessionIdle: 'SESSION_IDLE',
  /** The operators disabled the clinic: sign-in is refused until it is enabled. */
  clinicDisabled: 'CLINIC_DISABLED',
} as const;

interface StreamRequestContext {
  viewer: Viewer;
  requestId: string;
  /** When the request came (`performance.now()`), for the operation metrics. */
  startedAt: number;
  /** Where the delivery groups write this stream's events (through `eventSink`). */
  res: Response;
  /** Set once the operation is prepared; opened once the stream's head is written. */
  sink?: StreamSink;
  /** A subscription's place among its caller's and clinic's live ones (auth/callerLimits.ts), given back at the end. */
  release?: Release;
  /** Its debug lines, with its request id: only at that level. */
  trace?: Logger;
}

type StreamSink = SubscriberSink & { open(): void };

const SSE_NEXT = Buffer.from('event: next\ndata: ');
const SSE_END = Buffer.from('\n\n');

/**
 * Where the delivery groups write one stream's `next` events: the group's payload bytes, framed as a server-sent
 * event. What comes before the response's head is written (a replay starts at once) waits for `open()`; nothing is
 * written once the response has ended (the stream ended on expiry, revocation or shutdown).
 */
function eventSink(res: Response, ctx: Context): StreamSink {
  let pending: Array<string | Buffer> | null = [];
  let pendingBytes = 0;
  const write = (chunk: string | Buffer) => {
    if (pending) {
      pending.push(chunk);
      pendingBytes += chunk.length;
    } else if (!res.writableEnded && !res.destroyed) res.write(chunk);
  };
  return {
    origin: { via: ctx.via, requestId: ctx.requestId },
    // The same bytes for every stream of the group: framed once per event.
    next: (payload) => write(payload.framed('sse', (bytes) => Buffer.concat([SSE_NEXT, bytes, SSE_END]))),
    nextResult: (result) => write(frame('next', maskedResult(result, ctx))),
    get bufferedAmount() {
      return res.writableLength + pendingBytes;
    },
    drained: () =>
      res.writableNeedDrain && !res.destroyed
        ? new Promise<void>((resolve) => {
            const done = () => {
              res.off('drain', done).off('close', done);
              resolve();
            };
            res.on('drain', done).on('close', done);
          })
        : Promise.resolve(),
    open() {
      const chunks = pending ?? [];
      pending = null;
      pendingBytes = 0;
      for (const chunk of chunks) write(chunk);
    },
  };
}

interface LiveStream {
  /** Ends the stream: with a last error event (expiry, revocation), or silently (shutdown: the client reconnects). */
  end(final: { message: string; reason: string } | null): void;
}

const MEDIA_TYPE = 'application/graphql-response+json; charset=utf-8';

function sendErrors(res: Response, status: number, errors: readonly GraphQLError[], requestId: string): void {
  res.status(status).setHeader('content-type', MEDIA_TYPE);
  res.setHeader('x-request-id', requestId);
  res.end(JSON.stringify({ errors: forClient(errors, requestId) }));
}

function statusOf(errors: readonly GraphQLError[]): number {
  const code = errors[0]?.extensions?.code;
  if (code === ErrorCode.UNAUTHENTICATED) return 401;
  if (code === ErrorCode.FORBIDDEN) return 403;
  return 400;
}

const frame = (event: 'next' | 'complete', data: unknown) =>
  `event: ${event}\ndata:${data === null ? '' : ` ${JSON.stringify(data)}`}\n\n`;

/** One caller's streams on this instance: staff member or integration client. */
const callerKey = (viewer: Viewer) => (viewer.kind === 'user' ? `user:${viewer.userId}` : `client:${viewer.clientId}`);

/**
 * GraphQL over Server-Sent Events at `/graphql/stream`, for integrators behind proxies that do not pass WebSockets:
 * POST the operation (JSON, as to `/graphql`) with `Accept: text/event-stream` and the bearer token; each result is a
 * `next` event, and `complete` ends the stream. The same schema, token check (revoked clients refused), validation
 * rules, cost and scope checks, and error masking as HTTP and WebSocket (`prepareOperation`); the stream ends when the
 * token expires or the client is revoked, with a last `next` event saying why. graphql-sse's "single connection mode"
 * is off: each operation is its own request, which is what `curl -N` and proxies handle best.
 */
export function eventStreamRouter(schema: GraphQLSchema, services: Services): { router: Router; dispose(): void } {
  const { log, config } = services;
  const live = new Set<LiveStream>();
  const perCaller = new Map<string, number>();

  // graphql-sse types the context as a record; ours is the Context class, handed over in onSubscribe.
  const handler = createHandler<Request, StreamRequestContext, Record<PropertyKey, unknown>>({
    schema,
    // Distinct connections only (no reservation token): see above.
    authenticate: () => null,
    // prepareOperation has validated the document with our rules; graphql-sse would validate it again with its own.
    validate: () => [],
    // Queries and mutations: their patient reads are audited before the result is sent.
    execute: executeAudited as never,
    // A delivery group's member stream as it is, without graphql-js's per-subscription wrapper.
    subscribe: subscribeSharing,
    onSubscribe: (req, params) => {
      const { viewer, requestId } = req.context;
      const prepared = prepareOperation(schema, services, viewer, requestId, params, 'SSE');
      if (!Array.isArray(prepared)) {
        const held = services.limits.holdSubscription(viewer, prepared.document, params.operationName);
        if (held instanceof GraphQLError) {
          observeRefused(
            services,
            'sse',
            req.context.startedAt,
            [held],
            { schema, payload: params },
            req.context.trace,
            viewer.tenantId,
          );
          return [
            JSON.stringify({ errors: forClient([held], requestId) }),
            { status: 429, statusText: 'Too Many Subscriptions', headers: { 'content-type': MEDIA_TYPE } },
          ];
        }
        if (held) req.context.release = held;
        // A query or mutation over SSE is activity too (the request's token was checked at the door).
        services.sessions.recordActivity(viewer, prepared.document, params.operationName);
        const sink = eventSink(req.context.res, prepared.contextValue);
        req.context.sink = sink;
        attachTransport(prepared.contextValue, sink, params.variables);
        return prepared as typeof prepared & { contextValue: Record<PropertyKey, unknown> };
      }
      observeRefused(
        services,
        'sse',
        req.context.startedAt,
        prepared,
        { schema, payload: params },
        req.context.trace,
        viewer.tenantId,
      );
      return [
        JSON.stringify({ errors: forClient(prepared, requestId) }),
        { status: statusOf(prepared), statusText: 'Refused', headers: { 'content-type': MEDIA_TYPE } },
      ];
    },
    onOperation: (_ctx, req, args, result) => observeOperation('sse', args, req.context.startedAt, result),
    onNext: (ctx, _req, result) => {
      // A stream graphql-js runs itself (not a delivery group): what this event read, audited.
      auditStreamEvent(ctx as unknown as Context);
      return result.errors
        ? (maskedResult(result as ExecutionResult, ctx as unknown as Context) as unknown as typeof result)
        : undefined;
    },
  });

  const router = express.Router();
  router.use(EVENT_STREAM_PATH, cors<cors.CorsRequest>({ origin: config.corsOrigins, maxAge: 600 }));
  router.all(EVENT_STREAM_PATH, (req, res, next) => {
    if (req.method === 'POST') return next();
    res
      .status(405)
      .setHeader('allow', 'POST')
      .json({
        errors: [
          {
            message: `POST the operation to ${EVENT_STREAM_PATH} with Accept: text/event-stream`,
            extensions: { code: ErrorCode.BAD_REQUEST },
          },
        ],
      });
  });
  router.post(EVENT_STREAM_PATH, express.json({ limit: '256kb' }), async (req: Request, res: Response) => {
    const startedAt = performance.now();
    const given = req.header('x-request-id');
    const requestId = given && /^[\w.:-]{1,64}$/.test(given) ? given : connectionId();
    // This stream's debug lines (debugLog.ts), only at that level.
    let trace = log.isLevelEnabled('debug') ? log.child({ requestId }) : undefined;
    const refuse = (status: number, code: string, message: string, extra: Record<string, unknown> = {}) => {
      services.metrics.operation('sse', UNKNOWN_OPERATION, startedAt, code);
      trace?.debug({ transport: 'sse', status, outcome: code }, 'stream refused');
      res
        .status(status)
        .setHeader('x-request-id', requestId)
        .json({ errors: [{ message, extensions: { code, ...extra } }] });
    };

    if (!req.accepts('text/event-stream') || !/text\/event-stream/i.test(req.header('accept') ?? '')) {
      return refuse(
        406,
        ErrorCode.BAD_REQUEST,
        `Ask for Accept: text/event-stream here; queries and mutations are also served as JSON at /graphql`,
      );
    }
    const query = (req.body as { query?: unknown } | undefined)?.query;
    if (typeof query === 'string' && query.length > OperationLimits.maxDocumentLength) {
      return refuse(
        413,
        ErrorCode.BAD_REQUEST,
        `The document is longer than ${OperationLimits.maxDocumentLength} characters`,
      );
    }
    let viewer: Viewer | null;
    let overRate: GraphQLError | null;
    try {
      ({ viewer, overRate } = await admitRequest(services, req.header('authorization')));
    } catch (err) {
      observeRefused(services, 'sse', startedAt, [err as GraphQLError], undefined, trace);
      return sendErrors(res, 401, [err as GraphQLError], requestId);
    }
    if (!viewer) return refuse(401, ErrorCode.UNAUTHENTICATED, 'Sign in first: send a valid bearer token');
    trace = trace?.child(logFields(viewer));
    if (overRate) {
      observeRefused(services, 'sse', startedAt, [overRate], undefined, trace, viewer.tenantId);
      res.setHeader('retry-after', retryAfterOf(overRate));
      return sendErrors(res, 429, [overRate], requestId);
    }
    const key = callerKey(viewer);
    const open = perCaller.get(key) ?? 0;
    if (open >= SocketLimits.maxSubscriptions) {
      return refuse(
        429,
        ErrorCode.BAD_REQUEST,
        `At most ${SocketLimits.maxSubscriptions} streams may be open at once per caller on one server`,
        {
          reason: 'TOO_MANY_SUBSCRIPTIONS',
        },
      );
    }

    perCaller.set(key, open + 1);
    let session: WatchedSession | undefined;
    let stream: LiveStream | undefined;
    /** How the stream ended, for its debug line: set once it is open. */
    let endedBy: unknown;
    const context: StreamRequestContext = { viewer, requestId, startedAt, res, trace };
    try {
      const [body, init] = await handler({
        method: req.method,
        url: req.url,
        // graphql-sse matches the Accept header exactly; we have checked it above.
        headers: {
          get: (name: string) => (name.toLowerCase() === 'accept' ? 'text/event-stream' : (req.header(name) ?? null)),
        },
        body: (req.body ?? null) as Record<string, unknown> | null,
        raw: req,
        context,
      });
      res.setHeader('x-request-id', requestId);
      if (!body || typeof body === 'string') {
        res.writeHead(init.status, init.statusText, init.headers);
        res.end(body ?? undefined);
        return;
      }
      // Proxies (nginx) buffer responses unless told not to: an event must reach the client when it happens.
      res.writeHead(init.status, init.statusText, { ...init.headers, 'x-accel-buffering': 'no' });
      context.sink?.open();
      trace?.debug({ transport: 'sse' }, 'stream opened');
      endedBy = 'COMPLETE';

      let final: string | null = null;
      let ended = false;
      stream = {
        end(last) {
          if (ended) return;
          ended = true;
          endedBy = last?.reason ?? 'SHUTDOWN';
          final = last
            ? frame('next', {
                errors: [
                  { message: last.message, extensions: { code: ErrorCode.UNAUTHENTICATED, reason: last.reason } },
                ],
              }) + frame('complete', null)
            : '';
          void body.return(undefined);
        },
      };
      live.add(stream);
      res.once('close', () => {
        if (!res.writableEnded && endedBy === 'COMPLETE') endedBy = 'CLIENT_CLOSED';
        void body.return(undefined);
      });
      const s = stream;
      // The stream ends when its token does, and an integration client's when the client is revoked.
      session = await watchSession(
        services,
        viewer,
        {
          expired: () =>
            s.end({
              message: 'The token has expired: get a new one and subscribe again with your last cursor',
              reason: StreamEndReason.tokenExpired,
            }),
          revoked: () =>
            s.end({ message: 'This integration client has been revoked', reason: StreamEndReason.clientRevoked }),
          signedOut: () =>
            s.end({ message: 'This session has been signed out: sign in again', reason: StreamEndReason.signedOut }),
          idle: () =>
            s.end({
              message: 'This session has been idle too long: sign in again',
              reason: StreamEndReason.sessionIdle,
            }),
          clinicDisabled: () => s.end({ message: CLINIC_DISABLED_MESSAGE, reason: StreamEndReason.clinicDisabled }),
        },
        'sse',
        { streamId: requestId },
      );
      // The stream is one subscription (or a query answered at once): counted on the dashboard while it lives.
      if (context.release) context.release = session.holding(context.release);

      for await (const chunk of body) {
        if (final !== null || !res.writable) break;
        await new Promise<void>((resolve, reject) => res.write(chunk, (err) => (err ? reject(err) : resolve())));
      }
      if (final && res.writable) res.write(final);
      res.end();
    } catch (err) {
      if (res.headersSent && err instanceof GraphQLError) {
        // The stream ended with an answer for the client (SLOW_CONSUMER with its cursor, a failed delivery): a last
        // `next` says it, as over WebSocket, instead of a stream that just stops.
        if (!res.writableEnded && !res.destroyed) {
          res.end(frame('next', { errors: forClient([err], requestId) }) + frame('complete', null));
        }
        endedBy = err.extensions.code;
        return;
      }
      log.warn({ err: { message: (err as Error).message }, requestId }, 'event stream failed');
      if (endedBy) endedBy = 'FAILED';
      if (!res.headersSent) refuse(500, ErrorCode.INTERNAL_SERVER_ERROR, 'Internal server error', { requestId });
      else res.end();
    } finally {
      if (endedBy) trace?.debug({ end: endedBy, ms: msSince(startedAt) }, 'stream closed');
      context.release?.release();
      session?.stop();
      if (stream) live.delete(stream);
      const left = (perCaller.get(key) ?? 1) - 1;
      if (left > 0) perCaller.set(key, left);
      else perCaller.delete(key);
    }
  });
  // A body that is not JSON, too large, or not UTF-8: answered, never a stack trace.
  router.use(
    EVENT_STREAM_PATH,
    (err: { status?: number; type?: string }, _req: Request, res: Response, _next: express.NextFunction) => {
      const status = err.status === 413 || err.status === 415 ? err.status : 400;
      res.status(status).json({
        errors: [
          {
            message: status === 413 ? 'The body is too large' : 'The body is not valid JSON',
            extensions: { code: ErrorCode.BAD_REQUEST },
          },
        ],
      });
    },
  );

  return {
    router,
    // At shutdown: end every stream without a last event, so clients reconnect (to another instance) with their cursor.
    dispose() {
      for (const stream of [...live]) stream.end(null);
    },
  };
}
