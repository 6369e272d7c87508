import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { isPgError, PgError } from '../db/knex.js';
import { DependencyUnavailableError } from '../events/pubsub.js';
import type { Logger } from '../logger.js';
import type { Context } from '../context.js';
import { ErrorCode, isKnownCode } from '../errors.js';

/** Anything without one of our codes is a server fault: its message may hold internals (SQL, paths) and is masked. */
function isUnexpected(code: unknown): boolean {
  return !isKnownCode(code) || code === ErrorCode.INTERNAL_SERVER_ERROR;
}

export function formatError(formatted: GraphQLFormattedError, error?: unknown): GraphQLFormattedError {
  if (!isUnexpected(formatted.extensions?.code)) return formatted;
  // Text PostgreSQL cannot store (a NUL character) is the client's input, whichever argument carried it.
  const original = error instanceof GraphQLError ? error.originalError : error;
  if (original instanceof DependencyUnavailableError) {
    return {
      message: 'Live features are briefly unavailable (a service they need does not answer); try again shortly',
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: ErrorCode.SERVICE_UNAVAILABLE },
    };
  }
  if (isPgError(original, PgError.characterNotInRepertoire) || isPgError(original, PgError.untranslatableCharacter)) {
    return {
      ...formatted,
      message: 'Text arguments must not contain NUL characters',
      extensions: { code: ErrorCode.BAD_USER_INPUT },
    };
  }
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
    if (isUnexpected(formatError(error.toJSON(), error).extensions?.code))
      log.error({ err: error.originalError ?? error, path: error.path }, 'unexpected error');
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
