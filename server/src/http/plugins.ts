import { performance } from 'node:perf_hooks';
import { HeaderMap, type ApolloServerPlugin } from '@apollo/server';
import { GraphQLError } from 'graphql';
import type { Context } from '../context.js';
import { auditOperation } from '../domains/patients/accessAudit.js';
import { auditUnavailable, ErrorCode } from '../errors.js';
import { assertComplexity } from './limits.js';
import { logOperation } from './debugLog.js';
import { accessRulesOf, forClient, operationFields, operationLabels } from './operation.js';

/**
 * Subscriptions are served over WebSocket only. Over plain HTTP, Apollo would run them as a query-like request and
 * answer with a silent null or an opaque error, so refuse them up front and say where to go.
 */
export function subscriptionsNeedWebSocket(): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, request }) {
          if (operation?.operation !== 'subscription') return;
          const url = request.http?.headers.get('host');
          throw new GraphQLError(
            `Subscriptions are served over WebSocket, not HTTP: connect with the graphql-transport-ws protocol (for example the graphql-ws client) to ws://${url ?? 'HOST'}/graphql, or POST the operation to http://${url ?? 'HOST'}/graphql/stream with Accept: text/event-stream (Server-Sent Events)`,
            { extensions: { code: ErrorCode.BAD_REQUEST, http: { status: 400 } } },
          );
        },
      };
    },
  };
}

/** Refuses operations that would cost too much (see `assertComplexity`), once their variables are known. */
export function complexityLimit(): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, request }) {
          assertComplexity(schema, document, request.variables, request.operationName);
        },
      };
    },
  };
}

/**
 * Who may select what (the schema's `@public`, `@staffOnly` and `@requiresScope`), checked before the operation runs:
 * the same rules WebSocket and SSE apply in `prepareOperation`. Every refused field is named, in one response.
 */
export function accessControl(): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async responseForOperation({ schema, document, request, contextValue }) {
          const refused = accessRulesOf(schema).check(document, request.operationName, contextValue.viewer);
          if (refused.length === 0) return null;
          const status = refused[0].extensions.code === ErrorCode.UNAUTHENTICATED ? 401 : 403;
          return {
            http: { status, headers: new HeaderMap() },
            body: { kind: 'single', singleResult: { errors: forClient(refused, contextValue.requestId) } },
          };
        },
      };
    },
  };
}

/**
 * A staff member's query or mutation over HTTP is activity: their session's idle clock starts again
 * (`SESSION_IDLE_TIMEOUT`; heartbeats such as `renewToken` do not count, see `isUserActivity`). Noted once the
 * operation is known and allowed; the token was checked at the door, so an idle session never gets this far.
 */
export function sessionActivity(): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async executionDidStart({ document, request, contextValue }) {
          if (contextValue.viewer)
            contextValue.services.sessions.recordActivity(contextValue.viewer, document, request.operationName);
        },
      };
    },
  };
}

/**
 * Every operation Apollo answers over HTTP, in the operation metrics (metrics.ts): its type, root field, outcome (the
 * first error's code) and duration, from the start of Apollo's request pipeline to the response. Those refused at the
 * door, before Apollo has a request (a bad token, a rate), are counted by the context function in app.ts.
 */
export function operationMetrics(): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      const startedAt = performance.now();
      return {
        async willSendResponse({ schema, document, request, response, contextValue }) {
          const errors = response.body.kind === 'single' ? response.body.singleResult.errors : undefined;
          contextValue.services.metrics.operation(
            'http',
            operationLabels(schema, document, request.operationName),
            startedAt,
            errors?.length ? (errors[0].extensions?.code ?? ErrorCode.INTERNAL_SERVER_ERROR) : undefined,
            contextValue.viewer?.tenantId,
          );
        },
      };
    },
  };
}

/**
 * At `LOG_LEVEL=debug`, every operation Apollo answers over HTTP, as WebSocket and SSE log theirs (debugLog.ts): its
 * type, name and root fields, its outcome (the codes the client was sent) and duration, with the request id and the
 * caller's ids. At other levels it does nothing past one check per request.
 */
export function operationLog(): ApolloServerPlugin<Context> {
  return {
    async requestDidStart({ contextValue }) {
      if (!contextValue.services.log.isLevelEnabled('debug')) return;
      const startedAt = performance.now();
      return {
        async willSendResponse({ schema, document, request, response, contextValue }) {
          const errors = response.body.kind === 'single' ? response.body.singleResult.errors : undefined;
          const codes = (errors ?? []).map((e) => e.extensions?.code ?? ErrorCode.INTERNAL_SERVER_ERROR);
          logOperation(
            contextValue.log,
            'http',
            operationFields(schema, document, request.operationName),
            startedAt,
            codes,
          );
        },
      };
    },
  };
}

/**
 * The access audit over HTTP (docs/architecture.md, "Access audit"): the patient records an operation gave are written
 * (batched with whatever else is waiting) before its response goes out. If they cannot be, the response is not sent:
 * the client gets `SERVICE_UNAVAILABLE` (reason `AUDIT_UNAVAILABLE`, HTTP 503) instead of records nobody could
 * account for. Set after execution, so the operation metrics see the answer the client gets.
 */
export function patientAccessAudit(): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async executionDidStart(requestContext) {
          return {
            async executionDidEnd() {
              const { contextValue: ctx, response } = requestContext;
              try {
                await auditOperation(ctx);
              } catch {
                response.http.status = 503;
                response.body = {
                  kind: 'single',
                  singleResult: { errors: forClient([auditUnavailable()], ctx.requestId) },
                };
              }
            },
          };
        },
      };
    },
  };
}
