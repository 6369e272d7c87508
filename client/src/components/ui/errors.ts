import { CombinedGraphQLErrors } from '@apollo/client';

/** A message fit for the user: the server's own words for GraphQL errors, a plain sentence for network failures. */
export function errorMessage(error: unknown): string {
  if (CombinedGraphQLErrors.is(error)) return error.errors.map((e) => e.message).join(' ');
  if (error instanceof TypeError || (error instanceof Error && /fetch|network/i.test(error.message))) {
    return 'The server cannot be reached. Check your connection and try again.';
  }
  return error instanceof Error ? error.message : 'Something went wrong.';
}
