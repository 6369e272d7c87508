import { ApolloLink, ServerError } from '@apollo/client';
import { getMainDefinition } from '@apollo/client/utilities';
import { Kind, print } from 'graphql';
import { Observable } from 'rxjs';

/**
 * Bounds how often one query (same document and variables) is sent while the server cannot be reached: after a
 * network failure, the same query within `windowMs` fails at once with the same error instead of going out again.
 * Whatever loops in the UI (re-renders, re-subscriptions after an error, a user clicking back and forth between
 * days), the server and the network see at most one attempt per query per window. Mutations always go out: each is
 * something a person asked for.
 */
export function createFailedQueryLink(windowMs = 2_000): ApolloLink {
  const failed = new Map<string, { at: number; error: unknown }>();
  return new ApolloLink((operation, forward) => {
    const definition = getMainDefinition(operation.query);
    if (definition.kind !== Kind.OPERATION_DEFINITION || definition.operation !== 'query') return forward(operation);
    const key = `${operation.operationName ?? print(operation.query)}:${JSON.stringify(operation.variables)}`;
    const last = failed.get(key);
    if (last && Date.now() - last.at < windowMs) {
      return new Observable<ApolloLink.Result>((observer) => observer.error(last.error));
    }
    return new Observable<ApolloLink.Result>((observer) =>
      forward(operation).subscribe({
        next: (result) => {
          failed.delete(key);
          observer.next(result);
        },
        error: (error: unknown) => {
          const unreachable = ServerError.is(error) ? error.statusCode >= 502 : !isGraphQLError(error);
          if (unreachable) failed.set(key, { at: Date.now(), error });
          observer.error(error);
        },
        complete: () => observer.complete(),
      }),
    );
  });
}

function isGraphQLError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'errors' in error;
}
