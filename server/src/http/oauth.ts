import express, { type Request, type Response, type Router } from 'express';
import { GraphQLError } from 'graphql';
import { parseScopes, type Scope } from '../auth/scopes.js';
import { ThrottleKey, type Attempt } from '../auth/throttle.js';
import { ErrorCode } from '../errors.js';
import type { Services } from '../context.js';
import { CLINIC_DISABLED_MESSAGE } from '../domains/clinics/standing.js';
import { tenantsByIds } from '../domains/identity/data.js';
import { integrationClientById, touchIntegrationClient } from '../domains/integrations/data.js';
import { DUMMY_SECRET_HASH, secretMatches } from '../domains/integrations/secrets.js';

/** The error codes of RFC 6749 §5.2 this endpoint uses. */
type OAuthError =
  'invalid_request' | 'invalid_client' | 'unauthorized_client' | 'unsupported_grant_type' | 'invalid_scope';

const REALM = 'derm-realtime';

function noStore(res: Response): void {
  // RFC 6749 §5.1: responses carrying tokens (and, here, every answer of this endpoint) are not cached.
  res.setHeader('cache-control', 'no-store');
  res.setHeader('pragma', 'no-cache');
}

function fail(res: Response, error: OAuthError, description: string): void {
  noStore(res);
  if (error === 'invalid_client') {
    // §5.2: 401, with the scheme the client may authenticate with.
    res.status(401).setHeader('www-authenticate', `Basic realm="${REALM}", charset="UTF-8"`);
  } else {
    res.status(400);
  }
  res.json({ error, error_description: description });
}

/**
 * Too many failed attempts for this client id or from this address: 429 with `Retry-After` (RFC 6585 §4), and
 * `slow_down`, the token endpoint error OAuth registered for a client that must wait (RFC 8628 §3.5).
 */
function tooMany(res: Response, description: string, retryAfter: number): void {
  noStore(res);
  res.status(429).setHeader('retry-after', String(retryAfter));
  res.json({ error: 'slow_down', error_description: description });
}

/** RFC 6749 §2.3.1: id and secret are form-urlencoded, then joined with ':' and base64-encoded. */
function basicCredentials(header: string): { id: string; secret: string } | null {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!match) return null;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  try {
    const formDecode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    return { id: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
  } catch {
    return null;
  }
}

/**
 * `POST /oauth/token`: the OAuth 2.0 client credentials grant (RFC 6749 §4.4) for integration clients. The client
 * authenticates with HTTP Basic (§2.3.1; recommended) or `client_id`/`client_secret` in the body, may narrow its
 * scopes with `scope`, and gets a short-lived bearer token (`OAUTH_TOKEN_TTL`) that carries the client's id, its
 * clinic and the scopes. Errors follow §5.2.
 */
export function tokenEndpoint(services: Services): Router {
  const router = express.Router();
  const form = express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 20 });

  router.all('/oauth/token', (req, res, next) => {
    if (req.method === 'POST') return next();
    noStore(res);
    res.status(405).setHeader('allow', 'POST').json({ error: 'invalid_request', error_description: 'Use POST' });
  });

  router.post(
    '/oauth/token',
    (req, res, next) => {
      // §4.4.2: the parameters come in the application/x-www-form-urlencoded format, nothing else.
      if (!req.is('application/x-www-form-urlencoded')) {
        return fail(res, 'invalid_request', 'Send the parameters as application/x-www-form-urlencoded');
      }
      form(req, res, (err?: unknown) =>
        err ? fail(res, 'invalid_request', 'The body could not be read as a form (too large, or not UTF-8)') : next(),
      );
    },
    async (req: Request, res: Response) => {
      const body = (req.body ?? {}) as Record<string, string | string[]>;
      // §3.2: a parameter appears at most once; §3.1: an empty one counts as left out.
      const repeated = Object.keys(body).find((k) => Array.isArray(body[k]));
      if (repeated) return fail(res, 'invalid_request', `The parameter ${repeated} appears more than once`);
      const param = (name: string) =>
        typeof body[name] === 'string' && body[name] !== '' ? (body[name] as string) : undefined;

      const grantType = param('grant_type');
      if (!grantType) return fail(res, 'invalid_request', 'grant_type is missing; send grant_type=client_credentials');
      if (grantType !== 'client_credentials')
        return fail(res, 'unsupported_grant_type', 'Only the client_credentials grant is supported');

      const header = req.header('authorization');
      const inBody = param('client_id') !== undefined || param('client_secret') !== undefined;
      if (header && inBody)
        return fail(
          res,
          'invalid_request',
          'Authenticate in one way only: the Authorization header or the body, not both',
        );
      let credentials: { id: string; secret: string } | null;
      if (header) {
        credentials = basicCredentials(header);
        if (!credentials)
          return fail(res, 'invalid_client', 'The Authorization header must be Basic base64(client_id:client_secret)');
      } else {
        const id = param('client_id');
        const secret = param('client_secret');
        if (!id || !secret)
          return fail(
            res,
            'invalid_client',
            'Authenticate with HTTP Basic (client_id:client_secret), or send client_id and client_secret',
          );
        credentials = { id, secret };
      }

      // Guessing is slowed down and locked out like staff passwords' (auth/throttle.ts), per client id as sent
      // (existing or not) and per address, before anything is read.
      let attempt: Attempt;
      try {
        attempt = await services.throttle.check({
          account: ThrottleKey.client(credentials.id),
          source: req.ip ? ThrottleKey.source(req.ip) : undefined,
        });
      } catch (err) {
        if (!(err instanceof GraphQLError) || err.extensions.code !== ErrorCode.TOO_MANY_REQUESTS) throw err;
        return tooMany(res, err.message, Number(err.extensions.retryAfter));
      }
      const client = await integrationClientById(services.db, credentials.id);
      // An unknown client costs the same comparison as a wrong secret, and gets the same answer as a revoked one.
      const matches = secretMatches(credentials.secret, client?.secretHash ?? DUMMY_SECRET_HASH);
      if (!client || !matches || client.revokedAt !== null) {
        await services.throttle.recordFailure(attempt);
        services.log.info(
          { clientId: client?.id, reason: !client ? 'unknown' : !matches ? 'wrong secret' : 'revoked' },
          'token request refused',
        );
        return fail(res, 'invalid_client', 'Unknown client, wrong secret, or the client was revoked');
      }
      // A client of a clinic the operators disabled authenticated, but gets no token (§5.2 unauthorized_client).
      const [clinic] = await tenantsByIds(services.db, [client.tenantId]);
      if (clinic?.disabledAt) {
        services.log.info({ clientId: client.id, reason: 'clinic disabled' }, 'token request refused');
        return fail(res, 'unauthorized_client', CLINIC_DISABLED_MESSAGE);
      }

      await services.throttle.recordSuccess(attempt);

      const granted = new Set(client.scopes);
      let scopes: Scope[];
      const asked = param('scope');
      if (asked === undefined) {
        // §3.3: without `scope`, everything the client was granted.
        scopes = parseScopes(client.scopes).scopes;
      } else {
        const { scopes: known, unknown } = parseScopes(asked.split(' '));
        if (unknown.length > 0) return fail(res, 'invalid_scope', `Unknown scope ${unknown.join(', ')}`);
        const missing = known.filter((s) => !granted.has(s));
        if (missing.length > 0) return fail(res, 'invalid_scope', `This client was not granted ${missing.join(', ')}`);
        if (known.length === 0)
          return fail(res, 'invalid_scope', 'Ask for at least one scope, or leave scope out for all of them');
        scopes = known;
      }

      const { token } = await services.tokens.signIntegration({
        clientId: client.id,
        tenantId: client.tenantId,
        name: client.name,
        scopes,
      });
      touchIntegrationClient(services.db, client.id).catch((err: Error) =>
        services.log.warn({ err: { message: err.message } }, "could not record the client's last use"),
      );
      services.log.info({ clientId: client.id, tenantId: client.tenantId, scopes }, 'integration token issued');
      noStore(res);
      res.json({
        access_token: token,
        token_type: 'Bearer',
        expires_in: services.tokens.integrationTtlSeconds,
        scope: scopes.join(' '),
      });
    },
  );
  // Anything unexpected (the database down) is a JSON answer too, logged, never a stack trace.
  router.use('/oauth/token', (err: unknown, _req: Request, res: Response, _next: express.NextFunction) => {
    services.log.error({ err }, 'token endpoint failed');
    noStore(res);
    res.status(500).json({ error: 'server_error', error_description: 'The server could not issue a token; try again' });
  });
  return router;
}
