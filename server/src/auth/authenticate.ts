import { unauthenticated } from '../errors.js';
import { bearerToken, TokenError, type TokenService, type Viewer } from './tokens.js';

/** Verifies the bearer token of a request or connection: none gives an anonymous viewer, a bad one UNAUTHENTICATED. */
export async function authenticate(tokens: TokenService, authorization: string | undefined | null): Promise<Viewer | null> {
  try {
    const token = bearerToken(authorization);
    return token ? await tokens.verify(token) : null;
  } catch (err) {
    if (err instanceof TokenError) throw unauthenticated(err.message);
    throw err;
  }
}
