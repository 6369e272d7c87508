import type { IncomingMessage, Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import { GraphQLError, type ExecutionResult, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import { CloseCode, type Disposable } from 'graphql-ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { authenticateCaller } from '../auth/authenticate.js';
import type { Release } from '../auth/callerLimits.js';
import type { Viewer } from '../auth/tokens.js';
import type { Context, Services } from '../context.js';
import type { Logger } from '../logger.js';
import { ErrorCode, sessionEnded, SessionEndReason } from '../errors.js';
import { isUserActivity } from '../domains/identity/sessions.js';
import { connectionId } from '../ids.js';
import type { SocketInfo } from '../realtime/service.js';
import { attachTransport, type SharedPayload, type SubscriberSink } from '../subscriptions/sink.js';
import { subscribeSharing } from '../subscriptions/subscribe.js';
import { MemberStream } from '../subscriptions/groups.js';
import { ByOperation } from './byOperation.js';
import { SocketTrace } from './debugLog.js';
import { logUnexpected } from './errors.js';
import {
  adopt,
  adoptedCount,
  isAdopted,
  releaseAdopted,
  serveGraphqlWs,
  type Adopted,
  type ExtraBase,
} from './graphqlWs.js';
import { envelopePrefix, sendEnveloped, type Envelope } from './wsFrames.js';
import { watchSession, type SessionEnds, type WatchedSession } from './session.js';
import { auditStreamEvent } from '../domains/patients/accessAudit.js';
import { newestCursor } from '../events/feed.js';
import {
  executeAudited,
  forClient,
  maskedResult,
  observeOperation,
  observeRefused,
  operationFields,
  prepareOperation,
} from './operation.js';

/** Limits of one WebSocket connection. */
export const SocketLimits = {
  /** Largest frame accepted, in bytes (ws's own default is 100 MiB). */
  maxPayload: 64 * 1024,
  /** Most operations running at once on one connection. */
  maxSubscriptions: 50,
  /** Most messages a client may send in `floodWindowMs` before the connection is closed with 4429. */
  maxMessages: 200,
  floodWindowMs: 10_000,
} as const;

/** Close codes of our own, beside graphql-ws's (4400 bad request, 4403 forbidden, ...). */
export const AppCloseCode = {
  /** The client sent more messages than allowed. */
  TooManyMessages: 4429,
} as const;

/** Close reasons sent with 4403 (graphql-ws `CloseCode.Forbidden`): a client tells them apart by these. */
export const ForbiddenReason = {
  /** Get a new token (sign in again, or ask the token endpoint) and reconnect. */
  tokenExpired: 'Token expired',
  /** The integration client was revoked: no new token will be issued. */
  clientRevoked: 'Client revoked',
  /** The session was signed out (here, everywhere, or by an admin): sign in again. */
  signedOut: 'Signed out',
  /** The staff session had no activity for `SESSION_IDLE_TIMEOUT`: the user unlocks with their password. */
  sessionIdle: 'Session idle',
  /** The operators disabled the clinic (`npm run clinics -- disable`): sign-in is refused until it is enabled. */
  clinicDisabled: 'Clinic disabled',
} as const;

/**
 * What the server keeps of one socket, as graphql-ws's `ctx.extra`: every field declared up front, so that the object
 * keeps one shape and its fields in itself rather than in a separate, growing property store. Its session ends the
 * socket through it (`SessionEnds`): closed with 4403 and the reason the client acts on.
 */
class SocketExtra implements ExtraBase, SessionEnds {
  /** Unique over all instances; the first part of the request id of the socket's operations. */
  id: string | undefined = undefined;
  /** Staff sockets only: what the open and close hooks (presence) are told. */
  info: SocketInfo | undefined = undefined;
  /** The token's expiry, sign-out and, for an integration client, revocation (session.ts); renewed in place. */
  session: WatchedSession | undefined = undefined;
  /** The places of its live subscriptions among its caller's and clinic's (auth/callerLimits.ts), by operation id. */
  held: ByOperation<Release> | undefined = undefined;
  /** The open hooks, while they run: the close hooks wait for them. */
  opening: Promise<void> | undefined = undefined;
  closed = false;

  constructor(
    readonly socket: WebSocket,
    public request: IncomingMessage | undefined,
  ) {}

  expired(): void {
    this.socket.close(CloseCode.Forbidden, ForbiddenReason.tokenExpired);
  }
  revoked(): void {
    this.socket.close(CloseCode.Forbidden, ForbiddenReason.clientRevoked);
  }
  signedOut(): void {
    this.socket.close(CloseCode.Forbidden, ForbiddenReason.signedOut);
  }
  idle(): void {
    this.socket.close(CloseCode.Forbidden, ForbiddenReason.sessionIdle);
  }
  clinicDisabled(): void {
    this.socket.close(CloseCode.Forbidden, ForbiddenReason.clinicDisabled);
  }
}

/**
 * Where the delivery groups write one operation's `next` messages: the payload bytes are the group's, shared; only
 * the envelope with this operation's id is added here (graphql-ws would serialise the whole message per socket).
 * graphql-ws still runs the protocol: init, ping/pong, complete, errors and close codes. A class, so that its methods
 * are shared by every operation rather than held as closures by each (docs/architecture.md, "Per-connection cost").
 *
 * A delivery group's member is taken over from graphql-ws once it runs (`adopt`, ./graphqlWs.ts): then this sink is
 * the operation, and sends its `error` or `complete` when it ends, as graphql-ws would have.
 */
class SocketSink implements SubscriberSink, Envelope, Adopted {
  /** The message around the group's payload bytes, which ./wsFrames.ts frames with them. */
  readonly prefix: string;
  readonly prefixBytes: number;
  readonly origin: SubscriberSink['origin'];

  /** The member's stream, once the operation is taken over from graphql-ws. */
  private stream: MemberStream | undefined = undefined;

  constructor(
    private readonly extra: SocketExtra,
    private readonly id: string,
    private readonly ctx: Context,
  ) {
    this.prefix = envelopePrefix(id);
    this.prefixBytes = Buffer.byteLength(this.prefix);
    this.origin = { via: ctx.via, requestId: ctx.requestId };
  }

  private get socket(): WebSocket {
    return this.extra.socket;
  }

  next({ bytes }: SharedPayload): void {
    sendEnveloped(this.socket, this, bytes);
  }

  nextResult(result: ExecutionResult): void {
    this.socket.send(JSON.stringify({ id: this.id, type: 'next', payload: maskedResult(result, this.ctx) }));
  }

  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  /**
   * Takes the operation over from graphql-ws (`onOperation` returns what this returns): a member still running,
   * on a socket still open. Otherwise undefined, and graphql-ws iterates the stream as ever.
   */
  adopt(ctx: Parameters<typeof adopt>[0], stream: MemberStream): AsyncIterableIterator<never> | undefined {
    if (stream.ended) return undefined;
    this.stream = stream;
    const handover = adopt(ctx, this.id, this);
    if (!handover) this.stream = undefined;
    return handover;
  }

  /** The client completed the operation, or the socket closed (./graphqlWs.ts). */
  stop(): void {
    void this.stream?.return();
    completed(this.extra, this.id);
  }

  /**
   * The member ended by itself: told to the client as graphql-ws tells the end of a stream it iterates (graphql-ws 6,
   * `makeServer`): its error wrapped as a GraphQLError and passed through `onError`'s masking, or `complete`.
   */
  ended(error?: Error): void {
    if (!releaseAdopted(this.socket, this.id)) return;
    if (error) {
      const errors = [new GraphQLError(error.message, { originalError: error })];
      this.send({ id: this.id, type: 'error', payload: socketErrors(errors, this.ctx.log, this.ctx.requestId) });
    } else this.send({ id: this.id, type: 'complete' });
    completed(this.extra, this.id);
  }

  private send(message: object): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(JSON.stringify(message));
  }

  drained(): Promise<void> {
    const { socket } = this;
    return new Promise<void>((resolve) => {
      const check = () =>
        socket.readyState !== socket.OPEN || socket.bufferedAmount === 0 ? resolve() : setTimeout(check, 10);
      check();
    });
  }
}

/** An operation of the socket ended (graphql-ws's `onComplete`, or an adopted one's end): its place is given back. */
function completed(extra: SocketExtra, id: string): void {
  traces.get(extra.socket)?.completed(id);
  extra.held?.take(id)?.release();
}

/** An operation's errors as its `error` message carries them: the unexpected ones logged, then masked. */
function socketErrors(errors: readonly GraphQLError[], log: Logger, requestId: string): GraphQLFormattedError[] {
  logUnexpected(errors, log);
  return forClient(errors, requestId);
}

/** The request id of one operation on one socket: what its log lines carry. */
function operationId(socketId: string | undefined, id: string): string {
  return `${socketId ?? 'unauthenticated'}/${id}`;
}

/** Is the browser page that opened this socket one we serve? Non-browser clients send no Origin. */
export function originAllowed(
  origin: string | undefined,
  host: string | undefined,
  allowed: readonly string[],
): boolean {
  if (!origin) return true;
  if (allowed.includes(origin)) return true;
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}

/**
 * When each operation was taken, until its result is known (operation metrics): graphql-ws hands the same payload
 * object to onSubscribe, onOperation and onError.
 */
const startedAt = new WeakMap<object, number>();

/** Each socket's debug lines (debugLog.ts), only while the level is debug: otherwise nothing is kept or logged. */
const traces = new WeakMap<WebSocket, SocketTrace>();

/**
 * Serves GraphQL over WebSocket (graphql-transport-ws) on the HTTP server's `/graphql`, with the same schema, context
 * builder, validation rules and error masking as HTTP. graphql-ws does not run Apollo's plugins, so what they do for
 * HTTP is done here by hand.
 */
export function attachWebSocketServer(
  httpServer: Server,
  schema: GraphQLSchema,
  services: Services,
): { wss: WebSocketServer; dispose: Disposable['dispose'] } {
  const { log, config, realtime } = services;
  const wss = new WebSocketServer({
    server: httpServer,
    path: '/graphql',
    maxPayload: SocketLimits.maxPayload,
    // Cross-site WebSocket hijacking: a page of another origin must not ride on a user's session. Refused with 403, not
    // ws's default 401: no credential would help.
    verifyClient: (
      { origin, req }: { origin: string; req: { headers: { host?: string } } },
      done: (allowed: boolean, code?: number, message?: string) => void,
    ) =>
      originAllowed(origin, req.headers.host, config.corsOrigins) ? done(true) : done(false, 403, 'Origin not allowed'),
  });

  // One listener for every socket's protocol errors: the client's (a frame over maxPayload, invalid UTF-8, a bad
  // opcode), after which ws has closed the socket with the matching code (1009, 1007, 1002). A listener must stay, or
  // the error would be thrown; graphql-ws's, which printed each one on the console as internal, is not installed
  // (./graphqlWs.ts).
  const protocolError = (err: Error) =>
    log.info({ err: { message: err.message } }, 'websocket closed on a protocol error');
  wss.on('connection', (socket: WebSocket) => {
    if (log.isLevelEnabled('debug')) traces.set(socket, new SocketTrace(log, connectionId()));
    socket.on('error', protocolError);
  });

  /**
   * `connection_ack`'s payload: the clinic's newest event cursor as the connection is accepted. A client that reads
   * what it shows after the acknowledgement, and subscribes after this cursor, misses nothing in between, also on a
   * stream that has received nothing yet (docs/architecture.md, "Retention"). Without the database, a bare
   * acknowledgement: the connection is not refused for it.
   */
  const acknowledgement = async (viewer: Viewer): Promise<{ cursor: string } | true> => {
    try {
      return { cursor: await newestCursor(services.db, viewer.tenantId) };
    } catch (err) {
      log.warn({ err: { message: (err as Error).message } }, 'connection acknowledged without a cursor');
      return true;
    }
  };

  const server = serveGraphqlWs<Record<string, unknown>, SocketExtra>(
    wss,
    {
      schema,
      // Queries and mutations: their patient reads are audited before the result is sent.
      execute: executeAudited,
      // A delivery group's member stream as it is, without graphql-js's per-subscription wrapper.
      subscribe: subscribeSharing,
      async onConnect(ctx) {
        let viewer: Viewer | null;
        let refusal: unknown;
        try {
          const authorization = ctx.connectionParams?.authorization;
          // A revoked integration client's token is refused here like an invalid one.
          viewer = await authenticateCaller(services, typeof authorization === 'string' ? authorization : null);
        } catch (err) {
          // An idle session's says so, so that the web app locks rather than signs out (graphql-ws's own close,
          // 4403 "Forbidden", then finds the socket closing and does nothing).
          if (err instanceof GraphQLError && err.extensions.reason === SessionEndReason.sessionIdle) {
            ctx.extra.socket.close(CloseCode.Forbidden, ForbiddenReason.sessionIdle);
          }
          refusal = err;
          viewer = null;
        }
        // graphql-ws closes with 4403 Forbidden.
        if (!viewer) {
          traces.get(ctx.extra.socket)?.refused(CloseCode.Forbidden, refusal);
          return false;
        }
        // The client may have vanished while its token was checked: onClose has run and found no info, so opening now
        // would leave the open hooks' state (presence) and the expiry timer behind for a socket that is gone.
        if (ctx.extra.closed) return false;
        const trace = traces.get(ctx.extra.socket);
        ctx.extra.id = trace?.id ?? connectionId();
        // What graphql-ws would keep for the socket's lifetime and nothing here reads again: the upgrade request (its
        // headers) and the connection parameters with the token's text (graphql-ws sets them at init and reads them
        // nowhere after, graphql-ws 6). Thousands of idle sockets should cost little (docs/architecture.md). Set to
        // undefined, not deleted: a deleted property turns the object into a slow, larger dictionary.
        ctx.extra.request = undefined;
        (ctx as { connectionParams?: unknown }).connectionParams = undefined;
        // Enforced here, not left to the client: the socket ends when its token does, and an integration client's
        // when the client is revoked.
        ctx.extra.session = await watchSession(services, viewer, ctx.extra, 'ws', { connectionId: ctx.extra.id });
        if (ctx.extra.closed) {
          ctx.extra.session.stop();
          return false;
        }
        trace?.accepted(viewer);
        // Integration clients are not staff: no presence.
        if (viewer.kind === 'integration') return acknowledgement(viewer);
        const info: SocketInfo = { id: ctx.extra.id, viewer };
        ctx.extra.info = info;
        ctx.extra.opening = (async () => {
          for (const hook of realtime.onSocketOpen) await hook(info);
        })();
        await ctx.extra.opening;
        // Done: nothing to wait for any more, and nothing to keep for the socket's lifetime.
        ctx.extra.opening = undefined;
        return acknowledgement(viewer);
      },
      async onClose(ctx, code, reason) {
        ctx.extra.closed = true;
        traces.get(ctx.extra.socket)?.closed(code, reason);
        ctx.extra.session?.stop(code);
        for (const place of ctx.extra.held?.takeAll() ?? []) place.release();
        const info = ctx.extra.info;
        if (!info) return;
        // A socket that closes while its open hooks run is closed after them, not before (or "online" would outlive
        // it).
        await ctx.extra.opening?.catch(() => {});
        for (const hook of realtime.onSocketClose) {
          try {
            await hook(info);
          } catch (err) {
            log.error({ err }, 'socket close hook failed');
          }
        }
      },
      async onSubscribe(ctx, id, payload) {
        startedAt.set(payload, performance.now());
        const { session } = ctx.extra;
        const viewer = session!.viewer;
        if (viewer.expiresAt * 1000 <= Date.now()) {
          ctx.extra.socket.close(CloseCode.Forbidden, ForbiddenReason.tokenExpired);
          return [new GraphQLError('The token has expired', { extensions: { code: ErrorCode.UNAUTHENTICATED } })];
        }
        const running = Object.keys(ctx.subscriptions).length + adoptedCount(ctx.extra.socket);
        if (running > SocketLimits.maxSubscriptions) {
          return [
            new GraphQLError(`At most ${SocketLimits.maxSubscriptions} operations may run at once on one connection`, {
              extensions: { code: ErrorCode.BAD_REQUEST, reason: 'TOO_MANY_SUBSCRIPTIONS' },
            }),
          ];
        }
        // Over its caller's or clinic's rate: an error for this operation; the socket stays (a flood of messages is
        // closed with 4429 above).
        const refused = await services.limits.admit(viewer);
        if (refused) return [refused];
        const prepared = prepareOperation(
          schema,
          services,
          viewer,
          operationId(ctx.extra.id, id),
          payload,
          'WEBSOCKET',
        );
        if (!Array.isArray(prepared)) {
          const held = services.limits.holdSubscription(viewer, prepared.document, payload.operationName);
          if (held instanceof GraphQLError) return [held];
          if (held) {
            const place = session!.holding(held);
            if (ctx.extra.held) ctx.extra.held.add(id, place);
            else ctx.extra.held = new ByOperation(id, place);
          }
          // A query or mutation is the user's activity, unless the session has gone idle already (the idle timer
          // would close the socket within a tick; the operation must not revive it meanwhile): checked as HTTP checks
          // every request.
          if (isUserActivity(prepared.document, payload.operationName) && viewer.kind === 'user') {
            const ended = await services.sessions.check(viewer);
            if (ended) {
              ctx.extra.socket.close(
                CloseCode.Forbidden,
                ended === 'idle' ? ForbiddenReason.sessionIdle : ForbiddenReason.signedOut,
              );
              return [sessionEnded(ended)];
            }
            services.sessions.recordActivity(viewer, prepared.document, payload.operationName);
          }
          traces
            .get(ctx.extra.socket)
            ?.subscribed(id, operationFields(schema, prepared.document, payload.operationName));
          // `renewConnection` hands this socket a newer token (identity/resolvers.ts).
          prepared.contextValue.connection = session;
          attachTransport(
            prepared.contextValue,
            new SocketSink(ctx.extra, id, prepared.contextValue),
            payload.variables,
          );
          // graphql-ws keeps the subscribe message for as long as it runs the operation (one that is not handed over,
          // onOperation), and with it the query's text: parsed (and cached by its text) by now, and read by nothing
          // after. Set to an empty string, not deleted (docs/architecture.md, "Per-connection cost").
          (payload as { query: string }).query = '';
        }
        return prepared;
      },
      onComplete(ctx, id) {
        // Handed over (onOperation): the operation goes on, on this socket.
        if (isAdopted(ctx.extra.socket, id)) return;
        completed(ctx.extra, id);
      },
      onOperation(ctx, id, payload, args, result) {
        const started = startedAt.get(payload);
        startedAt.delete(payload);
        if (started !== undefined) observeOperation('ws', args, started, result);
        // A delivery group's member: taken over from graphql-ws, which would otherwise keep its handling of the
        // subscribe message suspended for the subscription's life (./graphqlWs.ts).
        const sink = (args.contextValue as Context).transport?.sink;
        if (result instanceof MemberStream && sink instanceof SocketSink) return sink.adopt(ctx, result);
      },
      onNext(_ctx, _id, _payload, args, result) {
        // A stream graphql-js runs itself (not a delivery group): what this event read, audited.
        auditStreamEvent(args.contextValue as Context);
        return result.errors ? maskedResult(result, args.contextValue as Context) : undefined;
      },
      onError(ctx, id, payload, errors) {
        // Refused before it ran (a stream's own error later finds its operation observed already).
        const started = startedAt.get(payload);
        const requestId = operationId(ctx.extra.id, id);
        if (started !== undefined) {
          startedAt.delete(payload);
          const trace = traces.get(ctx.extra.socket);
          observeRefused(
            services,
            'ws',
            started,
            errors,
            { schema, payload },
            trace?.log.child({ requestId }),
            ctx.extra.session?.viewer.tenantId,
          );
        }
        return socketErrors(errors, log.child({ requestId }), requestId);
      },
    },
    (socket, request) => new SocketExtra(socket, request),
    {
      log,
      keepAliveMs: config.keepAliveSeconds * 1000,
      initWaitMs: config.wsInitTimeoutSeconds * 1000,
      deadlines: services.deadlines,
      // A flood of messages closes the socket before they are parsed.
      flood: {
        maxMessages: SocketLimits.maxMessages,
        windowMs: SocketLimits.floodWindowMs,
        onFlood: (socket) => socket.close(AppCloseCode.TooManyMessages, 'Too many messages'),
      },
    },
  );
  return {
    wss,
    dispose: () => server.dispose(),
  };
}
