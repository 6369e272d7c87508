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
 *
 * The failures it remembers say the server could not be reached: once it can again (the live link is back), they are
 * forgotten (`forget`), so that what failed is read again at once rather than answered the old failure.
 */
export class FailedQueryLink extends ApolloLink {
  private readonly failed = new Map<string, { at: number; error: unknown }>();

  constructor(private readonly windowMs = 2_000) {
    super();
  }

  override request(operation: ApolloLink.Operation, forward: ApolloLink.ForwardFunction) {
    const definition = getMainDefinition(operation.query);
    if (definition.kind !== Kind.OPERATION_DEFINITION || definition.operation !== 'query') return forward(operation);
    const key = `${operation.operationName ?? print(operation.query)}:${JSON.stringify(operation.variables)}`;
    const last = this.failed.get(key);
    if (last && Date.now() - last.at < this.windowMs) {
      return new Observable<ApolloLink.Result>((observer) => observer.error(last.error));
    }
    return new Observable<ApolloLink.Result>((observer) =>
      forward(operation).subscribe({
        next: (result) => {
          this.failed.delete(key);
          observer.next(result);
        },
        error: (error: unknown) => {
          const unreachable = ServerError.is(error) ? error.statusCode >= 502 : !isGraphQLError(error);
          if (unreachable) this.failed.set(key, { at: Date.now(), error });
          observer.error(error);
        },
        complete: () => observer.complete(),
      }),
    );
  }

  /** The server can be reached again: every query goes out the next time it is asked for. */
  forget(): void {
    this.failed.clear();
  }
}

function isGraphQLError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'errors' in error;
}
