import { performance } from 'node:perf_hooks';
import type { Viewer } from '../auth/tokens.js';
import { logFields } from '../context.js';
import type { Logger } from '../logger.js';
import type { Transport } from '../metrics.js';

/**
 * The transports' lines at `LOG_LEVEL=debug` (docs/architecture.md, "Logs"): each connection's life and each
 * operation, with ids, names and codes only. An operation is logged by its type, the name its document gives it and the
 * schema's root fields it selects: never its document (which can hold literals), its variables or its result. At info
 * and above none of this runs: each entry point asks the logger first and does nothing else, and delivery to a
 * subscriber (a frame) is never logged at all.
 */

/** Milliseconds since `startedAt` (`performance.now()`), rounded to a tenth. */
export function msSince(startedAt: number): number {
  return Math.round((performance.now() - startedAt) * 10) / 10;
}

/**
 * One operation's outcome, over any transport: `ok`, or the code the client was sent (and every code, when several).
 * `log` carries the request id and the caller.
 */
export function logOperation(
  log: Logger,
  transport: Transport,
  fields: Record<string, unknown>,
  startedAt: number,
  codes: readonly unknown[],
): void {
  log.debug(
    {
      transport,
      ...fields,
      outcome: codes.length ? codes[0] : 'ok',
      ...(codes.length > 1 ? { errorCodes: codes } : {}),
      ms: msSince(startedAt),
    },
    'operation',
  );
}

/**
 * Close reasons written as they are: the server's own. Anything else (a client's reason, graphql-ws's "Subscriber for
 * <id> already exists") is written as `other`: a peer chooses its close reason, and it could hold anything.
 */
const KNOWN_CLOSE_REASONS = new Set([
  '',
  'Normal Closure',
  'Forbidden',
  'Unauthorized',
  'Going away',
  'Invalid message received',
  'Connection initialisation timeout',
  'Too many initialisation requests',
  'Subprotocol not acceptable',
  'Internal server error',
  'Too many messages',
  'Token expired',
  'Client revoked',
  'Signed out',
  'Session idle',
  'Clinic disabled',
]);

export function closeReason(reason: string): string {
  return KNOWN_CLOSE_REASONS.has(reason) ? reason : 'other';
}

/** One WebSocket's debug lines, from its opening to its close; kept only while the level is debug. */
export class SocketTrace {
  private readonly openedAt = performance.now();
  log: Logger;

  constructor(
    log: Logger,
    readonly id: string,
  ) {
    this.log = log.child({ connectionId: id });
    this.log.debug({ transport: 'ws' }, 'socket opened');
  }

  accepted(viewer: Viewer): void {
    this.log = this.log.child(logFields(viewer));
    this.log.debug('socket connection accepted');
  }

  /** `err`: what the token check threw (its code and reason are written), or nothing when no token was sent. */
  refused(code: number, err: unknown): void {
    const extensions = (err as { extensions?: { code?: unknown; reason?: unknown } } | undefined)?.extensions;
    this.log.debug(
      {
        code,
        outcome: err === undefined ? 'NO_TOKEN' : (extensions?.code ?? 'INTERNAL_SERVER_ERROR'),
        reason: extensions?.reason,
      },
      'socket connection refused',
    );
  }

  subscribed(operationId: string, fields: Record<string, unknown>): void {
    this.log.debug({ operationId, ...fields }, 'socket operation subscribed');
  }

  completed(operationId: string): void {
    this.log.debug({ operationId }, 'socket operation complete');
  }

  closed(code: number | undefined, reason: string | undefined): void {
    this.log.debug({ code, reason: closeReason(reason ?? ''), ms: msSince(this.openedAt) }, 'socket closed');
  }
}
