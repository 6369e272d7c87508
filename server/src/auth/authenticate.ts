import type { GraphQLError } from 'graphql';
import type { Services } from '../context.js';
import { clinicRefusal } from '../domains/clinics/standing.js';
import { clinicOfUser } from '../domains/identity/data.js';
import { sessionEnded, unauthenticated } from '../errors.js';
import { bearerToken, TokenError, type TokenService, type Viewer } from './tokens.js';

/** Verifies the bearer token of a request or connection: none gives an anonymous viewer, a bad one UNAUTHENTICATED. */
export async function authenticate(
  tokens: TokenService,
  authorization: string | undefined | null,
): Promise<Viewer | null> {
  try {
    const token = bearerToken(authorization);
    return token ? await tokens.verify(token) : null;
  } catch (err) {
    if (err instanceof TokenError) throw unauthenticated(err.message);
    throw err;
  }
}

/**
 * `authenticate`, then what a signature cannot tell, on every transport alike (HTTP 401, WebSocket 4403, SSE 401): a
 * token of a signed-out session (`reason: SIGNED_OUT`) or of a staff session idle for longer than
 * `SESSION_IDLE_TIMEOUT` (`reason: SESSION_IDLE`) is refused (one Redis read for both); an integration client's token
 * once the client is revoked, and a staff token once its user is no longer a user of its clinic (a deleted or moved
 * account whose token has not expired yet): one indexed read each (a staff token's sent with the session's read), which
 * reads the clinic too: a token of a clinic the operators disabled is refused (`reason: CLINIC_DISABLED`), and so is
 * one whose session started before the clinic was last disabled (`SIGNED_OUT`).
 */
export async function authenticateCaller(
  services: Pick<Services, 'tokens' | 'integrations' | 'db' | 'sessions'>,
  authorization: string | undefined | null,
): Promise<Viewer | null> {
  const viewer = await authenticate(services.tokens, authorization);
  if (viewer) await checkCaller(services, viewer);
  return viewer;
}

/**
 * The door of an HTTP request (a GraphQL request, an event stream, the audit's export): who calls, as
 * `authenticateCaller` tells (its refusals are thrown), and for a caller whether the request is over the caller's or
 * its clinic's rate (`overRate`, the TOO_MANY_REQUESTS error to answer it with; `CallerLimits.admit`). The caller's
 * rate is counted while its session and account are read: one round trip's wait fewer on every request. A request
 * then refused for its session, account or clinic has counted on its caller's own rate (the ended session's, the
 * revoked client's, the disabled clinic's caller's), never on its clinic's, which is counted once the caller is let in.
 */
export async function admitRequest(
  services: Pick<Services, 'tokens' | 'integrations' | 'db' | 'sessions' | 'limits'>,
  authorization: string | undefined | null,
): Promise<{ viewer: Viewer | null; overRate: GraphQLError | null }> {
  const viewer = await authenticate(services.tokens, authorization);
  if (!viewer) return { viewer, overRate: null };
  // Never rejects: a failing count lets the request through, logged (CallerLimits).
  const callerRate = services.limits.admitCaller(viewer);
  await checkCaller(services, viewer);
  const overRate = (await callerRate) ?? (await services.limits.admitClinic(viewer));
  return { viewer, overRate };
}

/** What a signature cannot tell of a verified token (`authenticateCaller`): throws its refusal. */
async function checkCaller(
  services: Pick<Services, 'integrations' | 'db' | 'sessions'>,
  viewer: Viewer,
): Promise<void> {
  // A staff token's session (Redis) and account (SQL) are read at once: one round trip's wait instead of two on every
  // request. The answers are weighed in the same order as ever: a signed-out session is refused as such, even when the
  // account read failed. (An integration's read notes the client's activity, so it waits for the session's answer.)
  const standing = viewer.kind === 'user' ? clinicOfUser(services.db, viewer.tenantId, viewer.userId) : undefined;
  // Handled now, so that its failure is never an unhandled rejection while the session's answer is awaited; a failure
  // is still thrown where it is read below.
  standing?.catch(() => {});
  const ended = await services.sessions.check(viewer);
  if (ended) throw sessionEnded(ended);
  if (viewer.kind === 'integration') {
    const { active, clinic } = await services.integrations.atDoor(viewer);
    if (!active) throw unauthenticated('This integration client has been revoked');
    const refusal = clinicRefusal(clinic!, viewer);
    if (refusal) throw refusal;
  }
  if (standing) {
    const clinic = await standing;
    if (!clinic) throw unauthenticated('This account is not a user of its clinic any more: sign in again');
    const refusal = clinicRefusal(clinic, viewer);
    if (refusal) throw refusal;
  }
}
