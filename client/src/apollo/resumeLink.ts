import { ApolloLink, CombinedGraphQLErrors } from '@apollo/client';
import { getMainDefinition } from '@apollo/client/utilities';
import { Kind, type OperationDefinitionNode } from 'graphql';
import { Observable } from 'rxjs';

/**
 * The last cursor received on each durable subscription stream (appointmentChanged, messageAdded, readReceipt,
 * notification), keyed by operation name and variables other than `after`.
 */
export class CursorStore {
  private readonly cursors = new Map<string, string>();
  /**
   * Durable streams subscribed now: key → operation name, how many subscriptions share it, and whether one was given
   * its own `after`.
   */
  private readonly live = new Map<string, { operationName: string; count: number; given: boolean }>();

  get(key: string): string | undefined {
    return this.cursors.get(key);
  }

  set(key: string, cursor: string): void {
    this.cursors.set(key, cursor);
  }

  delete(key: string): void {
    this.cursors.delete(key);
  }

  /** Every stream and its cursor, for diagnostics and tests. */
  entries(): [string, string][] {
    return [...this.cursors.entries()];
  }

  clear(): void {
    this.cursors.clear();
  }

  /** @internal the resume link's bookkeeping of running streams. */
  opened(key: string, operationName: string, given = false): () => void {
    const entry = this.live.get(key) ?? { operationName, count: 0, given: false };
    entry.count += 1;
    entry.given ||= given;
    this.live.set(key, entry);
    return () => {
      entry.count -= 1;
      if (entry.count === 0 && this.live.get(key) === entry) this.live.delete(key);
    };
  }

  /**
   * Operation names of running durable streams that have no cursor yet: they received nothing and were not started at
   * an acknowledgement's cursor (`startAt`; opened since the last one), so a resubscription cannot say where to resume,
   * and what they feed must be read again.
   */
  withoutCursor(): string[] {
    return [...new Set(this.uncursored().map(([, { operationName }]) => operationName))];
  }

  /**
   * Every running stream that has no cursor (and was given none) goes on after `cursor`, the server's newest event as
   * it acknowledged the connection, instead of from whenever its subscription reaches the server. On a reconnection
   * what such a stream feeds is read again after the acknowledgement (`withoutCursor`, asked first), so nothing falls
   * between that read and the stream. Called on the acknowledgement, before graphql-ws sends the subscriptions.
   */
  startAt(cursor: string): void {
    for (const [key, { given }] of this.uncursored()) if (!given) this.cursors.set(key, cursor);
  }

  private uncursored() {
    return [...this.live].filter(([key]) => !this.cursors.has(key));
  }
}

/** A stream's identity: the operation and its variables except `after`, with keys sorted. */
export function streamKey(operationName: string | undefined, variables: Record<string, unknown>): string {
  const rest = Object.keys(variables)
    .filter((k) => k !== 'after' && variables[k] !== undefined && variables[k] !== null)
    .sort()
    .map((k) => [k, variables[k]]);
  return `${operationName ?? 'anonymous'}:${JSON.stringify(rest)}`;
}

function declaresAfter(definition: OperationDefinitionNode): boolean {
  return definition.variableDefinitions?.some((v) => v.variable.name.value === 'after') ?? false;
}

/**
 * The server's answer to a cursor older than its event log keeps (`CURSOR_EXPIRED`), as graphql-ws hands it over: a
 * result with errors (refused at subscribe) or the errors the stream ended with (pruning overtook its replay).
 * Resolves with where the log stood (`extensions.cursor`), or null when the error is another one.
 */
function expiredCursor(errors: readonly { extensions?: Record<string, unknown> }[] | undefined): string | null {
  const expired = errors?.find((e) => e.extensions?.code === 'CURSOR_EXPIRED');
  if (!expired) return null;
  return typeof expired.extensions?.cursor === 'string' ? expired.extensions.cursor : '';
}

export interface ResumeLinkOptions {
  /**
   * A stream's cursor was older than the server's event log keeps: what the stream feeds must be read again (the
   * stream itself goes on from where the log stood when the server said so).
   */
  onCursorExpired?: (operationName: string) => void;
}

function rootResponseKey(definition: OperationDefinitionNode): string | undefined {
  const field = definition.selectionSet.selections.find((s) => s.kind === Kind.FIELD);
  return field && field.kind === Kind.FIELD ? (field.alias ?? field.name).value : undefined;
}

/**
 * Makes durable subscriptions resume where they left off.
 *
 * A subscription whose document declares `$after` gets, as `after`, the cursor of the last event its stream received
 * (or the one given, before any arrived). graphql-ws re-sends the same subscribe payload object after every
 * reconnection and serialises it at that moment (client.ts, `subscribe`: `socket.send(stringifyMessage({ id, type,
 * payload }))` inside its retry loop), so `after` is a getter: each resubscription asks for exactly what it missed.
 * A stream subscribed to again later (a page opened again) resumes from its last cursor too; replayed events carry
 * the objects as they are now, so applying them twice is harmless, and the cache updates dedupe by id.
 *
 * A cursor the server no longer covers (`CURSOR_EXPIRED`: the events after it were pruned) is handled here, once for
 * every durable stream: the stream's cursor becomes the one the error carries (where the log stood when the server
 * answered), what the stream feeds is read again (`onCursorExpired`), and the stream is subscribed again after that
 * cursor. The read comes after the server's answer, so it holds everything up to that cursor, and what follows it is
 * replayed: nothing is skipped, and the subscriber never sees the error.
 */
export function createResumeLink(cursors: CursorStore, { onCursorExpired }: ResumeLinkOptions = {}): ApolloLink {
  return new ApolloLink((operation, forward) => {
    const definition = getMainDefinition(operation.query);
    if (
      definition.kind !== Kind.OPERATION_DEFINITION ||
      definition.operation !== 'subscription' ||
      !declaresAfter(definition)
    ) {
      return forward(operation);
    }
    const key = streamKey(operation.operationName, operation.variables);
    let given = typeof operation.variables.after === 'string' ? operation.variables.after : null;
    const variables: Record<string, unknown> = { ...operation.variables };
    delete variables.after;
    Object.defineProperty(variables, 'after', { enumerable: true, get: () => cursors.get(key) ?? given });
    operation.variables = variables;

    const responseKey = rootResponseKey(definition);
    const operationName = operation.operationName ?? 'anonymous';
    return new Observable<ApolloLink.Result>((observer) => {
      const closed = cursors.opened(key, operationName, given !== null);
      let subscription: { unsubscribe(): void } | null = null;
      let ended = false;
      /** The stream went past what the log keeps: go on after `head` (or from now), and have its data read again. */
      const restart = (head: string) => {
        if (head) cursors.set(key, head);
        else cursors.delete(key);
        given = null;
        onCursorExpired?.(operationName);
        start();
      };
      const start = () => {
        let expiredAt: string | null = null;
        subscription = forward(operation).subscribe({
          next: (result) => {
            expiredAt = expiredCursor(result.errors as { extensions?: Record<string, unknown> }[] | undefined);
            if (expiredAt !== null) return;
            const payload = responseKey
              ? (result.data as Record<string, { cursor?: unknown } | null> | null | undefined)?.[responseKey]
              : undefined;
            if (payload && typeof payload.cursor === 'string') cursors.set(key, payload.cursor);
            observer.next(result);
          },
          error: (error: unknown) => {
            const head = CombinedGraphQLErrors.is(error) ? expiredCursor(error.errors) : null;
            if (head !== null && !ended) restart(head);
            else observer.error(error);
          },
          complete: () => {
            if (expiredAt !== null && !ended) restart(expiredAt);
            else observer.complete();
          },
        });
      };
      start();
      return () => {
        ended = true;
        closed();
        subscription?.unsubscribe();
      };
    });
  });
}
