import { ApolloLink } from '@apollo/client';
import { getMainDefinition } from '@apollo/client/utilities';
import { Kind, type OperationDefinitionNode } from 'graphql';
import { map, Observable } from 'rxjs';

/**
 * The last cursor received on each durable subscription stream (appointmentChanged, messageAdded, readReceipt,
 * notification), keyed by operation name and variables other than `after`.
 */
export class CursorStore {
  private readonly cursors = new Map<string, string>();
  /** Durable streams subscribed now: key → operation name and how many subscriptions share it. */
  private readonly live = new Map<string, { operationName: string; count: number }>();

  get(key: string): string | undefined {
    return this.cursors.get(key);
  }

  set(key: string, cursor: string): void {
    this.cursors.set(key, cursor);
  }

  /** Every stream and its cursor, for diagnostics and tests. */
  entries(): [string, string][] {
    return [...this.cursors.entries()];
  }

  clear(): void {
    this.cursors.clear();
  }

  /** @internal the resume link's bookkeeping of running streams. */
  opened(key: string, operationName: string): () => void {
    const entry = this.live.get(key) ?? { operationName, count: 0 };
    entry.count += 1;
    this.live.set(key, entry);
    return () => {
      entry.count -= 1;
      if (entry.count === 0 && this.live.get(key) === entry) this.live.delete(key);
    };
  }

  /**
   * Operation names of running durable streams that have no cursor yet: they received nothing before the link was
   * lost, so a resubscription cannot say where to resume, and what they feed must be read again.
   */
  withoutCursor(): string[] {
    return [
      ...new Set(
        [...this.live].filter(([key]) => !this.cursors.has(key)).map(([, { operationName }]) => operationName),
      ),
    ];
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
 */
export function createResumeLink(cursors: CursorStore): ApolloLink {
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
    const given = typeof operation.variables.after === 'string' ? operation.variables.after : null;
    const variables: Record<string, unknown> = { ...operation.variables };
    delete variables.after;
    Object.defineProperty(variables, 'after', { enumerable: true, get: () => cursors.get(key) ?? given });
    operation.variables = variables;

    const responseKey = rootResponseKey(definition);
    return new Observable<ApolloLink.Result>((observer) => {
      const closed = cursors.opened(key, operation.operationName ?? 'anonymous');
      const subscription = forward(operation)
        .pipe(
          map((result) => {
            const payload = responseKey
              ? (result.data as Record<string, { cursor?: unknown } | null> | null | undefined)?.[responseKey]
              : undefined;
            if (payload && typeof payload.cursor === 'string') cursors.set(key, payload.cursor);
            return result;
          }),
        )
        .subscribe(observer);
      return () => {
        closed();
        subscription.unsubscribe();
      };
    });
  });
}
