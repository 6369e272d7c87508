import {
  execute,
  getOperationAST,
  GraphQLError,
  Kind,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { LRUCache } from 'lru-cache';
import { AccessRules } from '../auth/access.js';
import type { Viewer } from '../auth/tokens.js';
import { createContext, type Context, type Services } from '../context.js';
import { auditOperation } from '../domains/patients/accessAudit.js';
import { auditUnavailable, ErrorCode } from '../errors.js';
import { UNKNOWN_OPERATION, type OperationLabels, type Transport } from '../metrics.js';
import type { Logger } from '../logger.js';
import { logOperation } from './debugLog.js';
import { formatError, logUnexpected } from './errors.js';
import { assertComplexity, OperationLimits, validationRules } from './limits.js';

/** What a client sends to run one operation, over any transport. */
export interface OperationPayload {
  query: string;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
}

export type PreparedOperation = ExecutionArgs & { contextValue: Context };

const rules = [...specifiedRules, ...validationRules];
const accessRules = new WeakMap<GraphQLSchema, AccessRules>();

/** The access rules of a schema, read once from its directives: the same object for HTTP, WebSocket and SSE. */
export function accessRulesOf(schema: GraphQLSchema): AccessRules {
  let rules = accessRules.get(schema);
  if (!rules) accessRules.set(schema, (rules = new AccessRules(schema)));
  return rules;
}

export function codedErrors(errors: readonly GraphQLError[], code: string): GraphQLError[] {
  return errors.map((e) =>
    e.extensions?.code
      ? e
      : new GraphQLError(e.message, {
          nodes: e.nodes,
          source: e.source,
          positions: e.positions,
          extensions: { ...e.extensions, code },
        }),
  );
}

/** How many distinct documents each schema keeps parsed and validated. */
const DOCUMENT_CACHE_SIZE = 1000;
const documentCaches = new WeakMap<GraphQLSchema, LRUCache<string, DocumentNode | GraphQLError[]>>();

/**
 * A document parsed and validated once per text: every subscriber that sends the same query shares one document (and
 * what is derived from it: its access needs, its delivery group's key), instead of each keeping its own tree and
 * tokens alive for as long as its subscription runs. Returns the document, or the errors that refuse it.
 */
function validDocument(schema: GraphQLSchema, query: string): DocumentNode | GraphQLError[] {
  let cache = documentCaches.get(schema);
  if (!cache) documentCaches.set(schema, (cache = new LRUCache({ max: DOCUMENT_CACHE_SIZE })));
  let known = cache.get(query);
  if (!known) {
    try {
      const document = parse(query);
      const errors = validate(schema, document, rules);
      known = errors.length > 0 ? codedErrors(errors, ErrorCode.GRAPHQL_VALIDATION_FAILED) : document;
    } catch (err) {
      known = codedErrors([err as GraphQLError], ErrorCode.GRAPHQL_PARSE_FAILED);
    }
    cache.set(query, known);
  }
  return known;
}

/**
 * What Apollo's request pipeline and our plugins do for HTTP, for the transports Apollo does not serve (WebSocket and
 * SSE): the document length limit, parsing, the same validation rules, the cost limit, and who may select what (the
 * schema's scope directives). Returns the execution arguments, with the operation's context, or the errors that
 * refuse it.
 */
export function prepareOperation(
  schema: GraphQLSchema,
  services: Services,
  viewer: Viewer | null,
  requestId: string,
  payload: OperationPayload,
  via: 'WEBSOCKET' | 'SSE',
): PreparedOperation | GraphQLError[] {
  if (payload.query.length > OperationLimits.maxDocumentLength) {
    return [
      new GraphQLError(`The document is longer than ${OperationLimits.maxDocumentLength} characters`, {
        extensions: { code: ErrorCode.BAD_REQUEST },
      }),
    ];
  }
  const document = validDocument(schema, payload.query);
  if (Array.isArray(document)) return document;
  try {
    assertComplexity(schema, document, payload.variables ?? undefined, payload.operationName);
  } catch (err) {
    return [err as GraphQLError];
  }
  const refused = accessRulesOf(schema).check(document, payload.operationName, viewer);
  if (refused.length > 0) return refused;
  return {
    schema,
    document,
    operationName: payload.operationName,
    variableValues: payload.variables,
    contextValue: createContext(services, viewer, requestId, via),
  };
}

/**
 * graphql-js reports variable-coercion failures as errors without a path (their original error, if any, is the
 * scalar's own GraphQLError); resolver errors carry a path and what the resolver threw. Give the former their
 * client-facing code before the masking step sees them, or they would be masked as internal errors.
 */
export function withRequestErrorCodes(result: ExecutionResult): ExecutionResult {
  if (!result.errors) return result;
  const isRequestError = (e: GraphQLError) => !e.path && (!e.originalError || e.originalError instanceof GraphQLError);
  return {
    ...result,
    errors: result.errors.map((e) =>
      e.extensions?.code || !isRequestError(e) ? e : codedErrors([e], ErrorCode.BAD_USER_INPUT)[0],
    ),
  };
}

/**
 * A result with errors as a WebSocket or SSE client gets it (graphql-ws and graphql-sse do not run Apollo's plugins):
 * request errors coded, unexpected ones logged with the operation's request id and masked.
 */
export function maskedResult(result: ExecutionResult, { log, requestId }: Context): ExecutionResult {
  const coded = withRequestErrorCodes(result);
  logUnexpected(coded.errors ?? [], log);
  return { ...coded, errors: forClient(coded.errors ?? [], requestId) } as unknown as ExecutionResult;
}

/**
 * Masks errors as over HTTP, and gives the masked ones the request id of their log line, as HTTP does (there,
 * unexpectedErrorLogging in errors.ts): a client reporting "Internal server error" can then be found in the logs.
 * Transport hints (`extensions.http`) stay on the server.
 */
export function forClient(errors: readonly GraphQLError[], requestId: string): GraphQLFormattedError[] {
  return errors.map((e) => {
    const { http: _http, ...extensions } = (e.extensions ?? {}) as Record<string, unknown>;
    const formatted = formatError({ ...e.toJSON(), extensions }, e);
    if (formatted.extensions?.code !== ErrorCode.INTERNAL_SERVER_ERROR) return formatted;
    return { ...formatted, extensions: { ...formatted.extensions, requestId } };
  });
}

/** Meta fields a root may select besides the schema's own. */
const META_FIELDS = new Set(['__schema', '__type']);
const labelsOf = new WeakMap<DocumentNode, Map<string, OperationLabels>>();

/**
 * An operation's labels in the operation metrics (metrics.ts): its type and the root field it selects, looked up in
 * the schema, so a label is always one of the schema's names whatever the client sent (an operation name, or a
 * document that does not validate, is not). Several root fields give `several` rather than a list, whose combinations
 * a client could multiply. Computed once per document and operation name (documents are shared, `validDocument`).
 */
export function operationLabels(
  schema: GraphQLSchema,
  document: DocumentNode | undefined | null,
  operationName: string | null | undefined,
): OperationLabels {
  if (!document) return UNKNOWN_OPERATION;
  let byName = labelsOf.get(document);
  if (!byName) labelsOf.set(document, (byName = new Map()));
  let labels = byName.get(operationName ?? '');
  if (!labels) {
    labels = labelsFor(schema, document, getOperationAST(document, operationName));
    byName.set(operationName ?? '', labels);
  }
  return labels;
}

function labelsFor(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode | null | undefined,
): OperationLabels {
  if (!operation) return UNKNOWN_OPERATION;
  const root = schema.getRootType(operation.operation);
  const known = root?.getFields() ?? {};
  const fields = new Set<string>();
  const fragments = new Map<string, SelectionSetNode>();
  for (const d of document.definitions)
    if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d.selectionSet);
  const seen = new Set<string>();
  const visit = (set: SelectionSetNode) => {
    for (const s of set.selections) {
      if (s.kind === Kind.FIELD) {
        const name = s.name.value;
        if (name !== '__typename') fields.add(Object.hasOwn(known, name) || META_FIELDS.has(name) ? name : '');
      } else if (s.kind === Kind.INLINE_FRAGMENT) visit(s.selectionSet);
      else if (!seen.has(s.name.value)) {
        seen.add(s.name.value);
        const fragment = fragments.get(s.name.value);
        if (fragment) visit(fragment);
      }
    }
  };
  visit(operation.selectionSet);
  const field = fields.size === 1 ? [...fields][0] : fields.size > 1 ? 'several' : '';
  return { type: operation.operation, field, fields: [...fields].filter(Boolean) };
}

/**
 * What a debug line says of an operation (debugLog.ts): its type, the root fields it selects, and the name its document
 * gives it: a GraphQL name as the document spells it, not the request's `operationName`, which can be any string.
 */
export function operationFields(
  schema: GraphQLSchema,
  document: DocumentNode | undefined | null,
  operationName: string | null | undefined,
): Record<string, unknown> {
  const { type, fields = [] } = operationLabels(schema, document, operationName);
  const name = document ? getOperationAST(document, operationName)?.name?.value : undefined;
  return { type, ...(name ? { operationName: name } : {}), fields };
}

/** The code a client is sent for the first of these errors: request errors coded, anything else masked as internal. */
function codeOf(errors: readonly GraphQLError[]): unknown {
  return codesOf(errors.slice(0, 1))[0];
}

/** The codes a client is sent for these errors, in order. */
export function codesOf(errors: readonly GraphQLError[]): unknown[] {
  return withRequestErrorCodes({ errors }).errors!.map((e) => e.extensions?.code ?? ErrorCode.INTERNAL_SERVER_ERROR);
}

/**
 * An operation over WebSocket or SSE has its result, in the operation metrics: a query or mutation when executed, a
 * subscription when live (a stream) or refused by its resolver (a result with errors). `startedAt`: when the transport
 * took it (`performance.now()`).
 */
export function observeOperation(
  transport: Transport,
  args: ExecutionArgs,
  startedAt: number,
  // graphql-ws and graphql-sse type it as possibly a promise; both have awaited it when they call their hook.
  result: object,
): void {
  const context = args.contextValue as Context;
  const { services } = context;
  const errors = Symbol.asyncIterator in result ? undefined : (result as ExecutionResult).errors;
  services.metrics.operation(
    transport,
    operationLabels(args.schema, args.document, args.operationName),
    startedAt,
    errors?.length ? codeOf(errors) : undefined,
    context.viewer?.tenantId,
  );
  // A subscription is logged when it is live; its end, by the transport (debugLog.ts).
  if (services.log.isLevelEnabled('debug')) {
    const fields = operationFields(args.schema, args.document, args.operationName);
    // `context.log` is made when first read: only here, at debug.
    logOperation(context.log, transport, fields, startedAt, errors?.length ? codesOf(errors) : []);
  }
}

/**
 * An operation over WebSocket or SSE refused before it ran (its document, its cost, who may select what, a limit).
 * Its labels are known when its document was parsed and validated already (a peek at the cache, never a parse: a
 * flood refused for its rate must stay cheap).
 */
export function observeRefused(
  services: Services,
  transport: Transport,
  startedAt: number,
  errors: readonly GraphQLError[],
  operation?: { schema: GraphQLSchema; payload: OperationPayload },
  /** Where the debug line goes: a logger with the request's id and caller. */
  log: Logger = services.log,
  /** The caller's clinic, when the caller is known (refused after the door): counted on its dashboard. */
  tenantId?: string,
): void {
  const known = operation && documentCaches.get(operation.schema)?.peek(operation.payload.query);
  const document = known && !Array.isArray(known) ? known : undefined;
  const labels = document
    ? operationLabels(operation!.schema, document, operation!.payload.operationName)
    : UNKNOWN_OPERATION;
  services.metrics.operation(transport, labels, startedAt, errors.length ? codeOf(errors) : undefined, tenantId);
  if (log.isLevelEnabled('debug')) {
    const fields = document
      ? operationFields(operation!.schema, document, operation!.payload.operationName)
      : { type: labels.type, fields: [] };
    logOperation(log, transport, fields, startedAt, codesOf(errors));
  }
}

/**
 * Runs a query or mutation over WebSocket or SSE, then writes the access audit of the patient records it read before
 * the result goes out; if that fails, the client gets `SERVICE_UNAVAILABLE` (`AUDIT_UNAVAILABLE`) instead, as over
 * HTTP (plugins.ts, `patientAccessAudit`).
 */
export async function executeAudited(args: ExecutionArgs): Promise<ExecutionResult> {
  const result = await execute(args);
  try {
    await auditOperation(args.contextValue as Context);
  } catch {
    return { errors: [auditUnavailable()] };
  }
  return result;
}
