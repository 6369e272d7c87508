import { GraphQLError } from 'graphql';

/** Every `extensions.code` this API returns. Clients may switch on these; they never change meaning. */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  CONFLICT: 'CONFLICT',
  BAD_REQUEST: 'BAD_REQUEST',
  /** Apollo Server's codes for documents that do not parse or do not validate against the schema. */
  GRAPHQL_PARSE_FAILED: 'GRAPHQL_PARSE_FAILED',
  GRAPHQL_VALIDATION_FAILED: 'GRAPHQL_VALIDATION_FAILED',
  PERSISTED_QUERY_NOT_FOUND: 'PERSISTED_QUERY_NOT_FOUND',
  PERSISTED_QUERY_NOT_SUPPORTED: 'PERSISTED_QUERY_NOT_SUPPORTED',
  OPERATION_RESOLUTION_FAILURE: 'OPERATION_RESOLUTION_FAILURE',
  /** A service this needs (Redis, for presence, chart viewing and typing) is unreachable for now: try again shortly. */
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  /**
   * A resume cursor older than the event log keeps (`EVENT_RETENTION`): events after it were pruned. Read again what
   * you show or mirror, then subscribe after the `cursor` this error carries (where the log stood when it was sent).
   */
  CURSOR_EXPIRED: 'CURSOR_EXPIRED',
  /**
   * Refused for now: try again after `retryAfter` seconds (HTTP: 429 and `Retry-After`). `reason` says why: the
   * caller (`CALLER_RATE`) or its clinic (`CLINIC_RATE`) sent more operations than its window allows
   * (`RATE_LIMIT_CALLER`, `RATE_LIMIT_CLINIC`); too many failed password or secret attempts (`SLOWED`, `LOCKED`); too
   * many password checks at once (`BUSY`) (see `AttemptRefusal`).
   */
  TOO_MANY_REQUESTS: 'TOO_MANY_REQUESTS',
  /**
   * `login`: the password was right and the account needs a second factor. `reason` `CODE_NEEDED`: send `login` again
   * with `code`. `ENROLMENT_NEEDED`: the clinic requires one the user has not set up; `enrolment` holds a TOTP secret
   * and its otpauth URI to add to an authenticator app, and a `login` with a code of it completes enrolment.
   */
  SECOND_FACTOR_REQUIRED: 'SECOND_FACTOR_REQUIRED',
  /** A second-factor code that does not match (`reason` `CODE_WRONG`) or was used already (`CODE_ALREADY_USED`). */
  SECOND_FACTOR_INVALID: 'SECOND_FACTOR_INVALID',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

export function isKnownCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && KNOWN_CODES.has(code);
}

/** `reason`: why a token that was good is refused now, when a client acts on it (`SESSION_IDLE`: ask the password). */
export function unauthenticated(message = 'Sign in first: send a valid bearer token', reason?: string): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: ErrorCode.UNAUTHENTICATED, ...(reason ? { reason } : {}), http: { status: 401 } },
  });
}

/** Why an ended session's token is refused (`extensions.reason` of UNAUTHENTICATED). */
export const SessionEndReason = {
  /** Signed out (here, everywhere, or by an admin): sign in again. */
  signedOut: 'SIGNED_OUT',
  /** No activity for `SESSION_IDLE_TIMEOUT`: the web app locks and asks for the password again. */
  sessionIdle: 'SESSION_IDLE',
  /**
   * The clinic was disabled by the operators (`npm run clinics -- disable`): nobody of it can sign in until enabled.
   */
  clinicDisabled: 'CLINIC_DISABLED',
} as const;

/** The refusal of a token whose session is over. */
export function sessionEnded(end: 'signedOut' | 'idle'): GraphQLError {
  return end === 'idle'
    ? unauthenticated('This session has been idle too long: sign in again', SessionEndReason.sessionIdle)
    : unauthenticated('This session has been signed out: sign in again', SessionEndReason.signedOut);
}

export function forbidden(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCode.FORBIDDEN } });
}

/**
 * The access audit could not be written, so the patient records the operation read are not sent
 * (docs/architecture.md, "Access audit"). Try again shortly.
 */
export function auditUnavailable(): GraphQLError {
  return new GraphQLError(
    'The access audit is unavailable for now, so patient records cannot be shown: try again shortly',
    {
      extensions: { code: ErrorCode.SERVICE_UNAVAILABLE, reason: 'AUDIT_UNAVAILABLE', http: { status: 503 } },
    },
  );
}

/** The same answer for "does not exist" and "belongs to another clinic", so nothing leaks. */
export function notFound(what: string): GraphQLError {
  return new GraphQLError(`${what} not found`, { extensions: { code: ErrorCode.NOT_FOUND } });
}

export function badInput(message: string, field?: string, reason?: string): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: ErrorCode.BAD_USER_INPUT, ...(field ? { field } : {}), ...(reason ? { reason } : {}) },
  });
}

/** A request this transport or this state cannot serve (`reason`: which, when a client may tell them apart). */
export function badRequest(message: string, reason?: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCode.BAD_REQUEST, ...(reason ? { reason } : {}) } });
}

/** Why a password (or client secret) check was refused (`extensions.reason` of TOO_MANY_REQUESTS). */
export const AttemptRefusal = {
  /**
   * Several failed attempts on this account: wait `retryAfter` seconds before the next (it grows with each failure).
   */
  slowed: 'SLOWED',
  /**
   * Too many failed attempts on this account, or from this address: locked for `retryAfter` seconds, or until an admin
   * unlocks it.
   */
  locked: 'LOCKED',
  /** The server is checking as many passwords as it may at once (`PASSWORD_HASH_CONCURRENCY`): try again shortly. */
  busy: 'BUSY',
} as const;
export type AttemptRefusal = (typeof AttemptRefusal)[keyof typeof AttemptRefusal];

const REFUSAL_MESSAGES: Record<AttemptRefusal, string> = {
  SLOWED: 'Too many failed attempts: wait before trying again',
  LOCKED: 'Too many failed attempts: sign-in is locked for a while',
  BUSY: 'The server is busy checking passwords: try again in a moment',
};

/**
 * A password or secret check refused before it was made. The same answer whether the password was right or wrong,
 * and whether the account exists: it says nothing of either. `retryAfter`: whole seconds, at least 1.
 */
export function tooManyAttempts(reason: AttemptRefusal, retryAfter: number): GraphQLError {
  return new GraphQLError(REFUSAL_MESSAGES[reason], {
    extensions: { code: ErrorCode.TOO_MANY_REQUESTS, reason, retryAfter: Math.max(1, Math.ceil(retryAfter)) },
  });
}

/** Why an operation was refused for its rate (`extensions.reason` of TOO_MANY_REQUESTS). */
export const RateLimitReason = {
  /** This caller (a staff session, an integration client) sent too many operations. */
  caller: 'CALLER_RATE',
  /** Every caller of the clinic together sent too many. */
  clinic: 'CLINIC_RATE',
  /** One source address sent too many requests without a token (sign-ins, token requests). */
  source: 'SOURCE_RATE',
} as const;
export type RateLimitReason = (typeof RateLimitReason)[keyof typeof RateLimitReason];

/** An operation over its caller's or clinic's rate; `retryAfter`: whole seconds until the window allows one again. */
export function tooManyRequests(reason: RateLimitReason, retryAfter: number): GraphQLError {
  const { message, extensions } = tooManyRequestsRefusal(reason, retryAfter);
  return new GraphQLError(message, { extensions });
}

/** A TOO_MANY_REQUESTS refusal as its answer's JSON carries it. */
export interface Refusal {
  message: string;
  extensions: { code: ErrorCode; reason: RateLimitReason; retryAfter: number };
}

/**
 * What `tooManyRequests` says, as plain data: where a refusal is written straight to the response (the door's, per
 * source address), so that a flood of them costs no GraphQLError and its stack trace each (a profile of
 * `npm run bench:guessing` found those, and the garbage they leave, among the largest costs of a refusal).
 */
export function tooManyRequestsRefusal(reason: RateLimitReason, retryAfter: number): Refusal {
  const who = { CALLER_RATE: 'this caller', CLINIC_RATE: 'this clinic', SOURCE_RATE: 'this address without a token' }[
    reason
  ];
  return {
    message: `Too many operations from ${who}: try again in ${retryAfter} s`,
    extensions: { code: ErrorCode.TOO_MANY_REQUESTS, reason, retryAfter },
  };
}

/**
 * Too many live subscriptions at once: on one connection (`scope: CONNECTION`), of one caller (`CALLER`) or of one
 * clinic (`CLINIC`). Ends when some of them end.
 */
export function tooManySubscriptions(message: string, scope?: 'CALLER' | 'CLINIC'): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: ErrorCode.BAD_REQUEST, reason: 'TOO_MANY_SUBSCRIPTIONS', ...(scope ? { scope } : {}) },
  });
}

/**
 * A subscription ended because its consumer fell behind (`cursor`: the last event it was sent, when known). Durable
 * subscriptions resume from their last cursor.
 */
export function slowConsumer(cursor?: string | null): GraphQLError {
  return new GraphQLError(
    'This subscription fell too far behind and was ended; subscribe again with your last cursor',
    {
      extensions: { code: ErrorCode.BAD_REQUEST, reason: 'SLOW_CONSUMER', ...(cursor ? { cursor } : {}) },
    },
  );
}

/**
 * A resume point the log no longer covers: events after it were pruned (docs/architecture.md, "Retention"). `cursor`
 * is where the log stood when this was decided: read again what depends on the stream, then subscribe after it, and
 * nothing is skipped (what happens meanwhile is replayed; applying it over the fresh read is harmless).
 */
export function cursorExpired(cursor: string): GraphQLError {
  return new GraphQLError(
    'This cursor is older than the event log keeps: read again what you show, then subscribe with the cursor in extensions (or without one)',
    { extensions: { code: ErrorCode.CURSOR_EXPIRED, cursor } },
  );
}

export function isCursorExpired(err: unknown): err is GraphQLError {
  return err instanceof GraphQLError && err.extensions.code === ErrorCode.CURSOR_EXPIRED;
}

/** A subscription ended by a server-side failure to deliver (logged with its cause). */
export function deliveryFailed(): GraphQLError {
  return new GraphQLError('Delivery failed; subscribe again with your last cursor', {
    extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
  });
}

export function conflict(message: string, reason: string, details: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCode.CONFLICT, reason, ...details } });
}

/** Why a second factor is asked for (`extensions.reason` of SECOND_FACTOR_REQUIRED). */
export type SecondFactorNeed = 'CODE_NEEDED' | 'ENROLMENT_NEEDED';

/** The password was right; a second factor is needed to sign in (`details`: what enrolment needs, if any). */
export function secondFactorRequired(reason: SecondFactorNeed, details: Record<string, unknown> = {}): GraphQLError {
  const message =
    reason === 'CODE_NEEDED'
      ? 'Enter the code from your authenticator app (or a recovery code)'
      : 'Your clinic requires a second factor: add this account to an authenticator app, then enter its code';
  return new GraphQLError(message, { extensions: { code: ErrorCode.SECOND_FACTOR_REQUIRED, reason, ...details } });
}

/** Why a well-formed second-factor code is refused (`extensions.reason` of SECOND_FACTOR_INVALID). */
export type SecondFactorRefusal = 'CODE_WRONG' | 'CODE_ALREADY_USED';

export function secondFactorInvalid(reason: SecondFactorRefusal): GraphQLError {
  const message =
    reason === 'CODE_WRONG'
      ? 'That code is not right: check the time on your device and enter the current code'
      : 'That code was used already: wait for the next one (or use another recovery code)';
  return new GraphQLError(message, { extensions: { code: ErrorCode.SECOND_FACTOR_INVALID, reason } });
}
