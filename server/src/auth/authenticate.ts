import type { Services } from '../context.js';
import { unauthenticated } from '../errors.js';
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
 * `authenticate`, then what a signature cannot tell: an integration client's token is refused once the client is
 * revoked (its tokens are short-lived, but a revocation takes effect at once).
 */
export async function authenticateCaller(
  services: Pick<Services, 'tokens' | 'integrations'>,
  authorization: string | undefined | null,
): Promise<Viewer | null> {
  const viewer = await authenticate(services.tokens, authorization);
  if (viewer?.kind === 'integration' && !(await services.integrations.isActive(viewer))) {
    throw unauthenticated('This integration client has been revoked');
  }
  return viewer;
}
