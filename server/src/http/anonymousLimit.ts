import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import proxyaddr from 'proxy-addr';
import { retryAfterOf, type CallerLimits } from '../auth/callerLimits.js';

/** Where a request without a token does work worth counting: GraphQL (sign-in) and its event stream, or tokens. */
type Door = 'graphql' | 'oauth';
const DOORS: ReadonlyArray<readonly [prefix: string, door: Door]> = [
  ['/graphql', 'graphql'],
  ['/oauth/token', 'oauth'],
];
const BEARER = /^Bearer\s/i;

/**
 * The door a request's path leads to, matched as Express routes it, or a request could pass the door and still be
 * served: without regard to case, and with whatever follows a `/` (`app.use('/graphql', …)` also serves `/GraphQL/`
 * and `/graphql/anything`).
 */
function doorOf(url: string | undefined): Door | null {
  if (!url) return null;
  let path = url;
  if (!path.startsWith('/')) {
    // The absolute form (`POST http://host/graphql HTTP/1.1`), which Node passes on as it came.
    try {
      path = new URL(path).pathname;
    } catch {
      return null;
    }
  }
  const query = path.indexOf('?');
  path = (query === -1 ? path : path.slice(0, query)).toLowerCase();
  for (const [prefix, door] of DOORS) {
    if (path.startsWith(prefix) && (path.length === prefix.length || path[prefix.length] === '/')) return door;
  }
  return null;
}

/** Whom the trusted proxies say is asking, as Express's `req.ip` (the app's compiled `trust proxy fn`). */
export type TrustProxy = (address: string, hop: number) => boolean;

/**
 * Requests without a bearer token, counted per source address and refused at the door once over
 * `RATE_LIMIT_ANONYMOUS` per window (docs/architecture.md, "Limits per caller and clinic"). The door is the HTTP
 * server's request listener, in front of `app`: before Express dresses the request and routes it, before CORS, the
 * body parser and Apollo, so a flood of sign-ins from one address costs the server a counter lookup and a short answer
 * per request, not a request pipeline (measured with `npm run bench:guessing`). A request with a bearer token goes on
 * to be verified and counted against its caller; a browser's CORS preflight is not counted.
 *
 * The refusal speaks each endpoint's language: GraphQL's `TOO_MANY_REQUESTS` (reason `SOURCE_RATE`), OAuth's
 * `slow_down` at the token endpoint; both 429 with `Retry-After`.
 */
export function limitAnonymousRequests(limits: CallerLimits, trust: TrustProxy, app: RequestListener): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const door = req.method === 'OPTIONS' ? null : doorOf(req.url);
    if (!door || BEARER.test(req.headers.authorization ?? '')) {
      app(req, res);
      return;
    }
    // Undefined only for a socket already gone.
    const address = proxyaddr(req, trust) as string | undefined;
    if (!address) {
      app(req, res);
      return;
    }
    // admitAnonymous never rejects: a failing count lets the request through, logged.
    void limits.admitAnonymous(address).then((refused) => {
      if (!refused) {
        app(req, res);
        return;
      }
      const body =
        door === 'oauth'
          ? { error: 'slow_down', error_description: refused.message }
          : { errors: [{ message: refused.message, extensions: refused.extensions }] };
      res
        .writeHead(429, {
          'content-type': 'application/json; charset=utf-8',
          'cache-control': 'no-store',
          'retry-after': retryAfterOf(refused),
        })
        .end(JSON.stringify(body));
    });
  };
}
