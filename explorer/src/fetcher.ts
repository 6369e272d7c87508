import { createGraphiQLFetcher, type Fetcher, type FetcherOpts } from '@graphiql/toolkit';
import { createClient, type Client } from 'graphql-ws';

function authorizationOf(headers: FetcherOpts['headers']): string {
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (name.toLowerCase() === 'authorization' && typeof value === 'string') return value;
  }
  return '';
}

/**
 * Queries and mutations go to POST /graphql with the headers of the Headers editor; subscriptions go over graphql-ws
 * to the same /graphql, where the token travels as `connectionParams.authorization` (the server reads it there, not
 * from headers). One socket per token: signing in as someone else opens a new one and closes the old.
 */
export function createExplorerFetcher(): Fetcher {
  const url = new URL('/graphql', window.location.href).toString();
  const wsUrl = url.replace(/^http/, 'ws');
  let current: { authorization: string; client: Client; fetcher: Fetcher } | undefined;
  return (params, opts) => {
    const authorization = authorizationOf(opts?.headers);
    if (!current || current.authorization !== authorization) {
      void current?.client.dispose();
      const client = createClient({
        url: wsUrl,
        lazy: true,
        connectionParams: authorization ? { authorization } : {},
        retryAttempts: 0,
      });
      current = { authorization, client, fetcher: createGraphiQLFetcher({ url, wsClient: client }) };
    }
    return current.fetcher(params, opts);
  };
}
