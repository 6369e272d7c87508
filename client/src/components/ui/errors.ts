import { CombinedGraphQLErrors, ServerError } from '@apollo/client';

interface ServerErrorEntry {
  message: string;
  extensions?: { code?: unknown; reason?: unknown; retryAfter?: unknown };
}

/**
 * The GraphQL errors of an answer: from a result, or from the body of a non-2xx one (a 429 reaches Apollo as a
 * ServerError).
 */
function graphQLErrorsOf(error: unknown): readonly ServerErrorEntry[] {
  if (CombinedGraphQLErrors.is(error)) return error.errors as readonly ServerErrorEntry[];
  if (ServerError.is(error)) {
    try {
      return (JSON.parse(error.bodyText) as { errors?: ServerErrorEntry[] }).errors ?? [];
    } catch {
      return [];
    }
  }
  return [];
}

/** "in 40 seconds", "in 15 minutes": a wait said without a clock (the sign-in page knows no clinic's time zone). */
function inHowLong(seconds: number): string {
  if (seconds < 60) return `in ${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  return `in ${minutes} minute${minutes === 1 ? '' : 's'}`;
}

/**
 * A refusal for now (`TOO_MANY_REQUESTS`: too many failed attempts, or a busy server), in words, with when to try
 * again; null for any other error.
 */
export function tooManyAttemptsMessage(error: unknown): string | null {
  const refusal = graphQLErrorsOf(error).find((e) => e.extensions?.code === 'TOO_MANY_REQUESTS');
  if (!refusal) return null;
  const wait = inHowLong(Math.max(1, Number(refusal.extensions?.retryAfter) || 1));
  switch (refusal.extensions?.reason) {
    case 'LOCKED':
      return `Too many failed attempts: signing in is locked. Try again ${wait}, or ask your clinic's admin to unlock your account.`;
    case 'SLOWED':
      return `Too many failed attempts. Try again ${wait}.`;
    case 'SOURCE_RATE':
      return `Too many sign-ins from this network. Try again ${wait}.`;
    default:
      return `The server is busy. Try again ${wait}.`;
  }
}

/** A message fit for the user: the server's own words for GraphQL errors, a plain sentence for network failures. */
export function errorMessage(error: unknown): string {
  const refused = tooManyAttemptsMessage(error);
  if (refused) return refused;
  if (CombinedGraphQLErrors.is(error)) return error.errors.map((e) => e.message).join(' ');
  if (error instanceof TypeError || (error instanceof Error && /fetch|network/i.test(error.message))) {
    return 'The server cannot be reached. Check your connection and try again.';
  }
  return error instanceof Error ? error.message : 'Something went wrong.';
}
