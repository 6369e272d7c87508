import type { RequestHandler } from 'express';
import { retryAfterOf, type CallerLimits } from '../auth/callerLimits.js';

/** The paths where a request without a token does work worth counting: GraphQL (sign-in), its event stream, tokens. */
const COUNTED_PATHS = new Set(['/graphql', '/graphql/stream', '/oauth/token']);
const BEARER = /^Bearer\s/i;

/**
 * Requests without a bearer token, counted per source address and refused at the door once over
 * `RATE_LIMIT_ANONYMOUS` per window (docs/architecture.md, "Limits per caller and clinic"): before CORS, the body
 * parser and Apollo, so a flood of sign-ins from one address costs the server a counter lookup per request, not a
 * GraphQL request pipeline (measured with `npm run bench:guessing`). A request with a bearer token goes on to be
 * verified and counted against its caller; a browser's CORS preflight is not counted.
 *
 * The refusal speaks each endpoint's language: GraphQL's `TOO_MANY_REQUESTS` (reason `SOURCE_RATE`), OAuth's
 * `slow_down` at the token endpoint; both 429 with `Retry-After`.
 */
export function limitAnonymousRequests(limits: CallerLimits): RequestHandler {
  return (req, res, next) => {
    if (req.method === 'OPTIONS' || !COUNTED_PATHS.has(req.path) || BEARER.test(req.headers.authorization ?? '')) {
      next();
      return;
    }
    const address = req.ip;
    if (!address) {
      next();
      return;
    }
    limits.admitAnonymous(address).then((refused) => {
      if (!refused) {
        next();
        return;
      }
      const body =
        req.path === '/oauth/token'
          ? { error: 'slow_down', error_description: refused.message }
          : { errors: [{ message: refused.message, extensions: refused.extensions }] };
      // Written as it is: none of Express's ETag and content negotiation for a refusal.
      res
        .writeHead(429, {
          'content-type': 'application/json; charset=utf-8',
          'cache-control': 'no-store',
          'retry-after': retryAfterOf(refused),
        })
        .end(JSON.stringify(body));
    }, next);
  };
}
