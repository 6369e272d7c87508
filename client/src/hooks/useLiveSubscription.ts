import type { ApolloClient, ErrorLike, OperationVariables, TypedDocumentNode } from '@apollo/client';
import { useApolloClient } from '@apollo/client/react';
import { useEffect, useEffectEvent } from 'react';

export interface LiveSubscriptionOptions<TData, TVariables extends OperationVariables> {
  variables?: TVariables;
  /** Do not subscribe (for example while an id is unknown). */
  skip?: boolean;
  /** `no-cache` for transient signals (typing, presence, viewers), which stay out of the normalized cache. */
  fetchPolicy?: 'cache-first' | 'no-cache';
  /** Each event, after Apollo wrote it to the cache (unless `no-cache`). */
  onData(data: TData, client: ApolloClient): void;
  onError?(error: ErrorLike): void;
}

/**
 * One subscription held by an effect: subscribed on mount, unsubscribed (a graphql-ws `complete` to the server) on
 * unmount or when its variables change. Under StrictMode's mount–unmount–mount the first subscription is completed
 * before the second starts, so one stays open. The callbacks are effect events: a new callback on each render neither
 * resubscribes nor goes stale.
 */
export function useLiveSubscription<TData, TVariables extends OperationVariables>(
  query: TypedDocumentNode<TData, TVariables>,
  { variables, skip = false, fetchPolicy = 'cache-first', onData, onError }: LiveSubscriptionOptions<TData, TVariables>,
): void {
  const client = useApolloClient();
  const handleData = useEffectEvent(onData);
  const handleError = useEffectEvent((error: ErrorLike) => {
    if (onError) onError(error);
    else console.warn(`subscription failed: ${error.message}`);
  });
  const variablesKey = JSON.stringify(variables ?? {});

  useEffect(() => {
    if (skip) return;
    const subscription = client
      .subscribe({
        query,
        variables: JSON.parse(variablesKey) as TVariables,
        fetchPolicy,
      } as ApolloClient.SubscribeOptions<TData, TVariables>)
      .subscribe({
        next: (result) => {
          if (result.data) handleData(result.data as TData, client);
          if (result.error) handleError(result.error);
        },
        error: (error: ErrorLike) => handleError(error),
      });
    return () => subscription.unsubscribe();
  }, [client, query, variablesKey, skip, fetchPolicy]);
}
