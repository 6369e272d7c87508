import type { ApolloServerPlugin } from '@apollo/server';
import type { GraphQLError, GraphQLFormattedError } from 'graphql';
import type { Logger } from '../logger.js';
import type { Context } from '../context.js';
import { ErrorCode, isKnownCode } from '../errors.js';

/** Anything without one of our codes is a server fault: its message may hold internals (SQL, paths) and is masked. */
function isUnexpected(code: unknown): boolean {
  return !isKnownCode(code) || code === ErrorCode.INTERNAL_SERVER_ERROR;
}

export function formatError(formatted: GraphQLFormattedError): GraphQLFormattedError {
  if (!isUnexpected(formatted.extensions?.code)) return formatted;
  return {
    message: 'Internal server error',
    locations: formatted.locations,
    path: formatted.path,
    extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
  };
}

/** Logs the unexpected ones among errors (with the logger that carries the request id). */
export function logUnexpected(errors: readonly GraphQLError[], log: Logger): void {
  for (const error of errors) {
    if (isUnexpected(error.extensions?.code)) log.error({ err: error.originalError ?? error, path: error.path }, 'unexpected error');
  }
}

/** Logs unexpected errors with the request id, and hands that id to the client so support can find the log line. */
export function unexpectedErrorLogging(): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, contextValue }) {
          logUnexpected(errors, contextValue.log);
        },
        async willSendResponse({ response, contextValue }) {
          response.http.headers.set('x-request-id', contextValue.requestId);
          if (response.body.kind !== 'single') return;
          for (const error of response.body.singleResult.errors ?? []) {
            if (error.extensions?.code === ErrorCode.INTERNAL_SERVER_ERROR) {
              (error.extensions as Record<string, unknown>).requestId = contextValue.requestId;
            }
          }
        },
      };
    },
  };
}
