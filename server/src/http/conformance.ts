import type { ApolloServerPlugin } from '@apollo/server';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { LRUCache } from 'lru-cache';
import type { Context } from '../context.js';
import { ErrorCode } from '../errors.js';

/**
 * The GraphQL over HTTP specification (https://graphql.github.io/graphql-over-http/draft/), where Apollo Server's
 * defaults differ from what it says a server SHOULD do:
 *
 * - Media type. Since the "legacy watershed" (2025-01-01) a request without `Accept` is answered as
 *   `application/graphql-response+json`, and so is `Accept: *∕*`; Apollo would pick `application/json` for both.
 * - Status codes. With `application/graphql-response+json`, a response without `data` (the request was refused before
 *   it ran) has a 4xx status saying why: 400 for documents that do not parse or validate and for variables that do
 *   not fit, 401 without a valid token, 403 when the token's scopes do not cover the operation; an operation that ran
 *   answers 200, even with field errors. With legacy `application/json`, every well-formed request answers 200 except
 *   for authentication (401), since intermediaries' 4xx answers cannot be told apart.
 * - Refusals for now (`TOO_MANY_REQUESTS`: a locked account, a busy server) answer 429 with `Retry-After`, in both
 *   media types and also when the operation ran (`data: null`): the spec only RECOMMENDS 200 then, and 429 is what
 *   clients, proxies and load testers know to back off on.
 * - Bodies that are not JSON (or too large, or not UTF-8) get a GraphQL error response, not an HTML page.
 */
export const MediaType = {
  graphqlResponse: 'application/graphql-response+json',
  json: 'application/json',
} as const;

/** What `negotiateMediaType` chose for each `Accept` header lately (clients choose the header: bounded both ways). */
const negotiated = new LRUCache<string, string | false>({ max: 200 });
const MAX_REMEMBERED_ACCEPT = 512;

/**
 * Settles which of the two JSON media types a request gets, and tells Apollo by narrowing its `Accept` header to it.
 * Requests that prefer HTML (a browser opening /graphql: the landing page) are left alone.
 */
export const negotiateMediaType: RequestHandler = (req, _res, next) => {
  // A client sends the same `Accept` with every request: parsed and ranked once per distinct header, not per request.
  const accept = req.headers.accept ?? '';
  let chosen = negotiated.get(accept);
  if (chosen === undefined) {
    chosen = req.accepts([MediaType.graphqlResponse, MediaType.json, 'text/html']);
    if (accept.length <= MAX_REMEMBERED_ACCEPT) negotiated.set(accept, chosen);
  }
  if (chosen === MediaType.graphqlResponse || chosen === MediaType.json) req.headers.accept = chosen;
  next();
};

const REQUEST_ERROR_STATUS: Partial<Record<string, number>> = {
  [ErrorCode.UNAUTHENTICATED]: 401,
  [ErrorCode.FORBIDDEN]: 403,
  [ErrorCode.GRAPHQL_PARSE_FAILED]: 400,
  [ErrorCode.GRAPHQL_VALIDATION_FAILED]: 400,
  [ErrorCode.BAD_USER_INPUT]: 400,
  [ErrorCode.OPERATION_RESOLUTION_FAILURE]: 400,
  [ErrorCode.BAD_REQUEST]: 400,
  [ErrorCode.TOO_MANY_REQUESTS]: 429,
  [ErrorCode.INTERNAL_SERVER_ERROR]: 500,
  // The access audit could not be written, so nothing was sent (plugins.ts, patientAccessAudit).
  [ErrorCode.SERVICE_UNAVAILABLE]: 503,
};

/** Sets the status of each response by its media type and whether the operation ran (see above). */
export function httpStatusCodes(): ApolloServerPlugin<Context> {
  return {
    async requestDidStart({ request }) {
      return {
        async willSendResponse({ response }) {
          if (response.body.kind !== 'single') return;
          const { singleResult } = response.body;
          const legacy = request.http?.headers.get('accept') === MediaType.json;
          const errors = singleResult.errors ?? [];
          const throttled = errors.filter((e) => e.extensions?.code === ErrorCode.TOO_MANY_REQUESTS);
          if (throttled.length > 0 && !singleResult.data) {
            response.http.status = 429;
            const waits = throttled.map((e) => Number(e.extensions?.retryAfter) || 1);
            response.http.headers.set('retry-after', String(Math.max(...waits)));
            return;
          }
          if (singleResult.data !== undefined) {
            // It ran: a partial (or null) result is still a result.
            response.http.status = 200;
            return;
          }
          const codes = errors.map((e) => String(e.extensions?.code ?? ''));
          // Automatic persisted queries: Apollo's own protocol answers "not found" with 200, and clients expect it.
          if (codes.some((c) => c.startsWith('PERSISTED_QUERY'))) return;
          if (legacy) {
            response.http.status = codes.includes(ErrorCode.UNAUTHENTICATED)
              ? 401
              : codes.includes(ErrorCode.INTERNAL_SERVER_ERROR)
                ? 500
                : 200;
            return;
          }
          const statuses = codes.map((c) => REQUEST_ERROR_STATUS[c] ?? 400);
          // The most telling one: authentication before permission before the rest.
          response.http.status = statuses.includes(500)
            ? 500
            : statuses.includes(503)
              ? 503
              : statuses.includes(401)
                ? 401
                : statuses.includes(403)
                  ? 403
                  : Math.max(400, ...statuses.filter((s) => s < 500));
        },
      };
    },
  };
}

/** A body the JSON parser refused, answered as a GraphQL error in the negotiated media type. */
export function bodyErrors(err: unknown, req: Request, res: Response, next: NextFunction): void {
  const parseError = err as { type?: string; status?: number };
  if (res.headersSent || typeof parseError?.status !== 'number' || parseError.status >= 500) return next(err);
  const status = parseError.status === 413 || parseError.status === 415 ? parseError.status : 400;
  const message =
    status === 413
      ? 'The body is too large'
      : status === 415
        ? 'The body must be UTF-8 JSON'
        : 'The body is not valid JSON: send {"query": "...", "variables": {...}}';
  const type = req.headers.accept === MediaType.json ? MediaType.json : MediaType.graphqlResponse;
  res.status(status).setHeader('content-type', `${type}; charset=utf-8`);
  res.end(JSON.stringify({ errors: [{ message, extensions: { code: ErrorCode.BAD_REQUEST } }] }));
}
