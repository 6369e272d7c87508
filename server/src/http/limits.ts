import {
  BREAK,
  getNullableType,
  GraphQLError,
  isListType,
  Kind,
  visit,
  type ArgumentNode,
  type ASTNode,
  type DocumentNode,
  type GraphQLSchema,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import { ErrorCode } from '../errors.js';

/** Limits on what one operation may ask for; the same over HTTP and WebSocket. */
export const OperationLimits = {
  /** Longest document accepted, in characters. */
  maxDocumentLength: 20_000,
  /** Deepest nesting of fields (fragments followed). */
  maxDepth: 10,
  /** Most aliases in one document: many aliases of one costly field are a cheap way to multiply work. */
  maxAliases: 30,
} as const;

function tooMuch(message: string, node?: ASTNode): GraphQLError {
  return new GraphQLError(message, {
    nodes: node ? [node] : undefined,
    extensions: { code: ErrorCode.GRAPHQL_VALIDATION_FAILED },
  });
}

/** Refuses documents nested deeper than `maxDepth`, following fragment spreads (cycles are another rule's job). */
export function depthLimit(maxDepth: number = OperationLimits.maxDepth): ValidationRule {
  return (context: ValidationContext) => {
    const fragments = new Map(
      context
        .getDocument()
        .definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d]] : [])),
    );
    const depthOf = (node: ASTNode, depth: number, seen: Set<string>): number => {
      if (node.kind === Kind.FIELD) {
        // Introspection (`__schema`, `__type`) reads the schema, not the data: GraphiQL's and Apollo Sandbox's own
        // introspection query nests 15 levels, and refusing it left them without a schema. graphql-js bounds nested
        // introspection itself (MaxIntrospectionDepthRule, part of specifiedRules since 16.9).
        if (!node.selectionSet || node.name.value.startsWith('__')) return depth;
        return Math.max(depth, ...node.selectionSet.selections.map((s) => depthOf(s, depth + 1, seen)));
      }
      if (node.kind === Kind.INLINE_FRAGMENT) {
        return Math.max(depth, ...node.selectionSet.selections.map((s) => depthOf(s, depth, seen)));
      }
      if (node.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(node.name.value);
        if (!fragment || seen.has(node.name.value)) return depth;
        const next = new Set(seen).add(node.name.value);
        return Math.max(depth, ...fragment.selectionSet.selections.map((s) => depthOf(s, depth, next)));
      }
      return depth;
    };
    return {
      OperationDefinition(operation) {
        const depth = Math.max(0, ...operation.selectionSet.selections.map((s) => depthOf(s, 1, new Set())));
        if (depth > maxDepth)
          context.reportError(
            tooMuch(`The operation is nested ${depth} levels deep; at most ${maxDepth} are allowed`, operation),
          );
      },
    };
  };
}

export function aliasLimit(maxAliases: number = OperationLimits.maxAliases): ValidationRule {
  return (context: ValidationContext) => {
    let aliases = 0;
    return {
      Field(field) {
        if (field.alias && ++aliases === maxAliases + 1) {
          context.reportError(tooMuch(`The document uses more than ${maxAliases} aliases`, field));
        }
      },
    };
  };
}

export const validationRules: ValidationRule[] = [depthLimit(), aliasLimit()];

/**
 * Most work one operation may ask for, estimated before it runs: each field costs 1 plus what it selects, and a list
 * multiplies what it selects by its page size (`first`/`last`, else 10). Depth alone does not bound work: ten levels
 * alternating `Appointment.patient` and `Patient.appointments` grow exponentially while staying shallow enough.
 */
export const MAX_COMPLEXITY = 20_000;
const DEFAULT_LIST_SIZE = 10;

const listAwareEstimator: ComplexityEstimator = ({ field, args, childComplexity }) => {
  // Introspection reads the schema, whose size is ours, not the caller's (see depthLimit): the standard introspection
  // query alone would be estimated at ~50,000.
  if (field.name.startsWith('__')) return 0;
  if (!isListType(getNullableType(field.type))) return 1 + childComplexity;
  const size = [args.first, args.last].find((n): n is number => typeof n === 'number' && n > 0) ?? DEFAULT_LIST_SIZE;
  return 1 + size * childComplexity;
};

/**
 * Whether a variable can change what the estimator counts: one given as a page size (`first`, `last`: Ints) or to
 * `@include`/`@skip` (a Boolean). Other variables (a mutation's `input`, an id) leave the cost as the document has it.
 */
function costReadsVariables(document: DocumentNode): boolean {
  const isVariable = (arg: ArgumentNode) => arg.value.kind === Kind.VARIABLE;
  let reads = false;
  visit(document, {
    Field(node) {
      if (!node.arguments?.some((a) => (a.name.value === 'first' || a.name.value === 'last') && isVariable(a)))
        return undefined;
      reads = true;
      return BREAK;
    },
    Directive(node) {
      if (!(node.name.value === 'include' || node.name.value === 'skip') || !node.arguments?.some(isVariable))
        return undefined;
      reads = true;
      return BREAK;
    },
  });
  return reads;
}

/**
 * The cost of each operation of a parsed document whose cost no variable changes, by operation name: estimated once
 * per document, not per request (both transports keep one DocumentNode per distinct document: Apollo's document
 * store, operation.ts's cache). `null`: its variables can change it, so it is estimated every time.
 */
const fixedCosts = new WeakMap<DocumentNode, Map<string, number> | null>();

function costOf(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | undefined,
  operationName: string | null | undefined,
): number {
  const estimate = () =>
    getComplexity({
      schema,
      query: document,
      variables: variables ?? {},
      operationName: operationName ?? undefined,
      estimators: [listAwareEstimator],
    });
  let costs = fixedCosts.get(document);
  if (costs === undefined) fixedCosts.set(document, (costs = costReadsVariables(document) ? null : new Map()));
  if (costs === null) return estimate();
  const key = operationName ?? '';
  let cost = costs.get(key);
  if (cost === undefined) costs.set(key, (cost = estimate()));
  return cost;
}

/**
 * Throws a GRAPHQL_VALIDATION_FAILED error when an operation would cost more than allowed. HTTP and WebSocket alike.
 */
export function assertComplexity(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | undefined,
  operationName?: string | null,
): void {
  let cost: number;
  try {
    cost = costOf(schema, document, variables, operationName);
  } catch {
    // Variables that do not fit the operation are reported by execution, with their own code.
    return;
  }
  if (cost > MAX_COMPLEXITY) {
    throw new GraphQLError(
      `The operation would cost ${cost}; at most ${MAX_COMPLEXITY} is allowed. Ask for smaller pages or fewer nested lists.`,
      {
        extensions: { code: ErrorCode.GRAPHQL_VALIDATION_FAILED, reason: 'TOO_COMPLEX', cost, maxCost: MAX_COMPLEXITY },
      },
    );
  }
}
